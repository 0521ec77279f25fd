"""Flags of train.py."""
import os

from util import checkpoint, checks, trackers
from util.errors import UserError
from .base_options import BaseOptions


class TrainOptions(BaseOptions):
    is_train = True
    positive_flags = ('--display_freq', '--update_html_freq', '--print_freq', '--save_latest_freq',
                      '--save_epoch_freq', '--lr_decay_iters')
    non_negative_flags = ('--niter', '--niter_decay', '--pool_size', '--display_single_pane_ncols')
    write_at_parse = False  # train.py writes opt.txt once the model (and a resumed state) has loaded
    output_flag = '--checkpoints_dir'

    def initialize(self, parser):
        parser = super().initialize(parser)
        add = parser.add_argument
        add('--display_freq', type=int, default=100, help='show training images every this many iterations')
        add('--display_single_pane_ncols', '--display_ncols', dest='display_single_pane_ncols', type=int, default=0,
            help='if positive, show all images in one visdom pane with this many per row')
        add('--update_html_freq', type=int, default=1000, help='save training images to the HTML page this often')
        add('--print_freq', type=int, default=100, help='print and log the losses every this many iterations')
        add('--save_latest_freq', type=int, default=2000, help='save latest_net_*.pth every this many iterations')
        add('--save_epoch_freq', type=int, default=1, help='save <epoch>_net_*.pth every this many epochs')
        add('--continue_train', action='store_true', help='continue training: load the --which_epoch networks')
        add('--epoch_count', type=int, default=None,
            help='the first epoch\'s number: 1, or with --continue_train the epoch after the saved one')
        add('--niter', '--n_epochs', dest='niter', type=int, default=100, help='epochs at the starting learning rate')
        add('--niter_decay', '--n_epochs_decay', dest='niter_decay', type=int, default=100,
            help='epochs to decay the learning rate linearly to zero')
        add('--beta1', type=float, default=0.5, help='Adam\'s beta1')
        add('--lr', type=float, default=0.0002, help='initial learning rate of Adam')
        add('--no_lsgan', action='store_true', help='vanilla GAN loss (cross entropy) instead of least squares')
        add('--lambda_A', type=float, default=10.0, help='weight of the reconstruction losses in domain A')
        add('--lambda_B', type=float, default=10.0, help='weight of the reconstruction losses in domain B')
        add('--pool_size', type=int, default=50, help='size of the buffer of generated images D learns from')
        add('--no_html', action='store_true', help='do not save training images to <checkpoints_dir>/<name>/web/')
        add('--lr_policy', default='lambda', help='learning rate schedule: lambda | step | plateau')
        add('--lr_decay_iters', type=int, default=50, help='with --lr_policy step: x0.1 every this many epochs')
        add('--identity', '--lambda_identity', dest='identity', type=float, default=0.5,
            help='weight of the identity loss, relative to lambda_A/lambda_B (0 turns it off)')
        add('--adversarial_loss_p', action='store_true',
            help='also train the predictors with an adversarial loss on their predictions')
        add('--amp', default=None, choices=['bf16', 'fp16'],
            help='mixed precision (autocast; fp16 adds a gradient scaler): faster, not the authors\' numbers')
        add('--channels_last', action='store_true', help='channels-last memory format for networks and images')
        add('--compile', nargs='?', const='default', default=None, choices=['default', 'reduce-overhead', 'max-autotune'],
            help='torch.compile the forward-and-loss regions of the step (falls back to eager if unavailable); '
                 'reduce-overhead and max-autotune also capture CUDA graphs on a GPU')
        add('--nan_policy', default='stop', choices=['stop', 'skip'],
            help='when a loss becomes inf or nan: stop (keeping the last checkpoint) or skip that step')
        trackers.add_flags(add)
        return parser

    def check(self, opt):
        super().check(opt)
        checks.number('--lr', opt.lr, 0, low_open=True)
        checks.number('--beta1', opt.beta1, 0, 1, high_open=True)
        for flag in ('--lambda_A', '--lambda_B', '--identity'):
            checks.number(flag, getattr(opt, flag[2:]), 0)
        if opt.identity > 0 and opt.input_nc != opt.output_nc:
            raise UserError(f'--identity {opt.identity} compares G_A(b) with b, which needs --input_nc {opt.input_nc} '
                            f'== --output_nc {opt.output_nc}: pass --identity 0')
        if opt.epoch_count is not None:
            checks.number('--epoch_count', opt.epoch_count, 1)
        opt.epoch_count = checkpoint.start_epoch(opt, self.options_dir(opt))
        check_epochs_left(opt, opt.epoch_count)
        trackers.check_installed(opt)

    def options_dir(self, opt):
        return os.path.join(opt.checkpoints_dir, opt.name)


def check_epochs_left(opt, epoch, start='--epoch_count'):
    """A UserError when a run that starts at `epoch` (given by `start`) has nothing to do."""
    last = opt.niter + opt.niter_decay
    if epoch > last:
        raise UserError(f'nothing to train: {start} is at epoch {epoch}, past the last epoch --niter {opt.niter} + '
                        f'--niter_decay {opt.niter_decay} = {last}; raise --niter or --niter_decay to train more')
