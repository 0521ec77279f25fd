"""Translate test frames or videos with a trained model and write an HTML page of the results.

    python test.py --dataroot ./datasets/demo --name demo --model cycle_gan \
        --which_model_netG resnet_6blocks --dataset_mode unaligned --no_dropout --loadSize 256
    python test.py --video clip.mp4 --name demo --model recycle_gan --which_model_netG resnet_6blocks \
        --no_dropout --side_by_side

Frames of <dataroot>/testA go through G_A and frames of testB through G_B (with --dataset_mode
unaligned they come in pairs, as in the authors' code; with single, each folder on its own).
--model test --dataset_mode single --model_suffix _A translates the folder --dataroot with G_A.
With --dataset_mode video (or --video PATH) every frame of every clip (a video file or a folder
of frames) is translated into an mp4 at the clip's frame rate.
Writes <results_dir>/<name>/<phase>_<which_epoch>/index.html, images/ and videos/.
"""
import contextlib
import os

import numpy as np
from PIL import Image
from tqdm import tqdm

from data import create_dataset
from data.base_dataset import domain_channels
from data.video_dataset import find_clips, frame_for_translation
from models import create_model
from options.test_options import TestOptions, result_dir
from util.errors import run_cli
from util.html import HTML
from util.util import seed_everything, tensor2im
from util.video import VideoWriter
from util.visualizer import save_images


def test_loaders(opt):
    """One loader, or, for a two-generator model on --dataset_mode single, one per domain folder."""
    if opt.dataset_mode != 'single' or opt.model == 'test':
        return [create_dataset(opt)]
    nc_A, nc_B = domain_channels(opt)
    return [create_dataset(opt, root=os.path.join(opt.dataroot, opt.phase + d), nc=nc, domain=d)
            for d, nc in (('A', nc_A), ('B', nc_B))]


def video_sources(opt):
    """[(video or folder of clips, input key, channels)]: --video, or for --model test --dataroot,
    else <dataroot>/<phase>A (through G_A) and <phase>B (through G_B), those that exist."""
    if opt.model == 'test':
        return [(opt.video or opt.dataroot, 'A', opt.output_nc if opt.model_suffix == '_B' else opt.input_nc)]
    nc = dict(zip('AB', domain_channels(opt)))
    if opt.video:
        return [(opt.video, opt.video_domain, nc[opt.video_domain])]
    folders = [(os.path.join(opt.dataroot, opt.phase + d), d, nc[d]) for d in 'AB']
    return [f for f in folders if os.path.exists(f[0])] or folders[:1]  # with neither, find_clips says so


def resized(image, size):
    """image ((H, W, C) uint8) at size (width, height), or as it is without one."""
    if size is None or size == image.shape[1::-1]:
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC))


def translate_clip(model, clip, key, nc, opt, webpage, names=None, on_frame=None, size=None):
    """Translate every frame of clip into videos/<clip>_<fake label>.mp4 (e.g. clip_fake_B.mp4) and,
    with --side_by_side, videos/<clip>_<real label>_<fake label>.mp4 (input | output), at the clip's frame
    rate, or into names = (translated, side by side) (paths relative to the page; None skips one); put
    its first, middle and last frames and the videos on the page. on_frame(), if given, is called after
    every frame and stands in for the clip's progress bar; size = (width, height), if given, of the frames
    written (scaled bicubically from the generator's)."""
    n = len(clip)
    shown_at, shown = {0, n // 2, n - 1}, {}  # frame name -> the visuals put on the page
    fps = clip.fps(opt.fps)
    writers = {}  # mp4 path relative to the page -> VideoWriter, opened at the first frame
    with contextlib.ExitStack() as stack:
        frames = tqdm(clip.frames(), total=n, desc=clip.name, unit='frame', disable=on_frame is not None)
        for t, frame in enumerate(frames):
            name = f'{clip.name}_{t:05d}'
            model.set_input({key: frame_for_translation(frame, opt, nc).unsqueeze(0), f'{key}_paths': [name]})
            model.test()
            visuals = model.get_current_visuals()
            real, fake = (next(label for label in visuals if label.startswith(kind)) for kind in ('real', 'fake'))
            real_image, fake_image = (resized(tensor2im(visuals[label]), size) for label in (real, fake))
            translated, side_by_side = names or (f'videos/{clip.name}_{fake}.mp4',
                                                 f'videos/{clip.name}_{real}_{fake}.mp4' if opt.side_by_side else None)
            outputs = {translated: fake_image}
            if side_by_side:
                outputs[side_by_side] = np.concatenate([real_image, fake_image], 1)
            for file, image in outputs.items():
                if file not in writers:
                    writers[file] = stack.enter_context(VideoWriter(os.path.join(webpage.web_dir, file), fps))
                writers[file].write(image)
            if t in shown_at:
                shown[name] = {real: visuals[real], fake: visuals[fake]}
            if on_frame is not None:
                on_frame()
    webpage.add_header(f'{clip.name} ({clip.path})')
    webpage.add_videos(list(writers), opt.display_winsize)
    for name, visuals in shown.items():
        save_images(webpage, visuals, [name], opt.aspect_ratio, opt.display_winsize)


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
    if opt.dataset_mode == 'video':
        for source, key, nc in video_sources(opt):
            for clip in find_clips(source, opt.max_dataset_size):
                translate_clip(model, clip, key, nc, opt, webpage)
        print(f'videos: {os.path.join(web_dir, "videos")}')
    else:
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
