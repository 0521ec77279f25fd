"""Two videos in, the first one retargeted into the style of the second out: Recycle-GAN with the
authors' settings, trained within a time budget, in one command.

    python retarget.py speaker_a.mp4 speaker_b.mp4 --minutes 60   # -> results/speaker_a_to_b/speaker_a_as_b.mp4

Inputs are videos, folders of frames, or folders of several clips (as --dataset_mode video reads
them). --minutes M times a few steps, then plans the iterations (epochs and learning-rate decay
included) so that the whole job (decoding, training, translating) takes about M minutes;
--iterations N trains N iterations instead. Other flags go to train.py (e.g. --ngf 32, --model
reCycle_gan, --seed 0). Running the same command again resumes an interrupted run, or only
translates a finished one. Writes <checkpoints_dir>/<name>/ (as train.py does, plus retarget.json
and retarget_log.txt) and <results_dir>/<name>/: <a>_as_<b>.mp4, <a>_as_<b>_side_by_side.mp4
(input | output), with --both <b>_as_<a>.mp4 too, and index.html.
"""
import time

START = time.perf_counter()  # the budget counts from the command's start, imports included

import argparse  # noqa: E402
import sys  # noqa: E402

from util.errors import UserError, run_cli  # noqa: E402


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2, as every other bad input
        raise UserError(f'{message} (python retarget.py --help)')


def parse(argv):
    parser = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add('a', help='the video to retarget: a video file, a folder of frames, or a folder of clips')
    add('b', help='the video whose style it takes: the same kinds')
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument('--minutes', type=float, help='time for the whole job on this machine')
    budget.add_argument('--iterations', type=int, help='train this many iterations (instead of --minutes)')
    add('--name', default='', help='name of the run (default: from the inputs\' names, e.g. speaker_a_to_b)')
    add('--both', action='store_true', help='also translate the second input into the first one\'s style')
    add('--size', type=int, default=0,
        help='training frame size (default: 256 on a GPU, 64 on a CPU, at most the inputs\' short side)')
    add('--amp', default='auto', choices=['auto', 'off', 'bf16', 'fp16'],
        help='mixed precision: auto times fp32 and the device\'s mixed precision and takes the faster')
    add('--epochs', type=int, default=0, help='number of epochs (default: chosen with the plan)')
    add('--fps', type=float, default=30.0, help='frame rate of the output for a folder of frames')
    add('--checkpoints_dir', default='./checkpoints', help='the run is kept in <checkpoints_dir>/<name>')
    add('--results_dir', default='./results', help='the videos go to <results_dir>/<name>')
    add('--restart', action='store_true', help='train afresh, replacing a run of the same --name')
    add('--plan_only', action='store_true', help='decode, time and print the plan, then stop')
    args, passthrough = parser.parse_known_args(argv)
    if args.minutes is not None and args.minutes <= 0:
        parser.error(f'--minutes {args.minutes:g}: give a positive number of minutes')
    if args.iterations is not None and args.iterations < 1:
        parser.error(f'--iterations {args.iterations}: give 1 or more')
    if args.size and args.size < 32:
        parser.error(f'--size {args.size}: give 32 or more')
    return args, passthrough


def main(argv=None):
    from util import retarget  # after parsing: --help needs no torch
    args, passthrough = parse(sys.argv[1:] if argv is None else argv)
    try:
        return retarget.run(args, passthrough, START)
    except KeyboardInterrupt:  # before or after training (train.py handles its own Ctrl-C)
        print('interrupted: run the same command again to go on', file=sys.stderr)
        sys.exit(130)


if __name__ == '__main__':
    run_cli(main)
