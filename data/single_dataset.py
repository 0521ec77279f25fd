"""One folder of single frames, for translating with one generator (test.py)."""
from .base_dataset import (BaseDataset, check_frame_sizes, domain_channels, example_rng, load_image, make_dataset,
                           scan_images, transform_frame)


class SingleDataset(BaseDataset):
    """The images under `root` (default --dataroot), in sorted order, as {domain: image,
    domain + '_paths': path}; `nc` is their number of channels (default: domain A's)."""

    def __init__(self, opt, root=None, nc=None, domain='A'):
        super().__init__(opt)
        self.paths = make_dataset(opt.dataroot if root is None else root, opt.max_dataset_size)
        check_frame_sizes(self.paths, scan_images(self.paths), opt)
        self.nc = domain_channels(opt)[0] if nc is None else nc
        self.domain = domain

    def __getitem__(self, item):
        index, rng = example_rng(item)
        path = self.paths[index]
        return {self.domain: transform_frame(load_image(path), self.opt, self.nc, rng), f'{self.domain}_paths': path}

    def __len__(self):
        return len(self.paths)
