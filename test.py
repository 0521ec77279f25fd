"""Translate test frames with a trained model and write an HTML page of the results.

    python test.py --dataroot ./datasets/demo --name demo --model cycle_gan \
        --which_model_netG resnet_6blocks --dataset_mode unaligned --no_dropout --loadSize 256

Frames of <dataroot>/testA go through G_A and frames of testB through G_B (with --dataset_mode
unaligned they come in pairs, as in the authors' code; with single, each folder on its own).
--model test --dataset_mode single --model_suffix _A translates the folder --dataroot with G_A.
Writes <results_dir>/<name>/<phase>_<which_epoch>/index.html and images/.
"""
import os

from tqdm import tqdm

from data import create_dataset
from data.base_dataset import domain_channels
from models import create_model
from options.test_options import TestOptions, result_dir
from util.errors import run_cli
from util.html import HTML
from util.util import seed_everything
from util.visualizer import save_images


def test_loaders(opt):
    """One loader, or, for a two-generator model on --dataset_mode single, one per domain folder."""
    if opt.dataset_mode != 'single' or opt.model == 'test':
        return [create_dataset(opt)]
    nc_A, nc_B = domain_channels(opt)
    return [create_dataset(opt, root=os.path.join(opt.dataroot, opt.phase + d), nc=nc, domain=d)
            for d, nc in (('A', nc_A), ('B', nc_B))]


def main(argv=None):
    opt = TestOptions().parse(argv)
    # the authors' test settings: one frame at a time, in order, no augmentation, no dashboard
    opt.nThreads = min(opt.nThreads, 1)
    opt.batchSize = 1
    opt.serial_batches = True
    opt.no_flip = True
    opt.display_id = 0
    if opt.seed is not None:
        seed_everything(opt.seed)
    model = create_model(opt)
    model.setup(opt)
    if opt.eval:
        model.eval()
    web_dir = result_dir(opt)
    webpage = HTML(web_dir, f'Experiment = {opt.name}, Phase = {opt.phase}, Epoch = {opt.which_epoch}')
    for loader in test_loaders(opt):
        for i, data in enumerate(tqdm(loader, total=min(len(loader), opt.how_many), unit='frame')):
            if i >= opt.how_many:
                break
            model.set_input(data)
            model.test()
            save_images(webpage, model.get_current_visuals(), model.get_image_paths(), opt.aspect_ratio,
                        opt.display_winsize)
    webpage.save()
    print(f'results: {os.path.join(web_dir, "index.html")}')
    return web_dir


if __name__ == '__main__':
    run_cli(main)
