"""Train Recycle-GAN (--model recycle_gan), ReCycle-GAN (reCycle_gan) or CycleGAN (cycle_gan) on
two unpaired videos.

    python train.py --dataroot ./datasets/demo --name demo --model recycle_gan \
        --which_model_netG resnet_6blocks --which_model_netP unet_256 --no_dropout --pool_size 0

Writes <checkpoints_dir>/<name>/: opt.txt, loss_log.txt, latest_net_*.pth and <epoch>_net_*.pth,
latest_train_state.pth (for --continue_train) and web/index.html; shows losses and images on
visdom unless --display_id 0, and on W&B (--use_wandb) and TensorBoard (--tensorboard) when asked. Ctrl-C
(SIGINT) or SIGTERM saves the latest state and stops.
"""
import contextlib
import signal
import sys
import time

import torch
from tqdm import tqdm

from data import create_dataset
from models import create_model
from models.divergence_guard import NonFiniteLoss
from options.train_options import TrainOptions, check_epochs_left
from util import checkpoint, distributed
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

    def __exit__(self, error_type, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        if self.signum is not None and error_type is None:  # after the last step: the run is saved, still stop
            log(f'stopped by {signal.Signals(self.signum).name} after the last epoch (saved)')
            distributed.teardown()
            sys.exit(128 + self.signum)


class Quiet:
    """Stands in for the Visualizer on processes other than the first: they show and log nothing."""
    plot_data = None

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


STOP_CHECK_EVERY = 10  # under torchrun, iterations between checks for a stop request (a collective)


def crossed(total, step, freq):
    """Whether the counter passed a multiple of freq in its last step (== total % freq == 0 when step
    divides freq, as in the authors' loop; also right for a global batch that does not)."""
    return total // freq > (total - step) // freq


def main(argv=None, on_step=None):
    """Train as the command line (or argv) says. on_step(), if given, is called after every iteration
    (retarget.py: its progress bar stands in for the epoch's bar); when it returns True the epoch ends
    there, with its usual learning-rate step and save (retarget.py's deadline)."""
    options = TrainOptions()
    opt = options.parse(argv)
    distributed.setup(opt)
    if opt.seed is not None:
        seed_everything(opt.seed)
    dataset = create_dataset(opt)
    dataset_size = len(dataset.dataset)
    model = create_model(opt)
    model.setup(opt)
    visualizer = Visualizer(opt) if distributed.is_main() else Quiet()
    progress = checkpoint.resume(opt, model, dataset.sampler, visualizer, dataset_size)
    check_epochs_left(opt, progress['epoch'], 'the saved run')
    if distributed.is_main():  # only now: a run that failed to load leaves the saved run's opt.txt as it was
        options.write(opt)
    visualizer.start_trackers(progress['total_steps'])  # the step axis of W&B and TensorBoard: examples trained
    world = distributed.world_size()
    if world > 1:  # each process its own dropout masks and pool draws
        seed_everything(dataset.sampler.seed + distributed.rank() + progress['total_steps'])
        log(f'{world} processes, global batch {world} x {opt.batchSize} = {world * opt.batchSize}')
    global_batch = world * opt.batchSize
    last_epoch = opt.niter + opt.niter_decay

    # the host reads what the device computed only where it prints, shows or saves: in between it queues work
    calls, n_calls = {}, 0  # the model's iteration (its n-th optimize_parameters) -> (epoch, epoch_iter)
    loss_G_sum = torch.zeros((), device=model.device)  # --lr_policy plateau: this process's, since last folded

    def report_nonfinite():
        """Read the divergence guard: log the steps --nan_policy skip left out, or stop the run (stop)."""
        try:
            skipped = model.guard.report()
        except NonFiniteLoss as err:
            at_epoch, at_iter = calls[err.iteration]
            raise UserError(f'{err} at epoch {at_epoch}, iteration {at_iter}: training stopped; no weight changed '
                            f'since, and the last checkpoint in {model.save_dir} is from before it; lower --lr, or '
                            f'pass --nan_policy skip') from None
        if skipped:
            visualizer.log_line(f'(epoch: {epoch}, iters: {progress["examples_done"]}) skipped {skipped} step(s) '
                                f'with a non-finite loss since the last report ({model.skipped_steps} so far)')
        calls.clear()

    def fold_loss_G():
        """Add the plateau metric's device-side sum (mean over the processes) into progress."""
        if opt.lr_policy == 'plateau':
            progress['loss_G_sum'] += float(distributed.mean(loss_G_sum))
            loss_G_sum.zero_()

    def save_latest():
        report_nonfinite()
        fold_loss_G()
        if distributed.is_main():
            checkpoint.save_latest(model, progress, dataset.sampler, visualizer)

    with StopRequest() as stop, contextlib.closing(visualizer):
        for epoch in range(progress['epoch'], last_epoch + 1):
            epoch_start = time.time()
            # the authors count examples, not batches: epoch_iter, total_steps and the *_freq flags
            dataset.sampler.set_epoch(epoch, start=progress['examples_done'])
            bar = tqdm(dataset, desc=f'epoch {epoch}/{last_epoch}', unit='batch', leave=False,
                       disable=not distributed.is_main() or on_step is not None)
            iter_data_time = time.time()
            try:
                for data in bar:
                    iter_start = time.time()
                    t_data = iter_start - iter_data_time
                    progress['examples_done'] += global_batch
                    progress['total_steps'] += global_batch
                    epoch_iter, total_steps = progress['examples_done'], progress['total_steps']
                    model.set_input(data)
                    model.optimize_parameters()
                    n_calls += 1
                    calls[n_calls] = epoch, epoch_iter  # cleared whenever the guard reports
                    if opt.lr_policy == 'plateau':
                        loss_G_sum += model.loss_G.detach()
                        progress['n_steps'] += 1

                    printing = crossed(total_steps, global_batch, opt.print_freq)
                    displaying = crossed(total_steps, global_batch, opt.display_freq)
                    if printing or displaying:
                        report_nonfinite()
                    if printing:
                        losses = model.get_current_losses()
                        t_comp = (time.time() - iter_start) / opt.batchSize
                        visualizer.print_current_losses(epoch, epoch_iter, losses, t_comp, t_data)
                        visualizer.plot_current_losses(epoch, epoch_iter / dataset_size, losses)
                        visualizer.track(total_steps, losses, model.optimizers[0].param_groups[0]['lr'])
                    if displaying:  # after the plot: the page shows it
                        visualizer.display_current_results(model.get_current_visuals(), epoch, crossed(
                            total_steps, global_batch, opt.update_html_freq), total_steps)
                    if crossed(total_steps, global_batch, opt.save_latest_freq):
                        log(f'saving the latest model (epoch {epoch}, total_steps {total_steps})')
                        save_latest()
                    # one process reads its flag; several agree through a collective, so only now and then
                    if (world == 1 or printing or total_steps % (STOP_CHECK_EVERY * global_batch) == 0) and \
                            distributed.any_process(stop.signum, model.device):
                        break
                    if on_step is not None and on_step():
                        break
                    iter_data_time = time.time()
            except torch.OutOfMemoryError:
                raise UserError(f'out of GPU memory at epoch {epoch} (--batchSize {opt.batchSize}, --fineSize '
                                f'{opt.fineSize}): try a smaller --batchSize, --fineSize or --ngf, or --amp bf16'
                                ) from None
            except RuntimeError:
                if not stop.signum:  # a signal also reaches the loader's workers, which then fail the loader
                    raise
            finally:
                bar.close()
            if stop.signum or distributed.any_process(stop.signum, model.device):
                save_latest()
                signum = stop.signum or signal.SIGTERM
                log(f'stopped by {signal.Signals(signum).name}: saved the latest state (epoch {epoch}, iteration '
                    f'{progress["examples_done"]}); resume with --continue_train')
                distributed.teardown()
                sys.exit(128 + signum)

            # the schedulers step before the epoch's state is saved, so a resumed run starts the next epoch
            fold_loss_G()
            model.update_learning_rate(progress['loss_G_sum'] / max(progress['n_steps'], 1))
            progress.update(epoch=epoch + 1, examples_done=0, loss_G_sum=0.0, n_steps=0)
            save_latest()
            if epoch % opt.save_epoch_freq == 0 and distributed.is_main():
                log(f'saving the model at the end of epoch {epoch}, iters {progress["total_steps"]}')
                model.save_networks(epoch)
            log(f'End of epoch {epoch} / {last_epoch} \t Time Taken: {time.time() - epoch_start:.0f} sec')
    distributed.teardown()
    return model


if __name__ == '__main__':
    run_cli(main)
