"""Base class of datasets, image loading and the single-frame transforms of the authors' code."""
import os
import random

import numpy as np
import torch
from PIL import Image

from util.errors import UserError

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.tif', '.tiff', '.webp')


class BaseDataset(torch.utils.data.Dataset):
    """A dataset takes the options (and keyword arguments from create_dataset) and may declare
    its own flags and defaults."""

    @staticmethod
    def modify_commandline_options(parser, is_train):
        return parser

    def __init__(self, opt):
        self.opt = opt


class UnpairedDataset(BaseDataset):
    """Files of <dataroot>/<phase>A and <phase>B, unpaired: example i takes A's file i % |A| and a
    random B file (B's file i % |B| with --serial_batches). An epoch is max(|A|, |B|) examples."""

    def __init__(self, opt):
        super().__init__(opt)
        self.A_paths = make_dataset(os.path.join(opt.dataroot, opt.phase + 'A'), opt.max_dataset_size)
        self.B_paths = make_dataset(os.path.join(opt.dataroot, opt.phase + 'B'), opt.max_dataset_size)

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


def load_image(path):
    """An RGB PIL image; an unreadable file is a UserError naming it."""
    try:
        with Image.open(path) as image:
            return image.convert('RGB')
    except (OSError, SyntaxError, ValueError) as err:
        raise UserError(f'{path}: cannot read this image ({err}); replace or remove it') from None


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
