"""Shared helpers: the repository on sys.path, a tiny synthetic dataset, and tiny options."""
import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, 'tests', 'reference')  # measured on the authors' code, see its README
sys.path.insert(0, ROOT)

from scripts.make_demo_data import write_dataset  # noqa: E402

# 32 px frames and 8-filter networks: every test runs on the CPU in seconds
TINY = ['--gpu_ids', '-1', '--display_id', '0', '--nThreads', '0', '--loadSize', '32', '--fineSize', '32',
        '--ngf', '8', '--ndf', '8', '--npf', '2', '--which_model_netG', 'resnet_6blocks',
        '--which_model_netP', 'unet_32', '--no_dropout']


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """trainA/B: 8 strips of 3 frames each (2 clips of 6 frames); testA/B: 6 frames; 32 px."""
    root = tmp_path_factory.mktemp('data')
    write_dataset(str(root), size=32, train_clips=2, test_clips=1, frames=6, seed=0)
    return str(root)


def run_script(script, *args, check=True, timeout=300):
    """Run one of the repository's scripts in a subprocess, as a user would; returns the CompletedProcess."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, script), *args], capture_output=True, text=True,
                            cwd=ROOT, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f'{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}')
    return result


def one_error_line(main, argv, capsys):
    """Run main(argv) as the command line does; the single `error:` line it printed (exit status 2)."""
    from util.errors import run_cli
    with pytest.raises(SystemExit) as exit_:
        run_cli(main, argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'Traceback' not in err, err
    return errors[0]


def train_options(checkpoints_dir, *args, dataroot='/nonexistent', tiny=True):
    """TrainOptions for argv = tiny flags + args (opt.txt goes under checkpoints_dir)."""
    from options.train_options import TrainOptions
    argv = ['--dataroot', dataroot, '--checkpoints_dir', str(checkpoints_dir)] + (TINY if tiny else []) + list(args)
    return TrainOptions().parse(argv)


def pytest_sessionfinish(session, exitstatus):
    from numerics import write_margins
    write_margins()
