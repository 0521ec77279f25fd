"""Decode videos into folders of frames, one folder per clip (a layout --dataset_mode video reads too).

    python scripts/video_to_frames.py --src videos/ --out frames/ [--size 256]

Every clip under --src (video files, and folders of frames: mp4, avi, mov, mkv, webm, png, jpg, ...)
becomes <out>/<clip>/<t>.png, t = 00000, 00001, ... Not needed for training here (train.py
--dataset_mode video reads videos directly); useful to inspect or edit frames.
"""
import os
import sys

import numpy as np
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from data.video_dataset import find_clips  # noqa: E402
from util import checks  # noqa: E402
from util.errors import Parser, run_cli  # noqa: E402


def video_arguments(script, doc):
    """A parser of the flags these scripts (`script`: its __file__) share: --src, --out, --size."""
    parser = Parser(script, description=doc)
    parser.add_argument('--src', required=True, help='a video, or a folder of videos and/or folders of frames')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--size', type=int, default=0, help='resize every frame to size x size (0: keep the size)')
    return parser


def check_video_arguments(args):
    """args, once --size and --out are checked (--src is, as its clips are found)."""
    checks.number('--size', args.size, 0, 8192)
    checks.writable_folder('--out', args.out)
    return args


def clip_frames(clip, size):
    """(t, (H, W, 3) uint8 frame) of clip, resized to size x size (bicubic) unless size is 0, with a
    progress bar."""
    for t, frame in enumerate(tqdm(clip.frames(), total=len(clip), desc=clip.name, unit='frame')):
        if size:
            frame = np.asarray(Image.fromarray(frame).resize((size, size), Image.BICUBIC))
        yield t, frame


def main(argv=None):
    args = check_video_arguments(video_arguments(__file__, __doc__).parse_args(argv))
    for clip in find_clips(args.src):
        folder = os.path.join(args.out, clip.name)
        os.makedirs(folder, exist_ok=True)
        for t, frame in clip_frames(clip, args.size):
            Image.fromarray(frame).save(os.path.join(folder, f'{t:05d}.png'))
    print(f'wrote {args.out}')


if __name__ == '__main__':
    run_cli(main)
