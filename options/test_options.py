"""Flags of test.py."""
import os
import sys

from util import checks
from util.errors import Parser
from .base_options import BaseOptions


class TestOptions(BaseOptions):
    is_train = False
    positive_flags = ('--how_many', '--ntest')
    output_flag = '--results_dir'

    def initialize(self, parser):
        parser = super().initialize(parser)
        add = parser.add_argument
        add('--ntest', type=int, default=float('inf'), help='# of test examples (kept for the authors\' scripts)')
        add('--results_dir', default='./results/', help='results are saved here')
        add('--aspect_ratio', type=float, default=1.0, help='width/height ratio of the saved result images')
        add('--how_many', '--num_test', dest='how_many', type=int, default=50,
            help='translate this many frames (of frame folders; video clips are translated whole)')
        add('--eval', action='store_true', help='put the networks in eval mode (dropout off, BatchNorm statistics)')
        add('--video', default='',
            help='translate this video, or every clip under this folder (videos and/or folders of frames), into '
                 'mp4s; stands for --dataroot PATH --dataset_mode video')
        add('--video_domain', default='A', choices=['A', 'B'],
            help='the --video clips are of domain A (translated by G_A) or B (by G_B)')
        add('--side_by_side', action='store_true',
            help='videos: also write input | output side by side, as <clip>_real_A_fake_B.mp4')
        add('--fps', type=float, default=30.0,
            help='videos: frame rate of the mp4 of a folder of frames (a video keeps its own)')
        return parser

    def gather_options(self, argv):
        argv = list(sys.argv[1:] if argv is None else argv)
        given = Parser('test.py', add_help=False)
        given.add_argument('--video')
        given.add_argument('--dataroot')
        given, _ = given.parse_known_args(argv)
        if given.video:  # --dataroot is not needed then
            argv += ['--dataset_mode', 'video'] + ([] if given.dataroot else ['--dataroot', given.video])
        return super().gather_options(argv)

    def check(self, opt):
        super().check(opt)
        checks.number('--aspect_ratio', opt.aspect_ratio, 1e-3, 1e3)  # width / height
        checks.number('--fps', opt.fps, 1e-3, 1e4)

    def options_dir(self, opt):
        # not the checkpoint folder: that opt.txt records how the networks were trained
        return result_dir(opt)


def result_dir(opt):
    """<results_dir>/<name>/<phase>_<which_epoch>: test.py's page, its images and its opt.txt."""
    return os.path.join(opt.results_dir, opt.name, f'{opt.phase}_{opt.which_epoch}')
