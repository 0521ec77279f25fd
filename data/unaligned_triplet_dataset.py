"""Unpaired frame triplets in the authors' format: every file of <dataroot>/<phase>A and
<phase>B is one image holding frames t, t+1, t+2 side by side (width 3W, height H)."""
from PIL import Image

from util.errors import UserError
from .base_dataset import UnpairedDataset, example_rng, load_image, to_tensor


class UnalignedTripletDataset(UnpairedDataset):
    """Each strip is resized to 3*loadSize x loadSize (bicubic) and one fineSize crop offset is cut
    out of all three frames; no flipping."""

    def __init__(self, opt):
        super().__init__(opt)
        if opt.fineSize > opt.loadSize:
            raise UserError(f'--fineSize {opt.fineSize} is larger than --loadSize {opt.loadSize}: triplet crops '
                            f'are cut from frames scaled to loadSize, so make fineSize <= loadSize')

    def check_sizes(self, paths, sizes):
        for path, (width, _) in zip(paths, sizes):
            check_strip_width(path, width)

    def load_triplet(self, path, nc, rng):
        image = load_image(path)
        check_strip_width(path, image.width)
        strip = to_tensor(image.resize((3 * self.opt.loadSize, self.opt.loadSize), Image.BICUBIC), nc)
        w, h, size = strip.shape[2] // 3, strip.shape[1], self.opt.fineSize
        # the authors' offsets: never the last possible column or row (hence the -1)
        x = rng.randint(0, max(0, w - size - 1))
        y = rng.randint(0, max(0, h - size - 1))
        return [strip[:, y:y + size, t * w + x:t * w + x + size] for t in range(3)]

    def __getitem__(self, item):
        index, rng = example_rng(item)
        A_path, B_path = self.paths(index, rng)
        A = self.load_triplet(A_path, self.opt.input_nc, rng)
        B = self.load_triplet(B_path, self.opt.output_nc, rng)
        return {**{f'A{t}': x for t, x in enumerate(A)}, **{f'B{t}': x for t, x in enumerate(B)},
                'A_paths': A_path, 'B_paths': B_path}


def check_strip_width(path, width):
    if width % 3:
        raise UserError(f'{path} is {width} pixels wide, not a multiple of 3: a triplet strip holds three '
                        f'frames side by side (scripts/make_demo_data.py shows the format)')
