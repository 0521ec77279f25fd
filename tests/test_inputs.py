"""Any input: every bad flag or file gets one line naming it and exit status 2, before anything is built
or written; odd but valid files (16-bit, float, rotated) load as a user would expect."""
import importlib
import os

import numpy as np
import pytest
from PIL import Image

import test as test_py
import train
from conftest import ROOT, TINY, one_error_line, train_options
from data import create_dataset
from data import base_dataset
from data.base_dataset import image_size, load_image
from util import checks, dashboard
from util.errors import UserError


def test_the_checks_every_entry_point_uses(tmp_path):
    """util.checks: a number is finite and in range, a folder could be written (nothing is created), a file read."""
    assert checks.number('--lr', 0.5, 0, 1, low_open=True) == 0.5 and checks.number('--n', 3) == 3
    for value, message in ((float('nan'), 'a finite number above 0'), (float('inf'), 'a finite number above 0'),
                           (0.0, 'a finite number above 0'), (-1e-9, 'a finite number above 0')):
        with pytest.raises(UserError, match=rf'^--lr {value}: give {message}$'):
            checks.number('--lr', value, 0, low_open=True)
    with pytest.raises(UserError, match=r'^--beta1 1.0: give a finite number in \[0, 1\)$'):
        checks.number('--beta1', 1.0, 0, 1, high_open=True)
    with pytest.raises(UserError, match=r'^--ngf 0: give a whole number of at least 1$'):
        checks.number('--ngf', 0, 1)
    with pytest.raises(UserError, match=r'^--x 7: give a whole number of at most 6$'):
        checks.number('--x', 7, high=6)

    assert checks.writable_folder('--out', str(tmp_path / 'a' / 'b')) and not os.path.exists(tmp_path / 'a')
    (tmp_path / 'file').write_text('')
    with pytest.raises(UserError, match=rf'^--out {tmp_path}/file/b: {tmp_path}/file is a file, not a folder'):
        checks.writable_folder('--out', str(tmp_path / 'file' / 'b'))
    with pytest.raises(UserError, match='^--out is empty'):
        checks.writable_folder('--out', '')

    assert checks.readable_file('--vgg_path', str(tmp_path / 'file'))
    with pytest.raises(UserError, match=rf'^--vgg_path {tmp_path} is a folder, not a file$'):
        checks.readable_file('--vgg_path', str(tmp_path))
    with pytest.raises(UserError, match='does not exist'):
        checks.readable_file('--vgg_path', str(tmp_path / 'none'))


BAD_TRAIN_FLAGS = [
    (['--batchSize', '0'], '--batchSize 0: give a whole number of at least 1'),
    (['--ngf', '0'], '--ngf 0'),
    (['--ndf', '-8'], '--ndf -8'),
    (['--fineSize', '0', '--loadSize', '0'], '--loadSize 0'),
    (['--print_freq', '0'], '--print_freq 0'),
    (['--display_freq', '0'], '--display_freq 0'),
    (['--save_latest_freq', '0'], '--save_latest_freq 0'),
    (['--save_epoch_freq', '0'], '--save_epoch_freq 0'),  # crashed only after a whole epoch
    (['--lr', 'nan'], '--lr nan: give a finite number above 0'),
    (['--lr', 'inf'], '--lr inf'),
    (['--lr', '0'], '--lr 0.0'),
    (['--lr', '-0.1'], '--lr -0.1'),
    (['--beta1', '1'], '--beta1 1.0: give a finite number in [0, 1)'),
    (['--beta1', '-0.5'], '--beta1 -0.5'),
    (['--lambda_A', 'nan'], '--lambda_A nan'),
    (['--nThreads', '-1'], '--nThreads -1: give a whole number of at least 0'),
    (['--pool_size', '-1'], '--pool_size -1'),
    (['--niter_decay', '-1'], '--niter_decay -1'),
    (['--lr_decay_iters', '0'], '--lr_decay_iters 0'),
    (['--seed', '-1'], '--seed -1: give a whole number in [0, 4294967295]'),
    (['--seed', str(2 ** 32)], f'--seed {2 ** 32}'),
    (['--input_nc', '2'], '--input_nc 2: images have 1 (grayscale) or 3 (RGB) channels'),
    (['--output_nc', '4'], '--output_nc 4'),
    (['--model', 'cycle_gan', '--input_nc', '1'], '--identity 0.5 compares G_A(b) with b, which needs --input_nc 1 '
                                                  '== --output_nc 3: pass --identity 0'),
    (['--model', 'recycle_gan', '--identity', '0.5', '--output_nc', '1'], '--identity 0.5'),
    (['--name', ''], "--name '': give a plain name"),
    (['--name', '..'], "--name '..'"),
    (['--name', 'a/../..'], "--name 'a/../..'"),
    (['--name', '/tmp/run'], "--name '/tmp/run'"),
    (['--max_dataset_size', '0'], '--max_dataset_size 0'),
    (['--max_dataset_size', '-1'], '--max_dataset_size -1'),  # used to drop the last file silently
    (['--epoch_count', '3', '--niter', '1', '--niter_decay', '1'],
     'nothing to train: --epoch_count is at epoch 3, past the last epoch --niter 1 + --niter_decay 1 = 2'),
    (['--niter', '0', '--niter_decay', '0'], 'nothing to train'),
    (['--display_id', '1', '--display_port', '70000'], '--display_port 70000: give a whole number in [1, 65535]'),
    (['--epoch_count', '0'], '--epoch_count 0: give a whole number of at least 1'),
    (['--loadSize', '100000', '--fineSize', '100000'], '--loadSize 100000: give a whole number in [1, 8192]'),
    (['--dataroot', ''], '--dataroot is empty: give a folder'),  # was "trainA is not a folder"
    (['--which_epoch', ''], '--which_epoch is empty: give latest or an epoch number'),
    # the unsup model's own flags: inf crashed the first step with a segfault, nan was blamed on --lr
    (['--model', 'unsup_recycle_gan', '--motion_level', 'inf'],
     '--motion_level inf: give a finite number of at least 0'),
    (['--model', 'unsup_recycle_gan', '--noise_level', 'nan'], '--noise_level nan'),
    (['--model', 'unsup_recycle_gan', '--shift_level', '1e9'], '--shift_level 1000000000.0: give a finite number in '
                                                               '[0, 1000000]'),
    (['--model', 'unsup_recycle_gan', '--lambda_spa_unsup_B', 'inf'], '--lambda_spa_unsup_B inf'),
    (['--model', 'unsup_recycle_gan', '--lambda_content_A', '-1'], '--lambda_content_A -1.0'),  # was ignored
    (['--model', 'unsup_recycle_gan', '--lambda_content_A', '1'], '--lambda_content_A > 0 needs the VGG encoder'),
    (['--model', 'unsup_recycle_gan', '--lambda_content_B', '1', '--vgg_path', '/nonexistent.pth'],
     '--vgg_path /nonexistent.pth does not exist'),
    (['--dataset_mode', 'video', '--epoch_size', '-1'], '--epoch_size -1: give a whole number of at least 0'),
]


@pytest.mark.parametrize('args, message', BAD_TRAIN_FLAGS, ids=[' '.join(a) for a, _ in BAD_TRAIN_FLAGS])
def test_a_bad_training_flag_is_one_line_before_anything_is_written(args, message, tiny_data, tmp_path, capsys):
    # one short epoch unless args say otherwise: should a check be missing, the run ends soon
    line = one_error_line(train.main, ['--dataroot', tiny_data, *TINY, '--checkpoints_dir', str(tmp_path / 'ck'),
                                       '--name', 'run', '--niter', '1', '--niter_decay', '0', *args], capsys)
    assert message in line, line
    assert not os.path.exists(tmp_path / 'ck')  # failed before building anything, so wrote nothing


BAD_TEST_FLAGS = [
    (['--aspect_ratio', '0'], '--aspect_ratio 0.0: give a finite number in [0.001, 1000]'),
    (['--aspect_ratio', 'inf'], '--aspect_ratio inf'),
    (['--fps', '0'], '--fps 0.0: give a finite number in [0.001, 10000]'),
    (['--how_many', '0'], '--how_many 0'),
    (['--seed', '-3'], '--seed -3'),
]


@pytest.mark.parametrize('args, message', BAD_TEST_FLAGS, ids=[' '.join(a) for a, _ in BAD_TEST_FLAGS])
def test_a_bad_test_flag_is_one_line(args, message, tiny_data, tmp_path, capsys):
    line = one_error_line(test_py.main, ['--dataroot', tiny_data, *TINY, '--results_dir', str(tmp_path / 'r'),
                                         '--checkpoints_dir', str(tmp_path), *args], capsys)
    assert message in line, line
    assert not os.path.exists(tmp_path / 'r')


def test_a_vgg_path_for_a_content_loss_that_is_off_is_said_to_be_unused(tmp_path, capsys):
    train_options(tmp_path, '--model', 'unsup_recycle_gan', '--vgg_path', str(tmp_path / 'vgg.pth'))
    assert f'warning: --vgg_path {tmp_path / "vgg.pth"} is not used: the content loss is off' in capsys.readouterr().err


@pytest.mark.parametrize('main, flag', [(train.main, '--checkpoints_dir'), (test_py.main, '--results_dir')])
def test_an_output_folder_that_is_a_file_or_unwritable_is_one_line(main, flag, tiny_data, tmp_path, capsys):
    (tmp_path / 'file').write_text('')
    argv = ['--dataroot', tiny_data, *TINY, '--checkpoints_dir', str(tmp_path), '--name', 'run']
    line = one_error_line(main, [*argv, flag, str(tmp_path / 'file' / 'sub')], capsys)
    assert line == f'error: {flag} {tmp_path}/file/sub: {tmp_path}/file is a file, not a folder; give a folder'
    if os.geteuid() != 0:  # root writes anywhere
        os.makedirs(tmp_path / 'locked')
        os.chmod(tmp_path / 'locked', 0o500)
        line = one_error_line(main, [*argv, flag, str(tmp_path / 'locked' / 'out')], capsys)
        assert f'cannot write to {tmp_path}/locked (permission denied)' in line


SCRIPT_ERRORS = [
    ('train.py', ['--dataroot', 'x', '--bogus'], 'unrecognized arguments: --bogus'),
    ('test.py', ['--dataroot', 'x', '--video'], 'argument --video: expected one argument'),
    ('scripts/evaluate.py', [], 'the following arguments are required: --pred'),
    ('scripts/evaluate.py', ['--pred', '', '--input', ''], "--pred '' does not exist"),  # was blamed on --dataroot
    ('scripts/evaluate.py', ['--pred', 'docs/images', '--input', 'docs/images', '--motion', 'README.md'],
     '--motion README.md is not a folder'),
    ('scripts/compare.py', ['--niter', 'x'], "argument --niter: invalid int value: 'x'"),
    ('scripts/compare.py', ['--ngf', '0'], '--ngf 0: give a whole number of at least 1'),
    ('scripts/make_benchmark.py', ['--size', '8'], '--size 8: give a whole number in [32, 4096]'),
    ('scripts/make_benchmark.py', ['--styles', 'fog'], "--styles fog: 'fog' is not one of"),
    ('scripts/benchmark.py', ['--steps', '0'], '--steps 0: give a whole number of at least 1'),
    ('scripts/make_demo_data.py', ['--frames', '2'], '--frames 2: give a whole number of at least 3'),
    ('scripts/video_to_frames.py', ['--src'], 'argument --src: expected one argument'),
    ('scripts/video_to_triplets.py', ['--src', 'x', '--out', 'y', '--size', '-1'], '--size -1: give a whole number in '
                                                                                   '[0, 8192]'),
    ('scripts/check_numerics.py', ['--all=1'], "argument --all: ignored explicit argument '1'"),
    ('scripts/gpu_check.py', ['--sizes', '256,big'], '--sizes 256,big: give comma-separated sizes'),
    ('scripts/bench_video_loader.py', ['--steps', 'many'], "argument --steps: invalid int value: 'many'"),
    ('scripts/sweep.py', ['report', '--minutes', 'nan'], '--minutes nan: give a finite number of at least 0'),
    ('scripts/retarget_sheet.py', ['x.mp4', '--out', 'y.png'], 'video x.mp4 does not exist'),
    ('util/dashboard.py', ['--port', 'http'], "argument --port: invalid int value: 'http'"),
    ('util/visdom_assets.py', ['--list', 'now'], 'unrecognized arguments: now'),
]


@pytest.mark.parametrize('script, args, message', SCRIPT_ERRORS,
                         ids=[f'{s} {" ".join(a)}' for s, a, _ in SCRIPT_ERRORS])
def test_every_entry_point_says_a_bad_flag_in_one_line(script, args, message, tmp_path, capsys, monkeypatch):
    """Not argparse's usage block: one line naming the flag and pointing to --help, before any work."""
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(script[:-3].replace('/', '.'))
    line = one_error_line(module.main, args, capsys)
    assert message in line, line
    if 'argument' in message:  # argparse's own errors point to the script's --help
        assert line.endswith(f'(python {script} --help)'), line


@pytest.mark.parametrize('port', ['70000', '0', '-1'])
def test_the_dashboard_refuses_a_port_it_cannot_listen_on(port, capsys, monkeypatch):
    def listen(*args, **kwargs):  # should the check be missing: fail here, rather than serve on some port
        raise AssertionError('the port was not checked before listening')
    monkeypatch.setattr(dashboard, 'bind_sockets', listen)
    line = one_error_line(dashboard.main, ['--port', port], capsys)
    assert line == f'error: --port {port}: give a whole number in [1, 65535]'


# -- images ---------------------------------------------------------------------------------------------
def dataset_opt(tmp_path, root, *args):
    return train_options(tmp_path / 'ck', '--dataroot', str(root), '--model', 'cycle_gan', *args)


def image_folders(root, A, B=None):
    """<root>/trainA and trainB holding {name: PIL image} each (B: one 32x32 image by default)."""
    for folder, images in (('trainA', A), ('trainB', B or {'b.png': Image.new('RGB', (32, 32))})):
        os.makedirs(root / folder, exist_ok=True)
        for name, image in images.items():
            image.save(root / folder / name)
    return root


def test_a_16_bit_png_is_scaled_to_8_bits(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], np.uint16).repeat(2, 0)
    Image.fromarray(values).save(tmp_path / 'deep.png')
    assert Image.open(tmp_path / 'deep.png').mode.startswith('I')  # PIL reads it as 16-bit integers
    image = np.asarray(load_image(tmp_path / 'deep.png'))
    # v * 255 / 65535 = v / 257, rounded: 32768 / 257 = 127.5 -> 128 (convert('RGB') gave 255 for all but 0)
    assert image.shape == (2, 4, 3) and image[0, :, 0].tolist() == [0, 1, 128, 255]


def test_a_float_tiff_in_0_1_is_scaled_and_one_out_of_range_is_refused(tmp_path):
    Image.fromarray(np.array([[0.0, 0.25, 0.5, 1.0]], np.float32)).save(tmp_path / 'float.tif')
    assert np.asarray(load_image(tmp_path / 'float.tif'))[0, :, 1].tolist() == [0, 64, 128, 255]  # 63.75 -> 64
    Image.fromarray(np.array([[0.0, 300.0]], np.float32)).save(tmp_path / 'hdr.tif')
    with pytest.raises(UserError, match=r'hdr.tif: a F image with values from 0 to 300, which is not float in '
                                        r'\[0, 1\]; save it as an 8-bit image'):
        load_image(tmp_path / 'hdr.tif')


def test_the_exif_orientation_is_applied(tmp_path):
    image = Image.new('RGB', (64, 32), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 32, 32))  # left half red, as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show the stored image rotated 90 degrees clockwise
    image.save(tmp_path / 'phone.jpg', exif=exif, quality=95)
    upright = np.asarray(load_image(tmp_path / 'phone.jpg')).astype(int)
    assert upright.shape == (64, 32, 3) and image_size(tmp_path / 'phone.jpg') == (32, 64)
    assert upright[8, 16, 0] > 200 and upright[8, 16, 2] < 50  # the stored left half is now on top
    assert upright[56, 16, 2] > 200 and upright[56, 16, 0] < 50


def test_a_decompression_bomb_is_one_line_naming_the_file(tmp_path, monkeypatch):
    root = image_folders(tmp_path / 'data', {'a.png': Image.new('RGB', (32, 32)), 'big.png': Image.new('1', (64, 64))})
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 1000)  # PIL refuses images over twice this (4096 > 2000)
    with pytest.raises(UserError, match=r'trainA/big.png: Image size \(4096 pixels\) exceeds limit .* decompression '
                                        r'bomb .*; scale the image down'):
        create_dataset(dataset_opt(tmp_path, root))
    with pytest.raises(UserError, match='big.png: Image size'):
        load_image(root / 'trainA' / 'big.png')


def test_an_image_smaller_than_the_crop_is_named_with_its_size(tmp_path):
    root = image_folders(tmp_path / 'data', {'a.png': Image.new('RGB', (32, 32)),
                                             'small.png': Image.new('RGB', (24, 40))})
    with pytest.raises(UserError, match=r'trainA/small.png is 24x40, 24x40 after --resize_or_crop crop: smaller than '
                                        r'the --fineSize 32 crop'):
        create_dataset(dataset_opt(tmp_path, root, '--resize_or_crop', 'crop'))
    wide = image_folders(tmp_path / 'wide', {'wide.png': Image.new('RGB', (40, 24))})
    with pytest.raises(UserError, match=r'wide.png is 40x24, 64x38 after --resize_or_crop scale_width_and_crop: '
                                        r'smaller than the --fineSize 64 crop'):
        create_dataset(dataset_opt(tmp_path, wide, '--resize_or_crop', 'scale_width_and_crop', '--loadSize', '64',
                                   '--fineSize', '64'))


def test_images_of_different_sizes_in_one_batch_without_a_crop_are_named(tmp_path):
    root = image_folders(tmp_path / 'data', {'a.png': Image.new('RGB', (32, 32)), 'b.png': Image.new('RGB', (32, 48))})
    with pytest.raises(UserError, match=r'trainA/b.png is 32x48 after --resize_or_crop none, .*trainA/a.png 32x32: '
                                        r'the images of a batch \(--batchSize 2\) need one size'):
        create_dataset(dataset_opt(tmp_path, root, '--resize_or_crop', 'none', '--batchSize', '2'))
    loader = create_dataset(dataset_opt(tmp_path, root, '--resize_or_crop', 'none', '--batchSize', '1'))
    assert {tuple(batch['A'].shape[2:]) for batch in loader} == {(32, 32), (48, 32)}  # one at a time: fine


def test_a_broken_file_is_found_before_training_starts(tmp_path):
    images = {f'{i}.png': Image.new('RGB', (32, 32)) for i in range(5)}
    root = image_folders(tmp_path / 'data', images)
    (root / 'trainA' / '4.png').write_bytes(b'\x89PNG\r\n\x1a\n garbage')
    with pytest.raises(UserError, match='trainA/4.png: cannot read this image'):
        create_dataset(dataset_opt(tmp_path, root))  # the scan, before any example is drawn


def test_a_strip_not_three_frames_wide_is_found_by_the_scan(tmp_path):
    root = image_folders(tmp_path / 'data', {'a.png': Image.new('RGB', (96, 32)), 'b.png': Image.new('RGB', (95, 32))},
                         {'b.png': Image.new('RGB', (96, 32))})
    with pytest.raises(UserError, match='trainA/b.png is 95 pixels wide, not a multiple of 3'):
        create_dataset(dataset_opt(tmp_path, root, '--dataset_mode', 'unaligned_triplet'))


def test_odd_but_valid_images_train(tmp_path):
    """16-bit grayscale, float, palette, RGBA and a rotated JPEG side by side load as examples in [-1, 1]."""
    deep = Image.fromarray((np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) * 60))
    images = {'deep.png': deep, 'float.tif': Image.fromarray(np.full((32, 32), 0.5, np.float32)),
              'palette.png': Image.new('P', (32, 32), 3), 'alpha.png': Image.new('RGBA', (32, 32), (9, 9, 9, 0)),
              'gray.png': Image.new('L', (32, 32), 200)}
    root = image_folders(tmp_path / 'data', images)
    loader = create_dataset(dataset_opt(tmp_path, root, '--serial_batches', '--batchSize', '5'))
    batch = next(iter(loader))
    assert batch['A'].shape == (5, 3, 32, 32) and batch['A'].min() >= -1 and batch['A'].max() <= 1
    deep = batch['A'][[os.path.basename(p) for p in batch['A_paths']].index('deep.png')]
    assert deep.std() > 0.3  # the 16-bit gradient kept its range, not clipped to white


def test_the_scan_on_several_processes_gives_the_sizes_in_order_and_the_first_broken_file(tmp_path, monkeypatch):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip('one CPU core: the scan runs in this process only')
    monkeypatch.setattr(base_dataset, 'SCAN_CHUNK', 2)  # 8 files: several processes, as 100,000 would be
    paths = []
    for i in range(8):
        paths.append(tmp_path / f'{i}.png')
        Image.new('RGB', (10 + i, 20)).save(paths[-1])
    assert base_dataset.scan_images(paths) == [(10 + i, 20) for i in range(8)]
    for i in (5, 6):
        paths[i].write_bytes(b'broken')
    with pytest.raises(UserError, match='5.png: cannot read this image'):
        base_dataset.scan_images(paths)
