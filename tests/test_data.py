"""Datasets: the authors' triplet strips (one crop offset for all three frames), single frames, folders."""
import os
import random

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import train_options
from data import create_dataset
from data.base_dataset import make_dataset, to_tensor
from util.errors import UserError


def write_strips(folder, n, size, nc_value=None):
    """n strips of three size x size frames whose pixels encode (frame, row, column):
    R = 80 * frame, G = row, B = column."""
    os.makedirs(folder, exist_ok=True)
    rows, cols = np.mgrid[0:size, 0:size]
    for i in range(n):
        frames = [np.stack([np.full_like(rows, 80 * t), rows, cols], -1) for t in range(3)]
        Image.fromarray(np.concatenate(frames, 1).astype(np.uint8)).save(os.path.join(folder, f'{i:03d}.png'))


def to_uint8(x):
    return ((x + 1) / 2 * 255).round().to(torch.int64)


@pytest.fixture
def strips(tmp_path):
    for d in 'AB':
        write_strips(tmp_path / f'train{d}', 3 if d == 'A' else 5, 40)
    return str(tmp_path)


def test_triplet_crop_shares_one_offset_across_frames(strips, tmp_path):
    # loadSize 40 = the strips' own size, so the bicubic resize leaves the pixels untouched
    opt = train_options(tmp_path / 'ck', '--dataset_mode', 'unaligned_triplet', '--loadSize', '40',
                        '--fineSize', '32', dataroot=strips)
    dataset = create_dataset(opt).dataset
    assert len(dataset) == 5  # max(|A|, |B|)
    offsets = set()
    random.seed(0)
    for i in range(40):
        example = dataset[i % len(dataset)]
        assert set(example) == {'A0', 'A1', 'A2', 'B0', 'B1', 'B2', 'A_paths', 'B_paths'}
        for d in 'AB':
            frames = [to_uint8(example[f'{d}{t}']) for t in range(3)]
            for t, frame in enumerate(frames):
                assert frame.shape == (3, 32, 32)
                assert torch.all(frame[0] == 80 * t)  # frame t of the strip
            y, x = frames[0][1, 0, 0].item(), frames[0][2, 0, 0].item()
            for frame in frames:  # the same crop in every frame
                assert torch.equal(frame[1], torch.arange(y, y + 32).unsqueeze(1).expand(32, 32))
                assert torch.equal(frame[2], torch.arange(x, x + 32).unsqueeze(0).expand(32, 32))
            offsets.add((x, y))
    # the authors' offsets run from 0 to w - fineSize - 1 (the last one is never drawn)
    assert {x for x, _ in offsets} <= set(range(8)) and {y for _, y in offsets} <= set(range(8))
    assert len(offsets) > 10


def test_triplet_order_and_serial_batches(strips, tmp_path):
    opt = train_options(tmp_path / 'ck', '--dataset_mode', 'unaligned_triplet', '--loadSize', '40',
                        '--fineSize', '32', '--serial_batches', dataroot=strips)
    dataset = create_dataset(opt).dataset
    names = [(os.path.basename(dataset[i]['A_paths']), os.path.basename(dataset[i]['B_paths'])) for i in range(5)]
    assert names == [('000.png', '000.png'), ('001.png', '001.png'), ('002.png', '002.png'),
                     ('000.png', '003.png'), ('001.png', '004.png')]


def test_triplet_grayscale(strips, tmp_path):
    opt = train_options(tmp_path / 'ck', '--dataset_mode', 'unaligned_triplet', '--loadSize', '40',
                        '--fineSize', '32', '--input_nc', '1', '--identity', '0', dataroot=strips)
    example = create_dataset(opt).dataset[0]
    assert example['A0'].shape == (1, 32, 32) and example['B0'].shape == (3, 32, 32)


def test_loader_batches_triplets(tiny_data, tmp_path):
    opt = train_options(tmp_path, '--dataset_mode', 'unaligned_triplet', '--batchSize', '3', dataroot=tiny_data)
    loader = create_dataset(opt)
    batches = list(loader)
    assert len(batches) == 3  # 8 examples in batches of 3
    assert batches[0]['A0'].shape == (3, 3, 32, 32) and len(batches[0]['A_paths']) == 3
    assert batches[-1]['B2'].shape == (2, 3, 32, 32)


def test_unaligned_single_frames_flip_and_crop(tmp_path):
    for d in 'AB':
        os.makedirs(tmp_path / f'train{d}')
        image = np.zeros((32, 32, 3), np.uint8)
        image[:, :16, 0] = 255  # left half red
        Image.fromarray(image).save(tmp_path / f'train{d}' / 'x.png')
    opt = train_options(tmp_path / 'ck', '--dataset_mode', 'unaligned', '--loadSize', '32', '--fineSize', '32',
                        dataroot=str(tmp_path))
    dataset = create_dataset(opt).dataset
    random.seed(1)
    lefts = {to_uint8(dataset[0]['A'])[0, :, 0].float().mean().item() for _ in range(20)}
    assert lefts == {255.0, 0.0}  # flipped about half of the time
    opt.no_flip = True
    assert {to_uint8(dataset[0]['A'])[0, :, 0].float().mean().item() for _ in range(10)} == {255.0}


def test_resize_or_crop_modes(tmp_path):
    for d in 'AB':
        os.makedirs(tmp_path / f'train{d}')
        Image.new('RGB', (48, 24)).save(tmp_path / f'train{d}' / 'x.png')
    shapes = {}
    for mode in ('resize_and_crop', 'crop', 'scale_width', 'scale_width_and_crop'):
        opt = train_options(tmp_path / 'ck', '--dataset_mode', 'unaligned', '--resize_or_crop', mode,
                            '--loadSize', '40', '--fineSize', '16', dataroot=str(tmp_path))
        shapes[mode] = tuple(create_dataset(opt).dataset[0]['A'].shape)
    assert shapes == {'resize_and_crop': (3, 16, 16), 'crop': (3, 16, 16), 'scale_width': (3, 8, 16),
                      'scale_width_and_crop': (3, 16, 16)}


def test_single_dataset_and_max_dataset_size(tiny_data, tmp_path):
    from options.test_options import TestOptions
    opt = TestOptions().parse(['--dataroot', os.path.join(tiny_data, 'testA'), '--model', 'test',
                               '--results_dir', str(tmp_path), '--gpu_ids', '-1', '--loadSize', '32',
                               '--fineSize', '32', '--max_dataset_size', '4'])
    dataset = create_dataset(opt).dataset
    assert len(dataset) == 4
    assert [os.path.basename(dataset[i]['A_paths']) for i in range(4)] == \
        [f'clip00_{t:04d}.png' for t in range(4)]
    assert dataset[0]['A'].shape == (3, 32, 32)


def test_to_tensor_range():
    image = Image.fromarray(np.array([[[0, 128, 255]]], np.uint8))
    torch.testing.assert_close(to_tensor(image), torch.tensor([-1.0, 128 / 255 * 2 - 1, 1.0]).view(3, 1, 1))
    gray = to_tensor(image, nc=1)
    assert gray.shape == (1, 1, 1)
    assert gray.item() == pytest.approx(-0.299 + 0.587 * (128 / 255 * 2 - 1) + 0.114)


def test_bad_folders_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match='is not a folder'):
        make_dataset(str(tmp_path / 'missing'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(UserError, match='holds no image files'):
        make_dataset(str(tmp_path / 'empty'))


def test_a_strip_that_is_not_three_frames_wide(strips, tmp_path):
    Image.new('RGB', (100, 40)).save(os.path.join(strips, 'trainA', '000.png'))
    opt = train_options(tmp_path / 'ck', '--dataset_mode', 'unaligned_triplet', '--loadSize', '40',
                        '--fineSize', '32', '--serial_batches', dataroot=strips)
    with pytest.raises(UserError, match='000.png is 100 pixels wide, not a multiple of 3'):
        create_dataset(opt).dataset[0]


def test_a_worker_error_still_reads_as_one_line(tmp_path):
    """A UserError raised in a DataLoader worker comes back wrapped in the worker's traceback."""
    from util.errors import one_line
    for d in 'AB':
        os.makedirs(tmp_path / f'train{d}')
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8)).save(tmp_path / 'whole.png')
        # the header is whole, so the scan at the start passes it; its pixels are cut, so the worker fails
        (tmp_path / f'train{d}' / 'broken.png').write_bytes((tmp_path / 'whole.png').read_bytes()[:200])
    opt = train_options(tmp_path / 'ck', '--dataset_mode', 'unaligned', '--nThreads', '1', dataroot=str(tmp_path))
    batches = iter(create_dataset(opt))
    with pytest.raises(UserError) as err:
        next(batches)
    message = str(err.value)
    del batches, err  # the traceback holds the loader: let it shut its worker down now
    assert '\n' in message
    assert one_line(UserError(message)).startswith(f'{tmp_path}/trainA/broken.png: cannot read this image')
