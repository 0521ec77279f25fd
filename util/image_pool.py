"""A buffer of generated images, so that D also learns from the generators' past outputs
(Shrivastava et al. 2017)."""
import random

import torch


class ImagePool:
    """query(images) returns a batch of the same size: while the pool fills, the new images; once
    it is full, each image is, with probability 1/2, swapped for a random stored one (which is
    returned) and otherwise returned as is. pool_size 0 returns the input unchanged (detached).

    Draws from Python's `random` in the authors' order, so a seeded run picks the same images."""

    def __init__(self, pool_size):
        self.pool_size = pool_size
        self.images = []

    def query(self, images):
        images = images.detach()
        if self.pool_size == 0:
            return images
        out = []
        for image in images:
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                i = random.randint(0, self.pool_size - 1)
                out.append(self.images[i])
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)
