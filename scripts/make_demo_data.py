"""Make a small synthetic two-domain video dataset, offline and in seconds.

Both domains show the same kind of scene: a few shapes (disc, square, triangle) gliding and
bouncing over a background. Domain A renders it as a "photo" (textured, shaded, noisy, with a
flickering light); domain B as a label map (one flat colour per class, see PALETTE). The clips of
A and B are drawn independently: similar motion, never the same video, so the data are unpaired.

Written in the authors' format:
    <out>/trainA, trainB: strips of three consecutive frames side by side (3*size x size)
    <out>/testA, testB:   single frames of held-out clips
    <out>/palette.json:   class name -> RGB of domain B
and the same clips as H.264 videos at 10 frames/s (--dataset_mode video, test.py --video):
    <out>/videos/trainA/clip00.mp4, ... trainB, testA, testB

    python scripts/make_demo_data.py --out datasets/demo
"""
import json
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from util import checks  # noqa: E402
from util.errors import Parser, run_cli  # noqa: E402
from util.video import write_video  # noqa: E402

VIDEO_FPS = 10
PALETTE = {'background': (70, 70, 70), 'disc': (220, 20, 60), 'square': (0, 0, 142), 'triangle': (250, 170, 30)}
SHAPES = ('disc', 'square', 'triangle')
# the "photo" colour of each class: a base RGB in [0, 1]
PHOTO_COLOUR = {'disc': (0.85, 0.35, 0.25), 'square': (0.25, 0.45, 0.85), 'triangle': (0.9, 0.8, 0.3)}


def shape_mask(kind, cx, cy, r, xx, yy):
    """Boolean mask of a shape of size r centred at (cx, cy) on the pixel grid (xx, yy)."""
    dx, dy = xx - cx, yy - cy
    if kind == 'disc':
        return dx ** 2 + dy ** 2 <= r ** 2
    if kind == 'square':
        return (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
    # upward triangle inscribed in the circle of radius r
    return (dy <= r * 0.5) & (dy >= -r + 1.5 * np.abs(dx) * 1.0)


def clip_motion(rng, n_frames, size):
    """Shapes with positions over time: [(kind, r, [(cx, cy) per frame])], bouncing off the borders."""
    shapes = []
    for _ in range(rng.integers(2, 4)):
        kind = SHAPES[rng.integers(len(SHAPES))]
        r = rng.uniform(size / 9, size / 5)
        pos = rng.uniform(r, size - r, 2)
        vel = rng.uniform(-1, 1, 2) * size / 24
        track = []
        for _ in range(n_frames):
            track.append(tuple(pos))
            pos = pos + vel
            for i in range(2):  # bounce
                if not r <= pos[i] <= size - r:
                    vel[i] = -vel[i]
                    pos[i] = np.clip(pos[i], r, size - r)
        shapes.append((kind, r, track))
    return shapes


def render_labels(shapes, t, size):
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    image = np.empty((size, size, 3), np.uint8)
    image[:] = PALETTE['background']
    for kind, r, track in shapes:
        image[shape_mask(kind, *track[t], r, xx, yy)] = PALETTE[kind]
    return image


def render_photo(shapes, t, size, style, rng):
    """A textured, shaded, noisy rendering; `style` (fixed per clip) sets the background and light."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    u, v = xx / size, yy / size
    texture = 0.5 + 0.25 * np.sin(2 * np.pi * (style['freq'] * u + style['phase'])) \
        * np.cos(2 * np.pi * (style['freq'] * v - style['phase']))
    background = style['sky'] * (1 - v[..., None]) + style['ground'] * v[..., None]
    image = background * (0.75 + 0.5 * texture[..., None])
    for kind, r, track in shapes:
        cx, cy = track[t]
        mask = shape_mask(kind, cx, cy, r, xx, yy)
        # shading: lit from the top left; stripes give the surface a texture
        shade = 1.1 - 0.5 * np.clip(((xx - cx + r / 2) ** 2 + (yy - cy + r / 2) ** 2) / (2 * r) ** 2, 0, 1)
        stripes = 0.9 + 0.1 * np.sign(np.sin((xx + yy) / max(r / 3, 1)))
        image[mask] = (np.array(PHOTO_COLOUR[kind]) * (shade * stripes)[..., None])[mask]
    light = style['light'] * (1 + 0.08 * np.sin(t * style['flicker']))
    image = image * light + rng.normal(0, 0.03, image.shape)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def random_style(rng):
    return {'sky': rng.uniform(0.4, 0.9, 3), 'ground': rng.uniform(0.1, 0.5, 3), 'freq': rng.uniform(2, 6),
            'phase': rng.uniform(0, 1), 'light': rng.uniform(0.8, 1.1), 'flicker': rng.uniform(0.3, 1.0)}


def make_clip(rng, domain, n_frames, size):
    """A list of (size, size, 3) uint8 frames of one clip of domain 'A' (photo) or 'B' (labels)."""
    shapes = clip_motion(rng, n_frames, size)
    if domain == 'B':
        return [render_labels(shapes, t, size) for t in range(n_frames)]
    style = random_style(rng)
    return [render_photo(shapes, t, size, style, rng) for t in range(n_frames)]


def write_dataset(out, size=64, train_clips=8, test_clips=2, frames=20, seed=0, videos=False):
    """Write the dataset under `out` (with videos: also <out>/videos/<phase><domain>/clip<c>.mp4);
    returns {folder: number of files}."""
    counts = {}
    for d_index, domain in enumerate('AB'):
        # one generator per domain: A's and B's clips never share a motion
        rng = np.random.default_rng([seed, d_index])
        for phase, n_clips in (('train', train_clips), ('test', test_clips)):
            folder = os.path.join(out, phase + domain)
            os.makedirs(folder, exist_ok=True)
            n = 0
            for c in range(n_clips):
                clip = make_clip(rng, domain, frames, size)
                if videos:
                    write_video(os.path.join(out, 'videos', phase + domain, f'clip{c:02d}.mp4'), clip, VIDEO_FPS)
                if phase == 'train':
                    for t in range(frames - 2):
                        Image.fromarray(np.concatenate(clip[t:t + 3], 1)).save(
                            os.path.join(folder, f'clip{c:02d}_{t:04d}.png'))
                        n += 1
                else:
                    for t, frame in enumerate(clip):
                        Image.fromarray(frame).save(os.path.join(folder, f'clip{c:02d}_{t:04d}.png'))
                        n += 1
            counts[phase + domain] = n
            if videos:
                counts[f'videos/{phase}{domain}'] = n_clips
    with open(os.path.join(out, 'palette.json'), 'w') as f:
        json.dump(PALETTE, f, indent=1)
    return counts


def main(argv=None):
    parser = Parser(__file__, description=__doc__)
    parser.add_argument('--out', default='datasets/demo', help='output folder')
    parser.add_argument('--size', type=int, default=64, help='frame side in pixels')
    parser.add_argument('--train_clips', type=int, default=8, help='training clips per domain')
    parser.add_argument('--test_clips', type=int, default=2, help='test clips per domain')
    parser.add_argument('--frames', type=int, default=20, help='frames per clip')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no_videos', action='store_true', help='do not write the clips as mp4 videos')
    args = parser.parse_args(argv)
    checks.writable_folder('--out', args.out)
    checks.number('--size', args.size, 16, 4096)
    checks.number('--train_clips', args.train_clips, 1)
    checks.number('--test_clips', args.test_clips, 0)
    checks.number('--frames', args.frames, 3)  # a training example is a triplet
    checks.number('--seed', args.seed, 0)
    counts = write_dataset(args.out, args.size, args.train_clips, args.test_clips, args.frames, args.seed,
                           videos=not args.no_videos)
    print(f'wrote {args.out}: ' + ', '.join(f'{k} {v}' for k, v in counts.items()))


if __name__ == '__main__':
    run_cli(main)
