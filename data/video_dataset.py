"""Unpaired frame triplets straight from videos: <dataroot>/<phase>A and <phase>B each hold video
files (mp4, avi, mov, mkv, webm) and/or folders of frames (one folder = one clip, natural order).

An example is frames (t, t+s, t+2s) of one clip of A and of one clip of B (s = --frame_stride),
never across the end of a clip, with one crop offset and one flip decision for the three frames.
Every triplet of a domain is equally likely, so a clip is drawn in proportion to its length.

Decoding is done once: each clip is decoded, scaled as --resize_or_crop says, and kept as raw
frames in the frame cache (--frame_cache); an example reads its six frames from there.
"""
import bisect
import dataclasses
import functools
import hashlib
import json
import os
import sys
from typing import NamedTuple

import numpy as np
from PIL import Image
from tqdm import tqdm

from util import checks
from util.errors import UserError
from util.util import atomic_write
from util.video import VIDEO_EXTENSIONS, is_video_file, natural_key, read_video, video_info
from .base_dataset import (CROP_MODES, IMG_EXTENSIONS, BaseDataset, example_rng, is_image_file, load_image,
                           scale_for_crop, to_tensor)


@dataclasses.dataclass
class Clip:
    """One clip: a video file, or a folder of frame images (frame_paths, in natural order)."""
    path: str
    name: str  # unique among the clips of one folder; names the results of test.py
    frame_paths: tuple = ()

    @functools.cached_property
    def video(self):
        return video_info(self.path)

    def __len__(self):
        return len(self.frame_paths) if self.frame_paths else self.video.frames

    def fps(self, default):
        """Frames per second: the video's own, or `default` for a folder of frames."""
        return default if self.frame_paths else self.video.fps

    def frames(self):
        """Iterator of (H, W, 3) uint8 RGB frames."""
        if self.frame_paths:
            return (np.asarray(load_image(path)) for path in self.frame_paths)
        return read_video(self.path)


def find_clips(source, max_clips=float('inf')):
    """The clips under source, in natural order: every video file, and every folder that holds
    frame images directly (source itself too). source may also be one video file."""
    if os.path.isfile(source) and is_video_file(source):
        return [Clip(source, os.path.splitext(os.path.basename(source))[0])]
    if not os.path.isdir(source):
        raise UserError(f'{source}: neither a folder nor a video file ({", ".join(VIDEO_EXTENSIONS)}); give a video, '
                        f'or a folder of videos and/or folders of frames')
    clips, seen = [], set()
    for folder, subfolders, names in os.walk(source, followlinks=True):
        seen.add(os.path.realpath(folder))  # a link back up the tree (or to a folder seen) is followed once only
        subfolders[:] = [d for d in subfolders if os.path.realpath(os.path.join(folder, d)) not in seen]
        names = sorted(names, key=natural_key)
        frames = tuple(os.path.join(folder, n) for n in names if is_image_file(n))
        if frames:
            clips.append(Clip(folder, clip_name(source, folder), frames))
        clips += [Clip(os.path.join(folder, n), clip_name(source, os.path.join(folder, n)))
                  for n in names if is_video_file(n)]
    if not clips:
        raise UserError(f'{source}: holds no videos ({", ".join(VIDEO_EXTENSIONS)}) and no folders of frames '
                        f'({", ".join(IMG_EXTENSIONS)})')
    clips.sort(key=lambda clip: natural_key(clip.path))
    names = [clip.name for clip in clips]
    twins = sorted({n for n in names if names.count(n) > 1})
    if twins:
        raise UserError(f'{source}: two clips are named {twins[0]!r} (a video and a folder, or two extensions); '
                        f'rename one')
    return clips[:int(min(max_clips, len(clips)))]


def clip_name(source, path):
    """The clip's path below source, without a video extension, '/' -> '_' (source's own name for itself)."""
    relative = os.path.relpath(path, source)
    if relative == '.':
        return os.path.basename(os.path.abspath(source))
    if is_video_file(relative):
        relative = os.path.splitext(relative)[0]
    return relative.replace(os.sep, '_')


def scale_frame(frame, opt):
    """An (H, W, 3) uint8 frame scaled as --resize_or_crop does before it crops."""
    if opt.resize_or_crop in ('crop', 'none'):
        return frame
    return np.asarray(scale_for_crop(Image.fromarray(frame), opt))


def frame_for_translation(frame, opt, nc):
    """A frame of a clip to translate -> (nc, H, W) in [-1, 1]: scaled as in training, then the centre
    fineSize crop, so that every frame of the clip gets the same crop."""
    frame = scale_frame(frame, opt)
    if opt.resize_or_crop in CROP_MODES:
        h, w = frame.shape[:2]
        y, x = max(0, (h - opt.fineSize) // 2), max(0, (w - opt.fineSize) // 2)
        frame = frame[y:y + opt.fineSize, x:x + opt.fineSize]
    return to_tensor(frame, nc)


# -- the frame cache -------------------------------------------------------------------------------
class CachedClip(NamedTuple):
    """A clip's scaled frames, raw (N, H, W, 3) uint8 in the file `data`."""
    source: str
    data: str
    shape: tuple

    def frame(self, t):
        _, h, w, c = self.shape
        # a positioned read of one frame: no file stays open, so workers and thousands of clips are fine
        return np.fromfile(self.data, np.uint8, count=h * w * c, offset=t * h * w * c).reshape(h, w, c)


def clip_identity(clip):
    """What changes when the clip's files change: paths, sizes and modification times."""
    stats = [(os.path.abspath(f), os.stat(f)) for f in clip.frame_paths or (clip.path,)]
    return [(path, stat.st_size, stat.st_mtime_ns) for path, stat in stats]


def cache_clips(clips, opt, folder, progress=None):
    """The CachedClips of clips at opt's scaling, decoding into `folder` those not cached before
    (progress: an object whose update() is called per decoded frame, instead of a progress bar)."""
    datas = []
    for clip in clips:
        key = json.dumps([clip_identity(clip), opt.resize_or_crop, opt.loadSize, opt.fineSize])
        datas.append(os.path.join(folder, hashlib.sha1(key.encode()).hexdigest()[:24] + '.rgb'))
    todo = [(clip, data) for clip, data in zip(clips, datas) if not os.path.exists(data + '.json')]
    if todo and progress is not None:
        for clip, data in todo:
            decode_into(clip, opt, data, progress)
    elif todo:
        with tqdm(total=sum(len(clip) for clip, _ in todo), unit='frame',
                  desc=f'decoding {len(todo)} clip(s) into {folder}') as progress:
            for clip, data in todo:
                decode_into(clip, opt, data, progress)
    cached = []
    for clip, data in zip(clips, datas):
        with open(data + '.json') as f:
            cached.append(CachedClip(clip.path, data, tuple(json.load(f)['shape'])))
    return cached


def cache_error(folder, err):
    return UserError(f'cannot write the frame cache {folder} ({err.strerror or err}): free some disk space or '
                     f'pick another --frame_cache')


def decode_into(clip, opt, data, progress):
    """Decode and scale clip's frames into the raw file `data`, then write its shape to data.json
    (whose presence marks a complete file; concurrent runs each write their own, then rename)."""
    partial = f'{data}.{os.getpid()}.part'
    shape, n = None, 0
    try:
        with open(partial, 'wb') as f:
            for frame in clip.frames():
                frame = scale_frame(frame, opt)
                if shape is not None and frame.shape != shape:
                    raise UserError(f'{clip.path}: frame {n} is {frame.shape[1]}x{frame.shape[0]}, the first one '
                                    f'{shape[1]}x{shape[0]}; the frames of a clip must have one size')
                shape = frame.shape
                f.write(np.ascontiguousarray(frame).tobytes())
                n += 1
                progress.update()
        os.replace(partial, data)
    except OSError as err:  # reading a clip fails with a UserError: this is writing the cache
        raise cache_error(os.path.dirname(data), err) from None
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    meta = json.dumps({'shape': [n, *shape], 'source': clip.path}).encode()
    atomic_write(data + '.json', lambda f: f.write(meta))


# -- triplets ----------------------------------------------------------------------------------------
class ClipTriplets:
    """The triplets (t, t+s, t+2s) of one domain's clips, numbered clip after clip: a clip of N frames
    holds N - 2s of them; item k is ([three (H, W, 3) uint8 frames], description)."""

    def __init__(self, folder, opt, cache):
        self.stride = s = opt.frame_stride
        self.clips = cache_clips(find_clips(folder, opt.max_dataset_size), opt, cache)
        counts = [max(0, clip.shape[0] - 2 * s) for clip in self.clips]
        short = [clip.source for clip, count in zip(self.clips, counts) if not count]
        if len(short) == len(self.clips):
            raise UserError(f'{folder}: no clip has the {2 * s + 1} frames a triplet with --frame_stride {s} needs; '
                            f'lower --frame_stride or add longer clips')
        if short:
            print(f'warning: {len(short)} clip(s) of {folder} are shorter than {2 * s + 1} frames and left out, '
                  f'e.g. {short[0]}', file=sys.stderr)
        if opt.resize_or_crop in CROP_MODES:
            for clip in self.clips:
                _, h, w, _ = clip.shape
                if min(h, w) < opt.fineSize:
                    raise UserError(f'{clip.source}: frames are {w}x{h} after --resize_or_crop {opt.resize_or_crop}, '
                                    f'smaller than --fineSize {opt.fineSize}; lower --fineSize')
        elif opt.batchSize > 1:
            for clip in self.clips:
                if clip.shape[1:] != self.clips[0].shape[1:]:
                    size, first = clip.shape[2:0:-1], self.clips[0].shape[2:0:-1]
                    raise UserError(f'{clip.source}: frames are {size[0]}x{size[1]} after --resize_or_crop '
                                    f'{opt.resize_or_crop}, those of {self.clips[0].source} {first[0]}x{first[1]}: '
                                    f'the frames of a batch (--batchSize {opt.batchSize}) need one size; use '
                                    f'--batchSize 1 or a cropping --resize_or_crop')
        self.ends = np.cumsum(counts)  # ends[i]: the number of the first triplet after clip i

    def __len__(self):
        return int(self.ends[-1])

    def __getitem__(self, k):
        i = bisect.bisect_right(self.ends, k)
        t, s, clip = k - (self.ends[i - 1] if i else 0), self.stride, self.clips[i]
        times = (t, t + s, t + 2 * s)
        return [clip.frame(j) for j in times], f'{clip.source}#frames={",".join(map(str, times))}'


def transform_triplet(frames, opt, nc, rng):
    """Three frames of one clip -> three (nc, h, w) tensors in [-1, 1], cut at one fineSize crop offset
    (when --resize_or_crop crops) and flipped together (when training, unless --no_flip)."""
    if opt.resize_or_crop in CROP_MODES:
        h, w = frames[0].shape[:2]
        size = opt.fineSize
        x, y = rng.randint(0, w - size), rng.randint(0, h - size)  # x first, as random_crop
        frames = [frame[y:y + size, x:x + size] for frame in frames]
    flip = opt.isTrain and not opt.no_flip and rng.random() < 0.5
    return [to_tensor(frame[:, ::-1] if flip else frame, nc) for frame in frames]


def frame_cache(opt):
    return opt.frame_cache or os.path.join(opt.checkpoints_dir, 'frame_cache')


class VideoDataset(BaseDataset):
    """Example i: a triplet of A and one of B, each drawn uniformly from all triplets of its domain
    (with --serial_batches: A's triplet i and B's triplet i, modulo their numbers, in clip order).
    An epoch is --epoch_size examples, by default the larger domain's number of triplets (as many
    as the authors' strips of the same clips would be). Keys: A0 A1 A2 B0 B1 B2 A_paths B_paths."""

    @staticmethod
    def modify_commandline_options(parser, is_train):
        add = parser.add_argument
        add('--frame_stride', type=int, default=1,
            help='--dataset_mode video: an example is frames t, t+s, t+2s of one clip, s = this')
        add('--frame_cache', default='',
            help='--dataset_mode video: folder of decoded frames (default: <checkpoints_dir>/frame_cache; '
                 'delete it to free the space)')
        add('--epoch_size', type=int, default=0,
            help='--dataset_mode video: examples per epoch (0: the number of triplets of the larger domain)')
        return parser

    @staticmethod
    def check_options(opt):
        checks.number('--frame_stride', opt.frame_stride, 1)  # 1: consecutive frames
        checks.number('--epoch_size', opt.epoch_size, 0)  # 0: the default
        checks.writable_folder('--frame_cache', frame_cache(opt))

    def __init__(self, opt):
        super().__init__(opt)
        cache = frame_cache(opt)
        try:
            os.makedirs(cache, exist_ok=True)
        except OSError as err:
            raise cache_error(cache, err) from None
        self.triplets = [ClipTriplets(os.path.join(opt.dataroot, opt.phase + d), opt, cache) for d in 'AB']
        self.size = opt.epoch_size or max(map(len, self.triplets))

    def __len__(self):
        return self.size

    def __getitem__(self, item):
        index, rng = example_rng(item)
        example = {}
        for domain, triplets, nc in zip('AB', self.triplets, (self.opt.input_nc, self.opt.output_nc)):
            k = index % len(triplets) if self.opt.serial_batches else rng.randrange(len(triplets))
            frames, description = triplets[k]
            example.update((f'{domain}{t}', x) for t, x in enumerate(transform_triplet(frames, self.opt, nc, rng)))
            example[f'{domain}_paths'] = description
        return example
