"""retarget.py's two inputs: a video file, a folder of frames or a folder of several clips each; the frame
size to train at, the scale to translate at, and a --dataroot for --dataset_mode video that reads them
where they are."""
import dataclasses
import hashlib
import json
import math
import os

import numpy as np
from PIL import Image

from util.errors import UserError
from .base_dataset import load_image
from .video_dataset import clip_identity, find_clips

SIZES = (256, 128, 64, 32)  # unet_<size> predictors exist for these frame sizes


@dataclasses.dataclass
class Side:
    """One input (a video, a folder of frames, or a folder of several clips): its clips and their sizes."""
    path: str
    clips: list
    sizes: list  # (width, height) of each clip's frames

    @property
    def stem(self):
        base = os.path.basename(os.path.normpath(os.path.abspath(self.path)))
        return os.path.splitext(base)[0] if os.path.isfile(self.path) else base

    @property
    def frames(self):
        return sum(len(clip) for clip in self.clips)

    def identity(self):
        """A hash of every clip file's path, size and modification time."""
        return hashlib.sha1(json.dumps([clip_identity(c) for c in self.clips]).encode()).hexdigest()


def read_side(path, outputs=(), stride=1):
    """The Side of path; a missing, empty, unreadable or too short input (for triplets of frames `stride` apart)
    is a UserError naming it, and so is an input that holds one of `outputs` ((flag, folder) pairs: where the run
    writes)."""
    if not os.path.exists(path):
        raise UserError(f'{path} does not exist: give a video file, a folder of frames, or a folder of clips')
    here = os.path.realpath(path)
    for flag, folder in outputs:
        inside = os.path.realpath(folder)
        if os.path.isdir(path) and os.path.commonpath([here, inside]) == here:
            raise UserError(f'{flag} {folder} is inside the input {path}: its files would become frames of the '
                            f'input; pass {flag} with a folder outside it')
    clips = find_clips(path)
    longest = max(clips, key=len)
    if len(longest) < 2 * stride + 1:
        fix = f'or a --frame_stride below {stride}' if stride > 1 else 'or folder of frames'
        raise UserError(f'{path}: its longest clip ({longest.path}) has {len(longest)} frame(s); Recycle-GAN learns '
                        f'from 3 frames {stride} apart, {2 * stride + 1} in all: give a longer video {fix}')
    sizes = [load_image(clip.frame_paths[0]).size if clip.frame_paths else (clip.video.width, clip.video.height)
             for clip in clips]
    return Side(path, clips, sizes)


def short_name(name, other):
    """name without the leading words it shares with other: ('speaker_b', 'speaker_a') -> 'b'."""
    common = os.path.commonprefix([name, other])
    cut = max((i + 1 for i, c in enumerate(common) if c in '_-. '), default=0)
    return name[cut:] if cut < len(name) else name


def largest_size(sides, cap, requested=None):
    """The training frame size: --size, or the largest of SIZES up to `cap` and the smallest input frame side
    (never upscaling)."""
    side, path, (w, h) = min(((min(size), side.path, size) for side in sides for size in side.sizes))
    if requested:
        if requested > side:
            raise UserError(f'--size {requested}: the frames of {path} are {w}x{h}; retarget does not upscale, '
                            f'give --size {side} or less')
        return requested
    fitting = [s for s in SIZES if s <= min(cap, side)]
    if not fitting:
        raise UserError(f'the frames of {path} are {w}x{h}; Recycle-GAN\'s predictor needs at least {SIZES[-1]} px '
                        f'on the short side')
    return fitting[0]


def load_size(sides, size):
    """--loadSize for --resize_or_crop scale_width_and_crop: the width at which every clip's height is
    at least `size`, so that a size x size crop fits (the widest clip gets exactly `size` rows)."""
    widest = max(w / h for side in sides for w, h in side.sizes)
    return math.ceil(size * max(1.0, widest))


def translation_size(frame_size, width):
    """(width, height) a clip of frame_size is translated at when scaled to `width`: both sides multiples of 4
    (the ResNet generator halves them twice and doubles them back)."""
    w, h = frame_size
    return max(4, round(width / 4) * 4), max(4, round(width * h / w / 4) * 4)


def output_size(frame_size):
    """The (width, height) of a translated video: the input's own, rounded down to even numbers (H.264's 4:2:0)."""
    w, h = frame_size
    return max(2, w // 2 * 2), max(2, h // 2 * 2)


class ScaledClip:
    """A clip whose frames come scaled to `size` (width, height): test.translate_clip's input."""

    def __init__(self, clip, size):
        self.clip, self.size = clip, size
        self.name, self.path = clip.name, clip.path

    def __len__(self):
        return len(self.clip)

    def fps(self, default):
        return self.clip.fps(default)

    def frames(self):
        for frame in self.clip.frames():
            yield np.asarray(Image.fromarray(frame).resize(self.size, Image.BICUBIC))


def link_inputs(sides, folder):
    """<folder>/trainA/<input A> and trainB/<input B> as symbolic links: a --dataroot for
    --dataset_mode video that reads the inputs where they are."""
    for domain, side in zip('AB', sides):
        link = os.path.join(folder, 'train' + domain, os.path.basename(os.path.normpath(os.path.abspath(side.path))))
        os.makedirs(os.path.dirname(link), exist_ok=True)
        target = os.path.abspath(side.path)
        if os.path.islink(link) and os.readlink(link) == target:
            continue
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(target, link)
    return folder
