"""Train Recycle-GAN (--model recycle_gan), ReCycle-GAN (reCycle_gan) or CycleGAN (cycle_gan) on
two unpaired videos.

    python train.py --dataroot ./datasets/demo --name demo --model recycle_gan \
        --which_model_netG resnet_6blocks --which_model_netP unet_256 --no_dropout --pool_size 0

Writes <checkpoints_dir>/<name>/: opt.txt, loss_log.txt, latest_net_*.pth and <epoch>_net_*.pth,
latest_train_state.pth (for --continue_train) and web/index.html; shows losses and images on
visdom unless --display_id 0. Ctrl-C (SIGINT) or SIGTERM saves the latest state and stops.
"""
import signal
import sys
import time

import torch
from tqdm import tqdm

from data import create_dataset
from models import create_model
from models.base_model import NonFiniteLoss
from options.train_options import TrainOptions
from util import checkpoint
from util.errors import UserError, run_cli
from util.util import seed_everything
from util.visualizer import Visualizer, log


class StopRequest:
    """SIGINT and SIGTERM ask the loop to save and stop after the current step; a second one stops at once."""

    def __enter__(self):
        self.signum = None
        self.previous = {s: signal.signal(s, self.handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)


def main(argv=None):
    opt = TrainOptions().parse(argv)
    if opt.seed is not None:
        seed_everything(opt.seed)
    dataset = create_dataset(opt)
    dataset_size = len(dataset.dataset)
    model = create_model(opt)
    model.setup(opt)
    visualizer = Visualizer(opt)
    progress = checkpoint.resume(opt, model, dataset.sampler, visualizer)
    last_epoch = opt.niter + opt.niter_decay

    def save_latest():
        checkpoint.save_latest(model, progress, dataset.sampler, visualizer)

    with StopRequest() as stop:
        for epoch in range(progress['epoch'], last_epoch + 1):
            epoch_start = time.time()
            # the authors count examples, not batches: epoch_iter, total_steps and the *_freq flags
            dataset.sampler.set_epoch(epoch, start=progress['batches_done'] * opt.batchSize)
            bar = tqdm(dataset, desc=f'epoch {epoch}/{last_epoch}', unit='batch', leave=False)
            iter_data_time = time.time()
            try:
                for data in bar:
                    iter_start = time.time()
                    t_data = iter_start - iter_data_time
                    progress['batches_done'] += 1
                    progress['total_steps'] += opt.batchSize
                    epoch_iter, total_steps = progress['batches_done'] * opt.batchSize, progress['total_steps']
                    skipped = model.skipped_steps
                    model.set_input(data)
                    model.optimize_parameters()
                    if model.skipped_steps > skipped:  # --nan_policy skip
                        note = (f'(epoch: {epoch}, iters: {epoch_iter}) skipped a step with a non-finite loss '
                                f'({model.skipped_steps} skipped so far)')
                        log(note)
                        with open(visualizer.log_name, 'a') as f:
                            f.write(note + '\n')
                    if opt.lr_policy == 'plateau':
                        progress['loss_G_sum'] += float(model.loss_G)
                        progress['n_steps'] += 1

                    if total_steps % opt.display_freq == 0:
                        visualizer.display_current_results(model.get_current_visuals(), epoch,
                                                           total_steps % opt.update_html_freq == 0)
                    if total_steps % opt.print_freq == 0:
                        losses = model.get_current_losses()
                        t_comp = (time.time() - iter_start) / opt.batchSize
                        visualizer.print_current_losses(epoch, epoch_iter, losses, t_comp, t_data)
                        visualizer.plot_current_losses(epoch, epoch_iter / dataset_size, losses)
                    if total_steps % opt.save_latest_freq == 0:
                        log(f'saving the latest model (epoch {epoch}, total_steps {total_steps})')
                        save_latest()
                    if stop.signum:
                        break
                    iter_data_time = time.time()
            except NonFiniteLoss as err:
                raise UserError(f'{err} at epoch {epoch}, iteration {progress["batches_done"] * opt.batchSize}: '
                                f'training stopped before it changed any weight, and the last checkpoint in '
                                f'{model.save_dir} is untouched; lower --lr, or pass --nan_policy skip') from None
            except torch.OutOfMemoryError:
                raise UserError(f'out of GPU memory at epoch {epoch} (--batchSize {opt.batchSize}, --fineSize '
                                f'{opt.fineSize}): try a smaller --batchSize, --fineSize or --ngf') from None
            except RuntimeError:
                if not stop.signum:  # a signal also reaches the loader's workers, which then fail the loader
                    raise
            finally:
                bar.close()
            if stop.signum:
                save_latest()
                log(f'stopped by {signal.Signals(stop.signum).name}: saved the latest state (epoch {epoch}, '
                    f'iteration {progress["batches_done"] * opt.batchSize}); resume with --continue_train')
                sys.exit(128 + stop.signum)

            # the schedulers step before the epoch's state is saved, so a resumed run starts the next epoch
            model.update_learning_rate(progress['loss_G_sum'] / max(progress['n_steps'], 1))
            progress.update(epoch=epoch + 1, batches_done=0, loss_G_sum=0.0, n_steps=0)
            save_latest()
            if epoch % opt.save_epoch_freq == 0:
                log(f'saving the model at the end of epoch {epoch}, iters {progress["total_steps"]}')
                model.save_networks(epoch)
            log(f'End of epoch {epoch} / {last_epoch} \t Time Taken: {time.time() - epoch_start:.0f} sec')
    return model


if __name__ == '__main__':
    run_cli(main)
