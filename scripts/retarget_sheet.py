"""A picture of retargeted videos: frames of retarget.py's side-by-side videos (input | output), one row each,
at the first, middle and last frame of every video given (or `--frames` fractions of its length).

    python scripts/retarget_sheet.py results/bikes_to_bigbuckbunny/bikes_as_bigbuckbunny_side_by_side.mp4 \\
        --out docs/images/retarget.png
"""
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from util import checks  # noqa: E402
from util.errors import Parser, UserError, run_cli  # noqa: E402
from util.video import read_video, video_info  # noqa: E402


def sheet(videos, fractions=(0.0, 0.5, 1.0), width=960, gap=4):
    """An (H, W, 3) uint8 picture: for each video, its frames at `fractions` of its length, each scaled to `width`
    pixels wide, stacked with `gap` white pixels between rows."""
    rows = []
    for path in videos:
        last = video_info(path).frames - 1
        wanted = sorted({round(f * last) for f in fractions})
        for t, frame in enumerate(read_video(path)):
            if t in wanted:
                image = Image.fromarray(frame)
                rows.append(np.asarray(image.resize((width, round(width * image.height / image.width)),
                                                    Image.BICUBIC)))
    spaced = [part for row in rows for part in (row, np.full((gap, width, 3), 255, np.uint8))][:-1]
    return np.concatenate(spaced)


def main(argv=None):
    parser = Parser(__file__, description=__doc__)
    parser.add_argument('videos', nargs='+', help='side-by-side videos written by retarget.py')
    parser.add_argument('--out', required=True, help='the PNG to write')
    parser.add_argument('--frames', default='0,0.5,1', help='comma-separated fractions of each video\'s length')
    parser.add_argument('--width', type=int, default=960, help='width of the picture in pixels')
    args = parser.parse_args(argv)
    for path in args.videos:
        checks.readable_file('video', path)
    checks.number('--width', args.width, 16, 8192)
    fractions = []
    for text in args.frames.split(','):
        try:
            fractions.append(checks.number('--frames', float(text), 0, 1))
        except ValueError:
            raise UserError(f'--frames {args.frames}: give comma-separated fractions from 0 to 1') from None
    checks.writable_folder('--out', os.path.dirname(os.path.abspath(args.out)))
    Image.fromarray(sheet(args.videos, fractions, args.width)).save(args.out)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    run_cli(main)
