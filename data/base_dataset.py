"""Base class of datasets, image loading and the single-frame transforms of the authors' code."""
import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from PIL import Image, ImageOps

from util.errors import UserError

EXIF_ORIENTATION = 0x0112
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.tif', '.tiff', '.webp')


class BaseDataset(torch.utils.data.Dataset):
    """A dataset takes the options (and keyword arguments from create_dataset) and may declare
    its own flags and defaults."""

    @staticmethod
    def modify_commandline_options(parser, is_train):
        return parser

    @staticmethod
    def check_options(opt):
        """A UserError for a bad value of the dataset's own flags (options' check() calls it, before anything
        is read or written)."""

    def __init__(self, opt):
        self.opt = opt


class UnpairedDataset(BaseDataset):
    """Files of <dataroot>/<phase>A and <phase>B, unpaired: example i takes A's file i % |A| and a
    random B file (B's file i % |B| with --serial_batches). An epoch is max(|A|, |B|) examples."""

    def __init__(self, opt):
        super().__init__(opt)
        self.A_paths = make_dataset(os.path.join(opt.dataroot, opt.phase + 'A'), opt.max_dataset_size)
        self.B_paths = make_dataset(os.path.join(opt.dataroot, opt.phase + 'B'), opt.max_dataset_size)
        for paths in (self.A_paths, self.B_paths):  # broken files are found now, not when first drawn
            self.check_sizes(paths, scan_images(paths))

    def check_sizes(self, paths, sizes):
        check_frame_sizes(paths, sizes, self.opt)

    def paths(self, index, rng=random):
        """(A path, B path) of example index; B's draw comes first, as in the authors' code."""
        if self.opt.serial_batches:
            B_path = self.B_paths[index % len(self.B_paths)]
        else:
            B_path = self.B_paths[rng.randint(0, len(self.B_paths) - 1)]
        return self.A_paths[index % len(self.A_paths)], B_path

    def __len__(self):
        return max(len(self.A_paths), len(self.B_paths))


def example_rng(item):
    """(index, rng) of a dataset item. The training loader's sampler gives (index, seed): each example
    draws its crops and flips from its own generator, so a resumed run draws what the interrupted one
    would have. A plain index draws from Python's global `random`, as the authors' datasets did."""
    if isinstance(item, tuple):
        return item[0], random.Random(item[1])
    return item, random


def is_image_file(filename):
    return filename.lower().endswith(IMG_EXTENSIONS)


def make_dataset(folder, max_dataset_size=float('inf')):
    """Image files under folder (recursively), sorted, at most max_dataset_size of them."""
    if not os.path.isdir(folder):
        raise UserError(f'{folder} is not a folder: --dataroot must hold the image folders (e.g. trainA, trainB)')
    paths = sorted(os.path.join(root, name) for root, _, names in os.walk(folder, followlinks=True)
                   for name in names if is_image_file(name))
    if not paths:
        raise UserError(f'{folder} holds no image files ({", ".join(IMG_EXTENSIONS)})')
    return paths[:min(max_dataset_size, len(paths))]


def image_size(path):
    """(width, height) of the upright image, from its header alone; a UserError when it cannot be read."""
    try:
        with Image.open(path) as image:  # reads the header; refuses decompression bombs
            w, h = image.size
            if orientation(image) in (5, 6, 7, 8):  # turned by 90 degrees
                w, h = h, w
            return w, h
    except Image.DecompressionBombError as err:
        raise UserError(f'{path}: {err}; scale the image down') from None
    except (OSError, SyntaxError, ValueError) as err:
        raise UserError(f'{path}: cannot read this image ({err}); replace or remove it') from None


def orientation(image):
    """The EXIF orientation of an opened image, from its header (a PNG's getexif() would decode it all)."""
    if image.format == 'PNG':
        exif = Image.Exif()
        if 'exif' in image.info:  # an eXIf chunk before the pixels
            exif.load(image.info['exif'])
        return exif.get(EXIF_ORIENTATION, 1)
    return image.getexif().get(EXIF_ORIENTATION, 1)


SCAN_CHUNK = 1000  # files a scanning process takes at a time


def scan_images(paths):
    """[(width, height)] of every image, read from the headers (see image_size); with many files, on
    every CPU core (parsing headers is Python code); the first unreadable file in order raises."""
    workers = min(len(os.sched_getaffinity(0)), len(paths) // SCAN_CHUNK)
    if workers < 2:
        return [image_size(path) for path in paths]
    # forked: the children only read files with PIL, nothing of torch or CUDA
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('fork')) as pool:
        return list(pool.map(image_size, paths, chunksize=SCAN_CHUNK))


def check_frame_sizes(paths, sizes, opt):
    """A UserError naming the first image that --resize_or_crop cannot crop to --fineSize, or, without a
    crop and with --batchSize > 1, the first whose (scaled) size differs from the first image's."""
    scaled = [loaded_size(size, opt) for size in sizes]
    if opt.resize_or_crop in CROP_MODES:
        for path, size, (w, h) in zip(paths, sizes, scaled):
            if min(w, h) < opt.fineSize:
                raise UserError(f'{path} is {size[0]}x{size[1]}, {w}x{h} after --resize_or_crop {opt.resize_or_crop}: '
                                f'smaller than the --fineSize {opt.fineSize} crop; lower --fineSize or remove it')
    elif opt.batchSize > 1:
        for path, size in zip(paths, scaled):
            if size != scaled[0]:
                raise UserError(f'{path} is {size[0]}x{size[1]} after --resize_or_crop {opt.resize_or_crop}, '
                                f'{paths[0]} {scaled[0][0]}x{scaled[0][1]}: the images of a batch (--batchSize '
                                f'{opt.batchSize}) need one size; resize them, or use --batchSize 1 or a cropping '
                                f'--resize_or_crop')


def loaded_size(size, opt):
    """(width, height) of an image of `size` after the scaling of --resize_or_crop (see scale_for_crop)."""
    w, h = size
    if opt.resize_or_crop == 'resize_and_crop':
        return opt.loadSize, opt.loadSize
    width = {'scale_width': opt.fineSize, 'scale_width_and_crop': opt.loadSize}.get(opt.resize_or_crop, w)
    return (w, h) if width == w else (width, int(width * h / w))


def load_image(path):
    """An RGB PIL image, turned upright as its EXIF orientation says; 16-bit and float [0, 1] grayscale are
    scaled to 8 bits. An unreadable file, a decompression bomb or an image of no known scale is a
    UserError naming it."""
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)  # a phone's rotated JPEG, read upright
            return to_rgb(image, path)
    except Image.DecompressionBombError as err:
        raise UserError(f'{path}: {err}; scale the image down') from None
    except (OSError, SyntaxError, ValueError) as err:
        raise UserError(f'{path}: cannot read this image ({err}); replace or remove it') from None


def to_rgb(image, path):
    """image.convert('RGB'), which clips 16-bit and float values at 255: those are scaled first."""
    if image.mode in ('I', 'F') or image.mode.startswith('I;16'):
        values = np.asarray(image, dtype=np.float64)
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        full = 1.0 if image.mode == 'F' else 65535.0  # float images are read as [0, 1], integer ones as 16 bits
        if not (np.isfinite(low) and np.isfinite(high) and low >= 0 and high <= full):
            raise UserError(f'{path}: a {image.mode} image with values from {low:g} to {high:g}, which is not '
                            f'{"float in [0, 1]" if full == 1 else "16-bit"}; save it as an 8-bit image')
        image = Image.fromarray(np.round(values * (255 / full)).astype(np.uint8))
    return image.convert('RGB')


def to_tensor(image, nc=3):
    """PIL RGB image -> (nc, H, W) float tensor in [-1, 1]; nc == 1 gives 0.299 R + 0.587 G + 0.114 B."""
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)
    x = x.sub(0.5).div(0.5)
    if nc == 1:
        x = (x[0] * 0.299 + x[1] * 0.587 + x[2] * 0.114).unsqueeze(0)
    return x


def random_crop(image, size, rng=random):
    """A size x size crop at a random offset (x drawn before y, as torchvision 0.2 did)."""
    w, h = image.size
    if w == size and h == size:
        return image
    x = rng.randint(0, w - size)
    y = rng.randint(0, h - size)
    return image.crop((x, y, x + size, y + size))


def scale_width(image, width):
    w, h = image.size
    if w == width:
        return image
    return image.resize((width, int(width * h / w)), Image.BICUBIC)


CROP_MODES = ('resize_and_crop', 'crop', 'scale_width_and_crop')


def scale_for_crop(image, opt):
    """The scaling that --resize_or_crop does before its crop (none for crop and none)."""
    mode = opt.resize_or_crop
    if mode == 'resize_and_crop':
        return image.resize((opt.loadSize, opt.loadSize), Image.BICUBIC)
    if mode == 'scale_width':
        return scale_width(image, opt.fineSize)
    if mode == 'scale_width_and_crop':
        return scale_width(image, opt.loadSize)
    return image


def transform_frame(image, opt, nc, rng=random):
    """The authors' single-frame pipeline: --resize_or_crop, a random horizontal flip when training
    (unless --no_flip), then to [-1, 1]. Random draws use Python's `random`, as theirs did."""
    image = scale_for_crop(image, opt)
    if opt.resize_or_crop in CROP_MODES:
        image = random_crop(image, opt.fineSize, rng)
    if opt.isTrain and not opt.no_flip and rng.random() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return to_tensor(image, nc)


def domain_channels(opt):
    """Channels of the images loaded as A and as B (which_direction BtoA swaps the domains)."""
    if opt.which_direction == 'BtoA':
        return opt.output_nc, opt.input_nc
    return opt.input_nc, opt.output_nc
