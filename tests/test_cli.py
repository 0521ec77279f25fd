"""train.py and test.py as a user runs them: every file written, checkpoints that load, clear errors."""
import os
import re

import pytest
import torch

from conftest import TINY, run_script as run, train_options
from models import create_model
from models.base_model import load_state_dict_file
from util.errors import UserError

NETS = ['G_A', 'G_B', 'P_A', 'P_B', 'D_A', 'D_B']


@pytest.fixture(scope='module')
def trained(tiny_data, tmp_path_factory):
    """Two epochs of recycle_gan on the tiny data (8 triplets), with a dead visdom server."""
    checkpoints = tmp_path_factory.mktemp('checkpoints')
    result = run('train.py', '--dataroot', tiny_data, '--name', 'tiny', '--checkpoints_dir', str(checkpoints),
                 '--model', 'recycle_gan', '--niter', '1', '--niter_decay', '1', '--print_freq', '4',
                 '--display_freq', '4', '--update_html_freq', '8', '--save_latest_freq', '6', '--seed', '0',
                 '--pool_size', '0', *TINY, '--display_id', '1', '--display_port', '9')
    return checkpoints / 'tiny', result


def test_train_writes_every_file(trained):
    folder, result = trained
    files = set(os.listdir(folder))
    assert {f'{label}_net_{n}.pth' for label in ('latest', '1', '2') for n in NETS} <= files
    assert {'opt.txt', 'loss_log.txt', 'web'} <= files
    assert 'model: recycle_gan' in (folder / 'opt.txt').read_text()

    log = (folder / 'loss_log.txt').read_text().splitlines()
    assert log[0].startswith('================ Training Loss')
    lines = [line for line in log[1:] if line.startswith('(epoch')]
    assert len(lines) == 4  # every 4 examples, 8 examples per epoch, 2 epochs
    assert [re.match(r'\(epoch: (\d+), iters: (\d+)', line).groups() for line in lines] == \
        [('1', '4'), ('1', '8'), ('2', '4'), ('2', '8')]
    names = re.findall(r'(\w+): [-\d.]+', lines[0].split(') ', 1)[1])
    assert names == ['D_A', 'G_A', 'Recyc_A', 'Pred_A', 'D_B', 'G_B', 'Recyc_B', 'Pred_B']

    page = (folder / 'web' / 'index.html').read_text()
    assert 'epoch [2]' in page and 'epoch [1]' in page
    images = set(os.listdir(folder / 'web' / 'images'))
    for epoch in (1, 2):
        for label in ('real_A0', 'real_A2', 'fake_B0', 'fake_B2', 'rec_A', 'pred_A', 'pred_B'):
            assert f'epoch{epoch:03d}_{label}.png' in images
            assert f'images/epoch{epoch:03d}_{label}.png' in page


def test_a_dead_dashboard_costs_one_warning(trained):
    _, result = trained
    warnings = [line for line in result.stderr.splitlines() if 'visdom' in line]
    assert len(warnings) == 1 and 'training goes on' in warnings[0]
    assert 'Traceback' not in result.stderr


def test_checkpoints_load_strictly_into_a_fresh_model(trained, tmp_path):
    folder, _ = trained
    opt = train_options(tmp_path, '--model', 'recycle_gan', '--continue_train', '--which_epoch', '2',
                        '--name', 'tiny')
    opt.checkpoints_dir = str(folder.parent)
    model = create_model(opt)
    model.setup(opt)
    for name in NETS:
        saved = torch.load(folder / f'2_net_{name}.pth', weights_only=True)
        assert all(torch.equal(model.network(name).state_dict()[k], v) for k, v in saved.items())


def test_checkpoint_of_another_architecture_names_the_keys(trained, tmp_path):
    folder, _ = trained
    from models import networks
    net = networks.define_G(3, 3, 8, 'resnet_9blocks')
    with pytest.raises(UserError, match=r'latest_net_G_A.pth is from another architecture '
                                        r'\(missing model.16.conv_block.1.weight \(\+15 more\)'):
        load_state_dict_file(net, str(folder / 'latest_net_G_A.pth'))
    with pytest.raises(UserError, match='does not exist'):
        load_state_dict_file(net, str(folder / 'nothing.pth'))
    truncated = tmp_path / 'cut.pth'
    truncated.write_bytes((folder / 'latest_net_G_A.pth').read_bytes()[:1000])
    with pytest.raises(UserError, match='not a readable checkpoint'):
        load_state_dict_file(net, str(truncated))


@pytest.mark.parametrize('mode', ['unaligned', 'single'])
def test_test_py_translates_both_domains(trained, tiny_data, tmp_path, mode):
    folder, _ = trained
    run('test.py', '--dataroot', tiny_data, '--name', 'tiny', '--checkpoints_dir', str(folder.parent),
        '--results_dir', str(tmp_path), '--model', 'recycle_gan', '--dataset_mode', mode, '--how_many', '4',
        '--eval', *TINY)
    out = tmp_path / 'tiny' / 'test_latest'
    page = (out / 'index.html').read_text()
    images = set(os.listdir(out / 'images'))
    # unaligned: pairs (testA i, testB i) named after the A frame; single: each folder on its own
    # (the tiny testA and testB frames have the same names)
    labels = ['real_A', 'fake_B', 'rec_A', 'real_B', 'fake_A', 'rec_B']
    expected = {f'clip00_{i:04d}_{label}.png' for i in range(4) for label in labels}
    assert images == expected
    assert all(f'images/{name}' in page for name in expected)
    assert (out / 'opt.txt').exists()


def test_test_model_translates_a_folder_with_one_generator(trained, tiny_data, tmp_path):
    folder, _ = trained
    run('test.py', '--dataroot', os.path.join(tiny_data, 'testB'), '--name', 'tiny', '--model', 'test',
        '--model_suffix', '_B', '--checkpoints_dir', str(folder.parent), '--results_dir', str(tmp_path),
        '--how_many', '3', *TINY)
    images = sorted(os.listdir(tmp_path / 'tiny' / 'test_latest' / 'images'))
    assert images == [f'clip00_{i:04d}_{label}.png' for i in range(3) for label in ('fake', 'real')]


def test_bad_input_is_one_line_and_exit_code_2(tiny_data, tmp_path):
    cases = [
        (['--dataroot', str(tmp_path / 'nowhere')], 'is not a folder'),
        (['--dataroot', tiny_data, '--which_model_netG', 'resnet_3blocks'], "--which_model_netG 'resnet_3blocks'"),
        (['--dataroot', tiny_data, '--model', 'recycle_gan', '--dataset_mode', 'unaligned'],
         'trains on triplets of consecutive frames'),
    ]
    for args, message in cases:
        result = run('train.py', *TINY, '--checkpoints_dir', str(tmp_path), *args, check=False)
        assert result.returncode == 2, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
        assert len(errors) == 1 and message in errors[0], result.stderr
        assert 'Traceback' not in result.stderr
    result = run('test.py', '--dataroot', tiny_data, '--name', 'untrained', '--checkpoints_dir', str(tmp_path),
                 '--results_dir', str(tmp_path), *TINY, check=False)
    assert result.returncode == 2 and 'latest_net_G_A.pth does not exist' in result.stderr
