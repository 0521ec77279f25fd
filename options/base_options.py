"""Flags shared by train.py and test.py.

Every flag of the authors' code keeps its name and default; the spellings of the current
CycleGAN/pix2pix code are aliases of the same option (`--batch_size` sets `opt.batchSize`).
The chosen model and dataset then add their own flags and defaults.
"""
import argparse
import math
import os
import sys

import torch

import data
import models
from models import networks
from util import checks, distributed
from util.errors import Parser, UserError


MAX_SIZE = 8192  # pixels a side of a frame: one 8192 x 8192 RGB frame is 0.8 GB in float32


class BaseOptions:
    is_train = None
    positive_flags = ()  # a subclass's flags that must be >= 1 (sizes, counts, frequencies) ...
    non_negative_flags = ()  # ... and >= 0
    write_at_parse = True  # write opt.txt in parse(); train.py writes it only once the run has loaded
    output_flag = None  # the flag of the folder options_dir() is in

    def initialize(self, parser):
        add = parser.add_argument
        add('--dataroot', required=True,
            help='folder with trainA, trainB (and testA, testB); for --dataset_mode single, the folder of images')
        add('--batchSize', '--batch_size', dest='batchSize', type=int, default=1, help='input batch size')
        add('--loadSize', '--load_size', dest='loadSize', type=int, default=286, help='scale images to this size')
        add('--fineSize', '--crop_size', dest='fineSize', type=int, default=256, help='then crop to this size')
        add('--input_nc', type=int, default=3, help='channels of domain A images (1 = grayscale)')
        add('--output_nc', type=int, default=3, help='channels of domain B images (1 = grayscale)')
        add('--ngf', type=int, default=64, help='filters in the first conv layer of G (and of unet_* predictors)')
        add('--npf', type=int, default=64,
            help='filters in the first conv layer of the `prediction` predictor (the authors train it with 8)')
        add('--ndf', type=int, default=64, help='filters in the first conv layer of D')
        add('--which_model_netD', '--netD', dest='which_model_netD', default='basic',
            help=f'discriminator: {" | ".join(networks.DISCRIMINATORS)}')
        add('--which_model_netG', '--netG', dest='which_model_netG', default='resnet_9blocks',
            help=f'generator: {" | ".join(networks.GENERATORS)}')
        add('--which_model_netP', '--netP', dest='which_model_netP', default='unet_256',
            help=f'temporal predictor: {" | ".join(networks.PREDICTORS)}')
        add('--n_layers_D', type=int, default=3, help='layers of D when --which_model_netD n_layers')
        add('--gpu_ids', default='0', help='GPU ids, e.g. 0 or 0,1,2; -1 for the CPU')
        add('--name', default='experiment_name', help='name of the run: where checkpoints and results go')
        add('--dataset_mode', default='unaligned',
            help='how data are loaded: unaligned (single frames) | unaligned_triplet (the authors\' strips of '
                 'three frames) | single (one folder, for test.py)')
        add('--model', default='cycle_gan', help=' | '.join(models.model_names()))
        add('--which_direction', '--direction', dest='which_direction', default='AtoB', choices=['AtoB', 'BtoA'],
            help='AtoB or BtoA')
        add('--nThreads', '--num_threads', dest='nThreads', type=int, default=2, help='data loading workers')
        add('--checkpoints_dir', default='./checkpoints', help='models are saved here')
        add('--norm', default='instance', help=f'normalisation layers: {" | ".join(networks.NORMS)}')
        add('--serial_batches', action='store_true',
            help='take images in order to make batches, otherwise take them randomly')
        add('--display_winsize', type=int, default=256, help='display window size (visdom and HTML)')
        add('--display_id', type=int, default=1, help='visdom window id; 0 turns the dashboard off')
        add('--display_port', type=int, default=8097, help='visdom port')
        add('--display_server', default='http://localhost', help='visdom server')
        add('--display_env', default=None, help='visdom environment (default: the run\'s --name)')
        add('--no_dropout', action='store_true', help='no dropout in the generators and predictors')
        add('--max_dataset_size', type=int, default=float('inf'),
            help='load at most this many files per domain (the first ones in sorted order)')
        add('--resize_or_crop', '--preprocess', dest='resize_or_crop', default='resize_and_crop',
            choices=['resize_and_crop', 'crop', 'scale_width', 'scale_width_and_crop', 'none'],
            help='scaling and cropping of single frames at load time')
        add('--no_flip', action='store_true', help='do not flip single frames horizontally for augmentation')
        add('--init_type', default='normal', help=f'weight initialisation: {" | ".join(networks.INIT_TYPES)}')
        add('--phase', default='train' if self.is_train else 'test',
            help='train, val, test, ... (the data folders are <phase>A and <phase>B)')
        add('--which_epoch', '--epoch', dest='which_epoch', default='latest',
            help='which checkpoint to load (test.py, --continue_train): latest or an epoch number')
        add('--seed', type=int, default=None, help='seed python, numpy and torch for a reproducible run')
        add('--debug', action='store_true', help='show tracebacks instead of one-line errors')
        return parser

    def gather_options(self, argv):
        parser = Parser('train.py' if self.is_train else 'test.py',
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        parser = self.initialize(parser)
        # the model, then the dataset, declare their own flags and defaults
        opt, _ = parser.parse_known_args(argv)
        parser = models.get_option_setter(opt.model)(parser, self.is_train)
        opt, _ = parser.parse_known_args(argv)
        parser = data.get_option_setter(opt.dataset_mode)(parser, self.is_train)
        self.parser = parser
        return parser.parse_args(argv)

    def parse(self, argv=None):
        """Parse argv (default: the command line), check it and print the options (and, unless
        write_at_parse is off, write them to opt.txt: see write)."""
        opt = self.gather_options(argv)
        opt.isTrain = self.is_train
        opt.gpu_ids = self.resolve_gpu_ids(opt.gpu_ids, argv)
        if opt.display_env is None:
            opt.display_env = opt.name
        self.check(opt)
        self.check_numbers(opt)
        if distributed.is_main():  # under torchrun, the first process speaks for all
            print(self.describe(opt))
            if self.write_at_parse:
                self.write(opt)
        return opt

    @staticmethod
    def resolve_gpu_ids(text, argv):
        try:
            ids = [int(s) for s in text.split(',') if s.strip()]
        except ValueError:
            raise UserError(f'--gpu_ids {text!r}: give comma-separated GPU numbers, or -1 for the CPU') from None
        ids = [i for i in ids if i >= 0]
        if not ids:
            return []
        available = torch.cuda.device_count()
        explicit = any(a == '--gpu_ids' or a.startswith('--gpu_ids=') or a == '--gpu'
                       for a in (sys.argv[1:] if argv is None else argv))
        if available == 0 and not explicit:
            if distributed.is_main():
                print('warning: no CUDA device found, running on the CPU (pass --gpu_ids -1 to silence this)',
                      file=sys.stderr)
            return []
        missing = [i for i in ids if i >= available]
        if missing:
            raise UserError(f'--gpu_ids {text}: this machine has {available} CUDA device(s), so GPU '
                            f'{missing[0]} does not exist; use --gpu_ids -1 for the CPU')
        return ids

    def check(self, opt):
        """Fail on bad values now, before any data or network is loaded."""
        for flag, value, choices in (('--which_model_netG', opt.which_model_netG, networks.GENERATORS),
                                     ('--which_model_netP', opt.which_model_netP, networks.PREDICTORS),
                                     ('--which_model_netD', opt.which_model_netD, networks.DISCRIMINATORS),
                                     ('--norm', opt.norm, networks.NORMS),
                                     ('--init_type', opt.init_type, networks.INIT_TYPES),
                                     ('--lr_policy', getattr(opt, 'lr_policy', 'lambda'), networks.LR_POLICIES)):
            networks.check_choice(flag, value, choices)
        for flag in ('--loadSize', '--fineSize', '--display_winsize'):  # larger frames would not fit in memory
            checks.number(flag, getattr(opt, flag[2:]), 1, MAX_SIZE)
        for flag in ('--batchSize', '--ngf', '--npf', '--ndf', '--n_layers_D', '--max_dataset_size',
                     *self.positive_flags):
            if getattr(opt, flag[2:]) != math.inf:  # a limit left at its default: none
                checks.number(flag, getattr(opt, flag[2:]), 1)
        for flag in ('--nThreads', *self.non_negative_flags):
            checks.number(flag, getattr(opt, flag[2:]), 0)
        for flag in ('--input_nc', '--output_nc'):
            if getattr(opt, flag[2:]) not in (1, 3):
                raise UserError(f'{flag} {getattr(opt, flag[2:])}: images have 1 (grayscale) or 3 (RGB) channels')
        if opt.seed is not None:
            checks.number('--seed', opt.seed, 0, 2 ** 32 - 1)
        if opt.display_id > 0:
            checks.number('--display_port', opt.display_port, 1, 2 ** 16 - 1)
        parts = opt.name.replace('\\', '/').split('/')
        if not opt.name.strip() or os.path.isabs(opt.name) or any(part in ('', '.', '..') for part in parts):
            raise UserError(f'--name {opt.name!r}: give a plain name such as my_run (it names a folder under '
                            f'--checkpoints_dir, so no "..", no leading "/" and not empty)')
        if opt.resize_or_crop in ('resize_and_crop', 'scale_width_and_crop') and opt.fineSize > opt.loadSize:
            raise UserError(f'--fineSize {opt.fineSize} is larger than --loadSize {opt.loadSize}: crops are cut '
                            f'from images scaled to loadSize, so make fineSize <= loadSize')
        for flag, what in (('--dataroot', 'a folder'), ('--checkpoints_dir', 'a folder'),
                           ('--which_epoch', 'latest or an epoch number')):
            if not getattr(opt, flag[2:]).strip():
                raise UserError(f'{flag} is empty: give {what}')
        checks.writable_folder(self.output_flag, getattr(opt, self.output_flag[2:]))
        checks.writable_folder(self.output_flag, self.options_dir(opt))
        models.find_model_using_name(opt.model).check_options(opt)
        data.find_dataset_using_name(opt.dataset_mode).check_options(opt)

    def check_numbers(self, opt):
        """Every number flag, the model's and the dataset's too, is finite (a limit left at its default of infinity
        aside): after check(), which gives the ranges, so that no flag it does not cover lets a nan or inf through."""
        for action in self.parser._actions:
            value = getattr(opt, action.dest, None)
            if action.type in (int, float) and value is not None and not value == action.default == math.inf:
                checks.number(action.option_strings[0], value)

    def describe(self, opt):
        """The options as opt.txt holds them, one per line, marking values that differ from the default."""
        defaults = vars(self.parser.parse_args(['--dataroot', opt.dataroot]))
        lines = ['----------------- Options ---------------']
        for key, value in sorted(vars(opt).items()):
            note = f'\t[default: {defaults[key]}]' if key in defaults and value != defaults[key] else ''
            lines.append(f'{key:>25}: {str(value):<30}{note}')
        lines.append('----------------- End -------------------')
        return '\n'.join(lines)

    def write(self, opt):
        """Write <options_dir>/opt.txt, creating the folder."""
        folder = self.options_dir(opt)
        try:
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, 'opt.txt'), 'w') as f:
                f.write(self.describe(opt) + '\n')
        except OSError as err:
            raise cannot_write(folder, err) from None

    def options_dir(self, opt):
        raise NotImplementedError


def cannot_write(folder, err):
    return UserError(f'cannot write to {folder} ({err.strerror or err}): pick a folder you can write to '
                     f'(--checkpoints_dir, --results_dir)')


