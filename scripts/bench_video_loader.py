"""Is decoding the bottleneck? Measures, in one run on this machine, --dataset_mode video's first
decode into the frame cache, its loader's frames/s (0 and 2 workers), a loader without the cache
(decoding each triplet from the clip's keyframe), and a recycle_gan training step on the same data.

    python scripts/bench_video_loader.py [--size 256] [--clips 4] [--frames 90] [--steps 30] [--torch_threads 1]

The data are the demo clips (scripts/make_demo_data.py) written as size x size H.264 mp4s; training
uses the demo's networks at 64 px (resnet_6blocks G, unet_64 P, ngf/ndf 16, batch 1, CPU). On a
machine that other jobs keep busy, --torch_threads 1 keeps torch's threads from waiting on each other.
"""
import contextlib
import io
import itertools
import os
import random
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from data import create_dataset  # noqa: E402
from data.video_dataset import find_clips  # noqa: E402
from models import create_model  # noqa: E402
from options.train_options import TrainOptions  # noqa: E402
from scripts.make_demo_data import write_dataset  # noqa: E402
from util import checks  # noqa: E402
from util.errors import Parser, run_cli  # noqa: E402
from util.video import read_video  # noqa: E402

NETWORKS = ['--model', 'recycle_gan', '--which_model_netG', 'resnet_6blocks', '--which_model_netP', 'unet_64',
            '--ngf', '16', '--ndf', '16', '--no_dropout', '--pool_size', '0', '--gpu_ids', '-1', '--display_id', '0']


def options(root, *args):
    with contextlib.redirect_stdout(io.StringIO()):  # the printed option table
        return TrainOptions().parse(['--dataroot', os.path.join(root, 'videos'), '--dataset_mode', 'video',
                                     '--checkpoints_dir', os.path.join(root, 'ck'), *NETWORKS, *args])


def loader_frames_per_s(opt, examples):
    """Frames/s of the loader over `examples` examples (six frames each), after one warm-up batch."""
    batches = iter(create_dataset(opt))
    next(batches)
    start = time.perf_counter()
    for _ in itertools.islice(batches, examples):
        pass
    return 6 * examples / (time.perf_counter() - start)


def uncached_frames_per_s(root, examples, stride=1):
    """Frames/s of reading random triplets straight from the mp4s: open, decode from the keyframe
    before frame t (libx264 puts one every 250 frames, so here the clip's start), keep t, t+s, t+2s."""
    clips = [clip for d in 'AB' for clip in find_clips(os.path.join(root, 'videos', 'train' + d))]
    start = time.perf_counter()
    for _ in range(examples):
        for d in range(2):  # one triplet of each domain
            clip = random.choice(clips)
            t = random.randrange(len(clip) - 2 * stride)
            frames = list(itertools.islice(read_video(clip.path), t + 2 * stride + 1))
            assert len(frames[t::stride]) == 3
    return 6 * examples / (time.perf_counter() - start)


def training_step_s(opt, steps, warmup=3):
    """Mean seconds of a training step (data included), and the share spent waiting for data."""
    with contextlib.redirect_stdout(io.StringIO()):
        model = create_model(opt)
        model.setup(opt)
    batches = iter(create_dataset(opt))
    total = wait = 0.0
    for i in range(warmup + steps):
        start = time.perf_counter()
        data = next(batches)
        got = time.perf_counter()
        model.set_input(data)
        model.optimize_parameters()
        if i >= warmup:
            total, wait = total + time.perf_counter() - start, wait + got - start
    return total / steps, wait / total


def main(argv=None):
    parser = Parser(__file__, description=__doc__)
    parser.add_argument('--size', type=int, default=256, help='side of the source videos in pixels')
    parser.add_argument('--clips', type=int, default=4, help='training clips per domain')
    parser.add_argument('--frames', type=int, default=90, help='frames per clip')
    parser.add_argument('--examples', type=int, default=300, help='examples read per loader measurement')
    parser.add_argument('--steps', type=int, default=30, help='training steps timed')
    parser.add_argument('--torch_threads', type=int, default=0, help='torch.set_num_threads (0: torch\'s default)')
    args = parser.parse_args(argv)
    for flag in ('--size', '--clips', '--examples', '--steps'):
        checks.number(flag, getattr(args, flag[2:]), 1)
    checks.number('--frames', args.frames, 3)
    checks.number('--torch_threads', args.torch_threads, 0)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    random.seed(0)
    root = tempfile.mkdtemp(prefix='bench_video_')
    write_dataset(root, size=args.size, train_clips=args.clips, test_clips=1, frames=args.frames, videos=True)
    n_frames = 2 * args.clips * args.frames
    print(f'data: {root}/videos, {2 * args.clips} clips of {args.frames} frames, {args.size}x{args.size} H.264; '
          f'torch threads: {torch.get_num_threads()}; load average: {os.getloadavg()[0]:.1f}')

    for load, fine in ((64, 64), (286, 256)):
        size = ['--loadSize', str(load), '--fineSize', str(fine)]
        start = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            create_dataset(options(root, *size, '--nThreads', '0'))
        print(f'--loadSize {load} --fineSize {fine}: first decode into the frame cache '
              f'{n_frames / (time.perf_counter() - start):.0f} frames/s ({n_frames} frames)')
        for workers in (0, 2):
            with contextlib.redirect_stdout(io.StringIO()):
                fps = loader_frames_per_s(options(root, *size, '--nThreads', str(workers)), args.examples)
            print(f'  loader, --nThreads {workers}: {fps:.0f} frames/s = {fps / 6:.0f} examples/s')
    fps = uncached_frames_per_s(root, args.examples // 10)
    print(f'without the cache (decode each triplet from the keyframe): {fps:.0f} frames/s = {fps / 6:.1f} examples/s')

    with contextlib.redirect_stdout(io.StringIO()):
        step, waiting = training_step_s(options(root, '--loadSize', '64', '--fineSize', '64', '--nThreads', '2'),
                                        args.steps)
    print(f'recycle_gan training step at 64 px (ngf 16, batch 1, --nThreads 2): {step:.3f} s = '
          f'{6 / step:.0f} frames/s consumed; {100 * waiting:.1f}% of it waiting for data')


if __name__ == '__main__':
    run_cli(main)
