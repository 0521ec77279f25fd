"""Any input: every bad flag or file gets one line naming it and exit status 2, before anything is built
or written; odd but valid files (16-bit, float, rotated) load as a user would expect."""
import os

import pytest

import test as test_py
import train
from conftest import TINY
from util import dashboard
from util.errors import run_cli


def one_error_line(main, argv, capsys):
    """Run main(argv) as the command line does; the single `error:` line it printed (exit status 2)."""
    with pytest.raises(SystemExit) as exit_:
        run_cli(main, argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'Traceback' not in err, err
    return errors[0]


BAD_TRAIN_FLAGS = [
    (['--batchSize', '0'], '--batchSize 0: give a whole number of 1 or more'),
    (['--ngf', '0'], '--ngf 0'),
    (['--ndf', '-8'], '--ndf -8'),
    (['--fineSize', '0', '--loadSize', '0'], '--loadSize 0'),
    (['--print_freq', '0'], '--print_freq 0'),
    (['--display_freq', '0'], '--display_freq 0'),
    (['--save_latest_freq', '0'], '--save_latest_freq 0'),
    (['--save_epoch_freq', '0'], '--save_epoch_freq 0'),  # crashed only after a whole epoch
    (['--lr', 'nan'], '--lr nan: give a finite learning rate above 0'),
    (['--lr', 'inf'], '--lr inf'),
    (['--lr', '0'], '--lr 0.0'),
    (['--lr', '-0.1'], '--lr -0.1'),
    (['--beta1', '1'], '--beta1 1.0: give a number in [0, 1)'),
    (['--beta1', '-0.5'], '--beta1 -0.5'),
    (['--lambda_A', 'nan'], '--lambda_A nan'),
    (['--nThreads', '-1'], '--nThreads -1: give 0 or more'),
    (['--pool_size', '-1'], '--pool_size -1'),
    (['--niter_decay', '-1'], '--niter_decay -1'),
    (['--lr_decay_iters', '0'], '--lr_decay_iters 0'),
    (['--seed', '-1'], '--seed -1: give a number from 0 to 4294967295'),
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
    (['--display_id', '1', '--display_port', '70000'], '--display_port 70000: a port is a number from 1 to 65535'),
]


@pytest.mark.parametrize('args, message', BAD_TRAIN_FLAGS, ids=[' '.join(a) for a, _ in BAD_TRAIN_FLAGS])
def test_a_bad_training_flag_is_one_line_before_anything_is_written(args, message, tiny_data, tmp_path, capsys):
    line = one_error_line(train.main, ['--dataroot', tiny_data, *TINY, '--checkpoints_dir', str(tmp_path / 'ck'),
                                       '--name', 'run', *args], capsys)
    assert message in line, line
    assert not os.path.exists(tmp_path / 'ck')  # failed before building anything, so wrote nothing


BAD_TEST_FLAGS = [
    (['--aspect_ratio', '0'], '--aspect_ratio 0.0: give a width/height ratio above 0'),
    (['--aspect_ratio', 'inf'], '--aspect_ratio inf'),
    (['--fps', '0'], '--fps 0.0: give a frame rate above 0'),
    (['--how_many', '0'], '--how_many 0'),
    (['--seed', '-3'], '--seed -3'),
]


@pytest.mark.parametrize('args, message', BAD_TEST_FLAGS, ids=[' '.join(a) for a, _ in BAD_TEST_FLAGS])
def test_a_bad_test_flag_is_one_line(args, message, tiny_data, tmp_path, capsys):
    line = one_error_line(test_py.main, ['--dataroot', tiny_data, *TINY, '--results_dir', str(tmp_path / 'r'),
                                         '--checkpoints_dir', str(tmp_path), *args], capsys)
    assert message in line, line
    assert not os.path.exists(tmp_path / 'r')


@pytest.mark.parametrize('port', ['70000', '0', '-1'])
def test_the_dashboard_refuses_a_port_it_cannot_listen_on(port, capsys):
    line = one_error_line(dashboard.main, ['--port', port], capsys)
    assert line == f'error: --port {port}: a port is a number from 1 to 65535'
