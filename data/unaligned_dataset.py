"""Unpaired single frames: <dataroot>/<phase>A and <dataroot>/<phase>B (CycleGAN's data)."""
from .base_dataset import UnpairedDataset, domain_channels, example_rng, load_image, transform_frame


class UnalignedDataset(UnpairedDataset):
    """Each frame goes through --resize_or_crop and a random flip (unless --no_flip)."""

    def __init__(self, opt):
        super().__init__(opt)
        self.nc_A, self.nc_B = domain_channels(opt)

    def __getitem__(self, item):
        index, rng = example_rng(item)
        A_path, B_path = self.paths(index, rng)
        A = transform_frame(load_image(A_path), self.opt, self.nc_A, rng)
        B = transform_frame(load_image(B_path), self.opt, self.nc_B, rng)
        return {'A': A, 'B': B, 'A_paths': A_path, 'B_paths': B_path}
