"""Small helpers: tensors to images, atomic file writes, seeding."""
import os
import random

import numpy as np
import torch
from PIL import Image

from .errors import UserError


def tensor2im(image):
    """The first image of a batch in [-1, 1], (N, C, H, W) -> (H, W, 3) uint8; grayscale becomes RGB."""
    array = image[0].detach().float().cpu().numpy()
    if array.shape[0] == 1:
        array = np.tile(array, (3, 1, 1))
    return np.clip((np.transpose(array, (1, 2, 0)) + 1) / 2.0 * 255.0, 0, 255).astype(np.uint8)


def save_image(array, path, aspect_ratio=1.0):
    """Save an (H, W, 3) uint8 array; aspect_ratio > 1 stretches it wider, < 1 taller (bicubic)."""
    image = Image.fromarray(array)
    h, w = array.shape[:2]
    if aspect_ratio > 1.0:
        image = image.resize((int(w * aspect_ratio), h), Image.BICUBIC)
    elif aspect_ratio < 1.0:
        image = image.resize((w, int(h / aspect_ratio)), Image.BICUBIC)
    image.save(path)


def atomic_write(path, write):
    """write(file) into a temporary file beside path, flush it to disk, then rename it over path:
    a crash at any moment leaves either the old complete file or the new one."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f'.{os.path.basename(path)}.{os.getpid()}.tmp')
    try:
        with open(tmp, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:  # a full disk, a read-only folder, ...
        raise UserError(f'cannot write {path} ({err.strerror or err}); the previous file there is intact: free '
                        f'some disk space or pick another --checkpoints_dir') from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_save(obj, path):
    """torch.save, atomically (see atomic_write)."""
    atomic_write(path, lambda f: torch.save(obj, f))


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too
