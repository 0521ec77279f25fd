"""Flags of test.py."""
import os

from .base_options import BaseOptions


class TestOptions(BaseOptions):
    is_train = False

    def initialize(self, parser):
        parser = super().initialize(parser)
        add = parser.add_argument
        add('--ntest', type=int, default=float('inf'), help='# of test examples (kept for the authors\' scripts)')
        add('--results_dir', default='./results/', help='results are saved here')
        add('--aspect_ratio', type=float, default=1.0, help='width/height ratio of the saved result images')
        add('--how_many', '--num_test', dest='how_many', type=int, default=50, help='translate this many frames')
        add('--eval', action='store_true', help='put the networks in eval mode (dropout off, BatchNorm statistics)')
        return parser

    def options_dir(self, opt):
        # not the checkpoint folder: that opt.txt records how the networks were trained
        return result_dir(opt)


def result_dir(opt):
    """<results_dir>/<name>/<phase>_<which_epoch>: test.py's page, its images and its opt.txt."""
    return os.path.join(opt.results_dir, opt.name, f'{opt.phase}_{opt.which_epoch}')
