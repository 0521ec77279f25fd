"""Unpaired single frames: <dataroot>/<phase>A and <dataroot>/<phase>B (CycleGAN's data)."""
from .base_dataset import UnpairedDataset, domain_channels, load_image, transform_frame


class UnalignedDataset(UnpairedDataset):
    """Each frame goes through --resize_or_crop and a random flip (unless --no_flip)."""

    def __init__(self, opt):
        super().__init__(opt)
        self.nc_A, self.nc_B = domain_channels(opt)

    def __getitem__(self, index):
        A_path, B_path = self.paths(index)
        A = transform_frame(load_image(A_path), self.opt, self.nc_A)
        B = transform_frame(load_image(B_path), self.opt, self.nc_B)
        return {'A': A, 'B': B, 'A_paths': A_path, 'B_paths': B_path}
