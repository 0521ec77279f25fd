"""Make a synthetic paired video benchmark with known labels and motion, offline and in seconds.

A street scene in the spirit of VIPER: sky, a skyline of buildings and a road, seen by a camera
that pans sideways, with cars, people and balls moving over it. Domain A renders it as a "photo"
(texture, shading, noise, lighting) in one weather style per clip: day, sunset, rain, snow, night;
domain B as a label map (one flat colour per class, PALETTE). Every object moves by whole pixels,
so the motion of every pixel is known exactly.

    <out>/trainA/<style>_c<clip>_<t>.png  photo clips, strips of frames t, t+1, t+2 (3*size x size)
    <out>/trainB/labels_c<clip>_<t>.png   label clips of other scenes (unpaired with trainA)
    <out>/frames/trainA, frames/trainB    the middle frame of every strip, for single-frame models
                                          (cycle_gan: --dataroot <out>/frames --dataset_mode unaligned)
    <out>/testA/<style>/<style>_c<clip>_<t>.png  photo frames of held-out clips
    <out>/testB/<style>/...               their label maps: the ground truth, with the same names
    <out>/motion/<style>/<style>_c<clip>.npz     flow (T-1, H, W, 2) int16 and valid (T-1, H, W) bool:
                                          pixel p of frame t+1 shows what frame t showed at p + flow,
                                          valid where that point is visible in both frames
    <out>/palette.json, benchmark.json    class colours; the parameters that made the data
    <out>/clips/trainA/<clip>/<clip>_<t>.png  (--clips) every photo clip, train and test, a folder of frames
    <out>/clips/trainB/<clip>/<clip>_<t>.png  each: retarget.py's input A and B, a --dataset_mode video
                                          --dataroot; the test clips' labels stay in testB for scoring

    python scripts/make_benchmark.py --out datasets/benchmark
"""
import json
import os
import sys
from dataclasses import dataclass

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from util import checks  # noqa: E402
from util.errors import Parser, UserError, run_cli  # noqa: E402

PALETTE = {'sky': (70, 130, 180), 'building': (70, 70, 70), 'road': (128, 64, 128),
           'car': (0, 0, 142), 'person': (220, 20, 60), 'ball': (250, 170, 30)}
CLASSES = list(PALETTE)
OBJECTS = ('car', 'person', 'ball')
SKY, BUILDING, ROAD = range(3)

# the light of each style: sky colour at the top and at the horizon, light level, colour tint,
# sensor noise (standard deviation, in [0, 1] intensity) and flicker (relative amplitude)
STYLES = {
    'day': dict(sky=((0.35, 0.55, 0.9), (0.75, 0.85, 0.95)), light=1.0, tint=(1.0, 1.0, 1.0), noise=0.02,
                flicker=0.02),
    'sunset': dict(sky=((0.3, 0.2, 0.45), (1.0, 0.55, 0.25)), light=0.8, tint=(1.15, 0.85, 0.65), noise=0.03,
                   flicker=0.03),
    'rain': dict(sky=((0.42, 0.44, 0.48), (0.62, 0.64, 0.66)), light=0.65, tint=(0.9, 0.95, 1.0), noise=0.04,
                 flicker=0.05),
    'snow': dict(sky=((0.72, 0.75, 0.8), (0.9, 0.9, 0.92)), light=0.95, tint=(0.95, 0.98, 1.05), noise=0.03,
                 flicker=0.03),
    'night': dict(sky=((0.01, 0.01, 0.05), (0.07, 0.07, 0.14)), light=0.45, tint=(0.75, 0.8, 1.1), noise=0.05,
                  flicker=0.05),
}
ALBEDO = {'building': (0.55, 0.5, 0.45), 'road': (0.3, 0.3, 0.32), 'car': (0.2, 0.35, 0.75),
          'person': (0.75, 0.3, 0.25), 'ball': (0.95, 0.75, 0.15)}


@dataclass
class MovingObject:
    kind: str
    half: tuple  # (half height, half width) in pixels
    track: np.ndarray  # (T, 2) integer centre (y, x) per frame
    albedo: np.ndarray  # (3,) base colour in [0, 1]

    def mask(self, t, yy, xx):
        dy, dx = yy - self.track[t, 0], xx - self.track[t, 1]
        hy, hx = self.half
        if self.kind == 'car':
            return (np.abs(dy) <= hy) & (np.abs(dx) <= hx)
        return (dy / hy) ** 2 + (dx / hx) ** 2 <= 1  # person: a tall ellipse; ball: a disc


@dataclass
class Scene:
    """Everything that stays fixed during a clip. World column = screen column + pan * t."""
    size: int
    frames: int
    pan: int  # camera motion, pixels per frame
    horizon: int  # first road row
    x0: int  # world column of skyline[0]
    skyline: np.ndarray  # first building row per world column (horizon: no building)
    building_id: np.ndarray  # which building covers each world column
    building_colour: np.ndarray  # (n buildings, 3)
    texture: np.ndarray  # (size, world width) noise in [0, 1] painted on the world
    patches: np.ndarray  # the same, smooth: blobs about size / 8 across
    objects: list


def bouncing_track(rng, n_frames, low, high, speed):
    """(T, 2) integer positions moving at an integer velocity, bouncing inside [low, high] per axis."""
    pos = np.array([rng.integers(lo, hi + 1) for lo, hi in zip(low, high)])
    vel = np.array([rng.integers(-s, s + 1) for s in speed])
    if not vel.any():
        vel[1] = 1
    track = []
    for _ in range(n_frames):
        track.append(pos.copy())
        pos = pos + vel
        out = (pos < low) | (pos > high)
        vel[out] = -vel[out]
        pos = np.clip(pos, low, high)
    return np.array(track)


def make_scene(rng, n_frames, size):
    pan = int(rng.integers(-1, 2))
    horizon = int(size * rng.uniform(0.4, 0.55))
    shift = pan * (n_frames - 1)
    x0, width = min(0, shift), size + abs(shift)
    skyline = np.full(width, horizon)
    building_id = np.zeros(width, int)
    x, n = 0, 0
    while x < width:  # buildings of random widths and heights, with gaps
        w = int(rng.integers(size // 10, size // 4 + 1))
        if rng.random() < 0.8:
            skyline[x:x + w] = int(rng.integers(size // 12, horizon - size // 10))
        building_id[x:x + w] = n
        x, n = x + w, n + 1
    building_colour = np.clip(np.array(ALBEDO['building']) * rng.uniform(0.6, 1.3, (n, 1)), 0, 1)
    texture = rng.random((size, width))
    coarse = Image.fromarray(rng.random((size // 8 + 1, width // 8 + 1)).astype(np.float32))
    patches = np.array(coarse.resize((width, size), Image.BILINEAR))
    objects = []
    for _ in range(int(rng.integers(2, 5))):
        kind = OBJECTS[rng.integers(len(OBJECTS))]
        if kind == 'car':
            hy = int(rng.integers(size // 16, size // 10 + 1))
            half, speed = (hy, 2 * hy), (1, 3)
        elif kind == 'person':
            hx = int(rng.integers(size // 32, size // 20 + 1))
            half, speed = (3 * hx, hx), (1, 2)
        else:
            r = int(rng.integers(size // 24, size // 12 + 1))
            half, speed = (r, r), (3, 3)
        # cars and people keep to the road, balls fly anywhere
        top = horizon + half[0] // 2 if kind != 'ball' else half[0]
        low, high = np.array([top, 0]), np.array([size - 1 - half[0] // 2, size - 1])
        albedo = np.clip(np.array(ALBEDO[kind]) + rng.uniform(-0.1, 0.1, 3), 0, 1)
        objects.append(MovingObject(kind, half, bouncing_track(rng, n_frames, low, high, speed), albedo))
    return Scene(size, n_frames, pan, horizon, x0, skyline, building_id, building_colour, texture, patches,
                 objects)


def grid(scene, t):
    """(rows, columns, world columns) of frame t's pixels, each (H, W)."""
    yy, xx = np.mgrid[0:scene.size, 0:scene.size]
    return yy, xx, xx + scene.pan * t - scene.x0


def layout(scene, t):
    """(class map, owner map) of frame t, both (H, W) ints: owner 0 is the background, k + 1 object k."""
    yy, xx, wx = grid(scene, t)
    classes = np.where(yy >= scene.horizon, ROAD, np.where(yy >= scene.skyline[wx], BUILDING, SKY))
    owner = np.zeros(yy.shape, int)
    for k, obj in enumerate(scene.objects):  # later objects pass in front
        mask = obj.mask(t, yy, xx)
        classes[mask] = CLASSES.index(obj.kind)
        owner[mask] = k + 1
    return classes, owner


def render_labels(scene, t):
    return np.array(list(PALETTE.values()), np.uint8)[layout(scene, t)[0]]


def render_photo(scene, t, style, rng):
    """Frame t as an (H, W, 3) uint8 "photo" in `style` (see clip_style); rng draws the noise, rain and snow."""
    classes, owner = layout(scene, t)
    image, windows = paint_world(scene, t, classes, style)
    paint_objects(image, scene, t, owner)
    image = image * style['light'] * np.array(style['tint']) * (1 + style['flicker'] * np.sin(1.7 * t))
    if style['name'] == 'night':  # lit windows, whatever the light
        yy, _, wx = grid(scene, t)
        window_id = (((yy - scene.skyline[wx]) // 6) % scene.size, wx // 5 * 5)
        image[windows & (scene.texture[window_id] > 0.5)] = (1.0, 0.85, 0.4)
    image = add_weather(image, style, t, rng)
    image = image + rng.normal(0, style['noise'], image.shape)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def paint_world(scene, t, classes, style):
    """(H, W, 3) colours in [0, 1] of a sky gradient, buildings with a grid of windows and a textured road
    with a dashed lane, all fixed to the world; and the (H, W) mask of the windows."""
    yy, _, wx = grid(scene, t)
    texture = scene.texture[yy, wx][..., None]
    top, low = (np.array(c) for c in style['sky'])
    v = np.clip(yy / max(scene.horizon, 1), 0, 1)[..., None]
    image = top * (1 - v) + low * v
    windows = (wx % 5 >= 2) & ((yy - scene.skyline[wx]) % 6 >= 3) & (classes == BUILDING)
    building = scene.building_colour[scene.building_id[wx]] * (0.85 + 0.3 * texture)
    building[windows] *= 0.45
    image = np.where((classes == BUILDING)[..., None], building, image)
    road = np.array(ALBEDO['road']) * (0.75 + 0.5 * texture)
    road[(yy == (scene.horizon + scene.size) // 2) & ((wx // 6) % 2 == 0)] = 0.85
    if style['name'] == 'snow':
        road = np.where(scene.patches[yy, wx][..., None] > 0.5, 0.88, road)
    return np.where((classes == ROAD)[..., None], road, image), windows


def paint_objects(image, scene, t, owner):
    """Paint the visible part of every object, shaded in its own coordinates so that shading and
    stripes move with it."""
    yy, xx, _ = grid(scene, t)
    for k, obj in enumerate(scene.objects):
        mask = owner == k + 1
        dy, dx = (yy - obj.track[t, 0]) / obj.half[0], (xx - obj.track[t, 1]) / obj.half[1]
        shade = 1.15 - 0.35 * np.clip((dy + 0.6) ** 2 + (dx + 0.6) ** 2, 0, 2) / 2
        if obj.kind == 'car':
            shade = shade * np.where(dy < -0.2, 0.55, 1.0)  # windows
        elif obj.kind == 'person':
            shade = shade * np.where(dy < -0.55, 1.3, 1.0)  # a lighter head
        else:
            shade = shade * (0.8 + 0.2 * np.sign(np.sin(3 * (dx + dy))))
        image[mask] = (obj.albedo * shade[..., None])[mask]


def add_weather(image, style, t, rng):
    """Rain streaks (new every frame) or snow flakes (falling steadily); neither is in the labels."""
    size = image.shape[0]
    if style['name'] == 'rain':
        n = size * size // 60
        y, x = rng.integers(0, size, n), rng.integers(0, size, n)
        for step in range(size // 12):  # slanted streaks, a pixel per step
            yi, xi = (y + step) % size, (x + step // 3) % size
            image[yi, xi] = 0.5 * image[yi, xi] + 0.4
    if style['name'] == 'snow':
        flakes = style['flakes']  # (n, 4): y, x, vy, vx drawn once per clip
        y = (flakes[:, 0] + flakes[:, 2] * t).astype(int) % size
        x = (flakes[:, 1] + flakes[:, 3] * t).astype(int) % size
        image[y, x] = 0.95
    return image


def clip_style(rng, name, size):
    """The STYLES entry `name`, with its name, a clip's jitter of the light and, for snow, the flakes."""
    style = dict(STYLES[name], name=name)
    style['light'] *= rng.uniform(0.9, 1.1)
    if name == 'snow':
        n = size * size // 50
        style['flakes'] = np.stack([rng.uniform(0, size, n), rng.uniform(0, size, n), rng.uniform(0.5, 1.5, n),
                                    rng.uniform(-0.5, 0.5, n)], 1)
    return style


def motion(scene):
    """Ground-truth motion between consecutive frames: flow (T-1, H, W, 2) int16 (dy, dx) with frame t+1
    at p showing frame t at p + flow, and valid (T-1, H, W) bool where that point is in both frames."""
    size, frames = scene.size, scene.frames
    yy, xx = np.mgrid[0:size, 0:size]
    owners = np.stack([layout(scene, t)[1] for t in range(frames)])
    # per owner and frame pair: how far its pixels moved back; the background moves with the camera
    shifts = np.zeros((frames - 1, len(scene.objects) + 1, 2), int)
    shifts[:, 0] = (0, scene.pan)
    for k, obj in enumerate(scene.objects):
        shifts[:, k + 1] = obj.track[:-1] - obj.track[1:]
    t = np.arange(frames - 1)[:, None, None]
    flow = shifts[t, owners[1:]]
    src_y, src_x = yy + flow[..., 0], xx + flow[..., 1]
    inside = (src_y >= 0) & (src_y < size) & (src_x >= 0) & (src_x < size)
    same = owners[t, np.clip(src_y, 0, size - 1), np.clip(src_x, 0, size - 1)] == owners[1:]
    return flow.astype(np.int16), inside & same


def save_frames(folder, name, frames, strips):
    """Write frames as <name>_<t>.png, or (strips) frames t, t+1, t+2 side by side for every t."""
    os.makedirs(folder, exist_ok=True)
    images = [np.concatenate(frames[t:t + 3], 1) for t in range(len(frames) - 2)] if strips else frames
    for t, image in enumerate(images):
        Image.fromarray(image).save(os.path.join(folder, f'{name}_{t:04d}.png'))
    return len(images)


def write_benchmark(out, size=64, train_clips=5, test_clips=2, frames=12, test_frames=16, seed=0,
                    styles=tuple(STYLES)):
    """Write the benchmark under `out` (which must not hold files yet); returns its parameters and file counts.

    train_clips and test_clips are per style; every clip draws from its own generator seeded by
    (seed, split, clip), so a clip does not depend on how many others there are."""
    if os.path.isdir(out) and os.listdir(out):
        raise UserError(f'{out} is not empty: give a new --out, or remove that folder first')
    params = dict(size=size, train_clips=train_clips, test_clips=test_clips, frames=frames, test_frames=test_frames,
                  seed=seed, styles=list(styles))
    counts = dict.fromkeys(['trainA', 'trainB', 'testA', 'testB'], 0)
    n_train = train_clips * len(styles)
    for c in range(n_train):
        # A: photos in every style in turn; B: label maps of other scenes (another generator)
        rng = np.random.default_rng([seed, 0, c])
        style = styles[c % len(styles)]
        scene, look = make_scene(rng, frames, size), clip_style(rng, style, size)
        photos = [render_photo(scene, t, look, rng) for t in range(frames)]
        scene_B = make_scene(np.random.default_rng([seed, 1, c]), frames, size)
        labels = [render_labels(scene_B, t) for t in range(frames)]
        for domain, name, clip in (('A', f'{style}_c{c:03d}', photos), ('B', f'labels_c{c:03d}', labels)):
            counts['train' + domain] += save_frames(os.path.join(out, 'train' + domain), name, clip, strips=True)
            save_frames(os.path.join(out, 'frames', 'train' + domain), name, clip[1:-1], strips=False)
    for s, style in enumerate(styles):
        for c in range(test_clips):
            rng = np.random.default_rng([seed, 2, s, c])
            scene = make_scene(rng, test_frames, size)
            look = clip_style(rng, style, size)
            name = f'{style}_c{c:02d}'
            counts['testA'] += save_frames(os.path.join(out, 'testA', style), name,
                                           [render_photo(scene, t, look, rng) for t in range(test_frames)], False)
            counts['testB'] += save_frames(os.path.join(out, 'testB', style), name,
                                           [render_labels(scene, t) for t in range(test_frames)], False)
            flow, valid = motion(scene)
            os.makedirs(os.path.join(out, 'motion', style), exist_ok=True)
            np.savez_compressed(os.path.join(out, 'motion', style, name + '.npz'), flow=flow, valid=valid)
    with open(os.path.join(out, 'palette.json'), 'w') as f:
        json.dump(PALETTE, f, indent=1)
    with open(os.path.join(out, 'benchmark.json'), 'w') as f:
        json.dump(dict(params, counts=counts), f, indent=1)
    return dict(params, counts=counts)


def write_clips(out):
    """Lay out the benchmark under `out` as clips, one folder of frames each: <out>/clips/trainA/<clip>/
    (the training photo clips, cut back out of their strips, and the test photo clips) and trainB/<clip>/
    (the label clips), frames named <clip>_<t>.png. Returns the clips root."""
    root = os.path.join(out, 'clips')
    strips = {}
    for domain in 'AB':
        for name in sorted(os.listdir(os.path.join(out, 'train' + domain))):
            clip, t = os.path.splitext(name)[0].rsplit('_', 1)
            strips.setdefault((domain, clip), {})[int(t)] = os.path.join(out, 'train' + domain, name)
    for (domain, clip), by_t in strips.items():
        last = max(by_t)
        frames = []
        for t in range(last + 1):  # strip t holds frames t, t+1, t+2 side by side; the last strip all three
            strip = np.asarray(Image.open(by_t[t]).convert('RGB'))
            size = strip.shape[0]
            frames += [strip[:, i * size:(i + 1) * size] for i in ((0,) if t < last else (0, 1, 2))]
        save_frames(os.path.join(root, 'train' + domain, clip), clip, frames, strips=False)
    for style in sorted(os.listdir(os.path.join(out, 'testA'))):
        for name in sorted(os.listdir(os.path.join(out, 'testA', style))):
            clip = os.path.splitext(name)[0].rsplit('_', 1)[0]
            os.makedirs(os.path.join(root, 'trainA', clip), exist_ok=True)
            link = os.path.join(root, 'trainA', clip, name)
            if not os.path.exists(link):
                os.link(os.path.join(out, 'testA', style, name), link)
    return root


def add_arguments(parser):
    """The benchmark's flags (shared with scripts/compare.py)."""
    add = parser.add_argument
    add('--size', type=int, default=64, help='frame side in pixels')
    add('--train_clips', type=int, default=5, help='training clips per style (and as many label clips)')
    add('--test_clips', type=int, default=2, help='test clips per style')
    add('--frames', type=int, default=12, help='frames per training clip')
    add('--test_frames', type=int, default=16, help='frames per test clip')
    add('--data_seed', type=int, default=0, help='seed of the benchmark')
    add('--styles', default=','.join(STYLES), help='comma-separated weather styles')
    return parser


def benchmark_params(args):
    """write_benchmark's parameters from the flags of add_arguments, once they are checked."""
    unknown = [s for s in args.styles.split(',') if s not in STYLES]
    if unknown:
        raise UserError(f'--styles {args.styles}: {unknown[0]!r} is not one of {", ".join(STYLES)}')
    checks.number('--size', args.size, 32, 4096)
    checks.number('--train_clips', args.train_clips, 1)
    checks.number('--test_clips', args.test_clips, 1)
    checks.number('--frames', args.frames, 3)  # a training example is a triplet
    checks.number('--test_frames', args.test_frames, 2)  # the temporal metrics compare frame pairs
    checks.number('--data_seed', args.data_seed, 0)
    return dict(size=args.size, train_clips=args.train_clips, test_clips=args.test_clips, frames=args.frames,
                test_frames=args.test_frames, seed=args.data_seed, styles=tuple(args.styles.split(',')))


def main(argv=None):
    parser = Parser(__file__, description=__doc__)
    parser.add_argument('--out', default='datasets/benchmark', help='output folder (must be new or empty)')
    parser.add_argument('--clips', action='store_true',
                        help='also lay out every clip as a folder of frames under <out>/clips (see above)')
    args = add_arguments(parser).parse_args(argv)
    params = benchmark_params(args)
    checks.writable_folder('--out', args.out)
    info = write_benchmark(args.out, **params)
    if args.clips:
        print(f'clips: {write_clips(args.out)}')
    print(f'wrote {args.out}: ' + ', '.join(f'{k} {v}' for k, v in info['counts'].items()))


if __name__ == '__main__':
    run_cli(main)
