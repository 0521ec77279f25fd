"""Unpaired single frames: <dataroot>/<phase>A and <dataroot>/<phase>B (CycleGAN's data)."""
import os
import random

from .base_dataset import BaseDataset, domain_channels, load_image, make_dataset, transform_frame


class UnalignedDataset(BaseDataset):
    """Example i: A's file i % |A| and a random B file (B's file i % |B| with --serial_batches).
    An epoch is max(|A|, |B|) examples."""

    def __init__(self, opt):
        super().__init__(opt)
        self.A_paths = make_dataset(os.path.join(opt.dataroot, opt.phase + 'A'), opt.max_dataset_size)
        self.B_paths = make_dataset(os.path.join(opt.dataroot, opt.phase + 'B'), opt.max_dataset_size)
        self.nc_A, self.nc_B = domain_channels(opt)

    def __getitem__(self, index):
        A_path = self.A_paths[index % len(self.A_paths)]
        if self.opt.serial_batches:
            B_path = self.B_paths[index % len(self.B_paths)]
        else:
            B_path = self.B_paths[random.randint(0, len(self.B_paths) - 1)]
        A = transform_frame(load_image(A_path), self.opt, self.nc_A)
        B = transform_frame(load_image(B_path), self.opt, self.nc_B)
        return {'A': A, 'B': B, 'A_paths': A_path, 'B_paths': B_path}

    def __len__(self):
        return max(len(self.A_paths), len(self.B_paths))
