"""Unpaired frame triplets in the authors' format: every file of <dataroot>/<phase>A and
<phase>B is one image holding frames t, t+1, t+2 side by side (width 3W, height H)."""
import os
import random

from PIL import Image

from .base_dataset import BaseDataset, load_image, make_dataset, to_tensor


class UnalignedTripletDataset(BaseDataset):
    """Example i: A's strip i % |A| and a random B strip (B's strip i % |B| with --serial_batches).
    Each strip is resized to 3*loadSize x loadSize (bicubic) and one fineSize crop offset is cut
    out of all three frames; no flipping. An epoch is max(|A|, |B|) examples."""

    def __init__(self, opt):
        super().__init__(opt)
        self.A_paths = make_dataset(os.path.join(opt.dataroot, opt.phase + 'A'), opt.max_dataset_size)
        self.B_paths = make_dataset(os.path.join(opt.dataroot, opt.phase + 'B'), opt.max_dataset_size)

    def load_triplet(self, path, nc):
        strip = to_tensor(load_image(path).resize((3 * self.opt.loadSize, self.opt.loadSize), Image.BICUBIC), nc)
        w, h, size = strip.shape[2] // 3, strip.shape[1], self.opt.fineSize
        # the authors' offsets: never the last possible column or row (hence the -1)
        x = random.randint(0, max(0, w - size - 1))
        y = random.randint(0, max(0, h - size - 1))
        return [strip[:, y:y + size, t * w + x:t * w + x + size] for t in range(3)]

    def __getitem__(self, index):
        A_path = self.A_paths[index % len(self.A_paths)]
        if self.opt.serial_batches:
            B_path = self.B_paths[index % len(self.B_paths)]
        else:
            B_path = self.B_paths[random.randint(0, len(self.B_paths) - 1)]
        A = self.load_triplet(A_path, self.opt.input_nc)
        B = self.load_triplet(B_path, self.opt.output_nc)
        return {**{f'A{t}': x for t, x in enumerate(A)}, **{f'B{t}': x for t, x in enumerate(B)},
                'A_paths': A_path, 'B_paths': B_path}

    def __len__(self):
        return max(len(self.A_paths), len(self.B_paths))
