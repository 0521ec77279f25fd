"""Cut videos (or folders of frames) into the authors' training format: one image per triplet of
frames t, t+s, t+2s of one clip, side by side (3W x H), as their --dataset_mode unaligned_triplet reads.

    python scripts/video_to_triplets.py --src videos/trainA --out datasets/mine/trainA [--stride 1] [--size 256]

Every clip under --src (video files, and folders of frames) gives <out>/<clip>_<t>.png for every t
with t + 2s inside the clip: no triplet crosses from one clip into the next. Not needed for training
here (train.py --dataset_mode video reads videos directly); this is for feeding the authors' code.
"""
import collections
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from data.video_dataset import find_clips  # noqa: E402
from scripts.video_to_frames import check_video_arguments, clip_frames, video_arguments  # noqa: E402
from util import checks  # noqa: E402
from util.errors import run_cli  # noqa: E402


def main(argv=None):
    parser = video_arguments(__file__, __doc__)
    parser.add_argument('--stride', type=int, default=1, help='frames t, t+stride, t+2*stride form a triplet')
    args = check_video_arguments(parser.parse_args(argv))
    checks.number('--stride', args.stride, 1)
    os.makedirs(args.out, exist_ok=True)
    written = 0
    for clip in find_clips(args.src):
        window = collections.deque(maxlen=2 * args.stride + 1)  # frames t .. t + 2s
        for t, frame in clip_frames(clip, args.size):
            window.append(frame)
            if len(window) == window.maxlen:
                strip = np.concatenate([window[0], window[args.stride], window[-1]], 1)
                Image.fromarray(strip).save(os.path.join(args.out, f'{clip.name}_{t - 2 * args.stride:05d}.png'))
                written += 1
    print(f'wrote {written} triplets to {args.out}')


if __name__ == '__main__':
    run_cli(main)
