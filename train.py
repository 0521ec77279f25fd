"""Train Recycle-GAN (--model recycle_gan), ReCycle-GAN (reCycle_gan) or CycleGAN (cycle_gan) on
two unpaired videos.

    python train.py --dataroot ./datasets/demo --name demo --model recycle_gan \
        --which_model_netG resnet_6blocks --which_model_netP unet_256 --no_dropout --pool_size 0

Writes <checkpoints_dir>/<name>/: opt.txt, loss_log.txt, latest_net_*.pth and <epoch>_net_*.pth,
and web/index.html; shows losses and images on visdom unless --display_id 0.
"""
import time

from tqdm import tqdm

from data import create_dataset
from models import create_model
from options.train_options import TrainOptions
from util.errors import run_cli
from util.util import seed_everything
from util.visualizer import Visualizer, log


def main(argv=None):
    opt = TrainOptions().parse(argv)
    if opt.seed is not None:
        seed_everything(opt.seed)
    dataset = create_dataset(opt)
    dataset_size = len(dataset.dataset)
    model = create_model(opt)
    model.setup(opt)
    visualizer = Visualizer(opt)
    last_epoch = opt.niter + opt.niter_decay
    total_steps = 0

    for epoch in range(opt.epoch_count, last_epoch + 1):
        epoch_start = time.time()
        epoch_iter = 0
        loss_G_sum, n_steps = 0.0, 0  # the --lr_policy plateau metric
        iter_data_time = time.time()
        for data in tqdm(dataset, desc=f'epoch {epoch}/{last_epoch}', unit='batch', leave=False):
            iter_start = time.time()
            t_data = iter_start - iter_data_time
            # the authors count examples, not batches: the *_freq flags are in examples
            total_steps += opt.batchSize
            epoch_iter += opt.batchSize
            model.set_input(data)
            model.optimize_parameters()
            if opt.lr_policy == 'plateau':
                loss_G_sum, n_steps = loss_G_sum + model.loss_G.detach(), n_steps + 1

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
                model.save_networks('latest')
            iter_data_time = time.time()

        model.save_networks('latest')
        if epoch % opt.save_epoch_freq == 0:
            log(f'saving the model at the end of epoch {epoch}, iters {total_steps}')
            model.save_networks(epoch)
        log(f'End of epoch {epoch} / {last_epoch} \t Time Taken: {time.time() - epoch_start:.0f} sec')
        model.update_learning_rate(float(loss_G_sum / max(n_steps, 1)))
    return model


if __name__ == '__main__':
    run_cli(main)
