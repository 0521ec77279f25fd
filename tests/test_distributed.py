"""torchrun: several CPU processes (gloo) train as one, and only the first one writes."""
import os
import re
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, TINY, run_script
from models import create_model
from util import checkpoint

NETS = ['G_A', 'G_B', 'P_A', 'P_B', 'D_A', 'D_B']
DDP = [*TINY, '--model', 'recycle_gan', '--pool_size', '0', '--seed', '5']


def torchrun(*args, nproc=2, log_dir=None):
    command = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(nproc),
               '--standalone'] + (['--log-dir', str(log_dir), '--redirects', '3'] if log_dir else []) + list(args)
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600,
                            env={**os.environ, 'OMP_NUM_THREADS': '1'})
    if result.returncode != 0:
        raise AssertionError(f'torchrun failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}')
    return result


def test_processes_keep_identical_weights(tmp_path):
    out = tmp_path / 'out.pt'
    torchrun('tests/ddp_worker.py', str(out), '3', *DDP, '--checkpoints_dir', str(tmp_path), '--dataroot', 'x')
    checksums = torch.load(out, weights_only=True)['checksums']
    assert len(checksums) == 2 and checksums[0] == checksums[1]


def test_two_processes_of_batch_1_equal_one_of_batch_2(tmp_path):
    """Gradients averaged over two processes with one example each are those of one batch of both."""
    from options.train_options import TrainOptions
    sys.path.insert(0, os.path.join(ROOT, 'tests'))
    from ddp_worker import batch, example
    out = tmp_path / 'out.pt'
    torchrun('tests/ddp_worker.py', str(out), '1', '--float64', *DDP, '--checkpoints_dir', str(tmp_path),
             '--dataroot', 'x')
    distributed = torch.load(out, weights_only=True)

    torch.set_default_dtype(torch.float64)
    try:
        opt = TrainOptions().parse([*DDP, '--batchSize', '2', '--checkpoints_dir', str(tmp_path), '--dataroot', 'x'])
        torch.manual_seed(opt.seed)
        model = create_model(opt)
        model.setup(opt)
        model.set_input(batch([example(0, opt), example(1, opt)]))
        model.optimize_parameters()
    finally:
        torch.set_default_dtype(torch.float32)
    for name in NETS:
        for key, value in distributed['weights'][name].items():
            # a conv bias before a norm layer has a true gradient of 0, so Adam moves it by noise
            atol = 1e-7 if key.endswith('bias') else 1e-9
            torch.testing.assert_close(model.network(name).state_dict()[key], value, rtol=1e-7, atol=atol,
                                       msg=f'{name}.{key}')


def test_only_the_first_process_writes(tiny_data, tmp_path):
    torchrun('train.py', '--dataroot', tiny_data, '--checkpoints_dir', str(tmp_path / 'ck'), '--name', 'ddp',
             *DDP, '--niter', '1', '--niter_decay', '0', '--print_freq', '2', '--display_freq', '2',
             '--update_html_freq', '4', log_dir=tmp_path / 'logs')
    folder = tmp_path / 'ck' / 'ddp'
    expected = {f'{label}_net_{n}.pth' for label in ('latest', '1') for n in NETS}
    expected |= {'opt.txt', 'loss_log.txt', 'web', checkpoint.STATE_FILE, 'latest_nets.json', '1_nets.json'}
    assert set(os.listdir(folder)) == expected  # no temporary or duplicate files
    log = (folder / 'loss_log.txt').read_text().splitlines()
    assert log[0].startswith('====') and len(log) == 5  # 8 examples in steps of 2 x 1, printed every 2
    assert [int(re.search(r'iters: (\d+)', line)[1]) for line in log[1:]] == [2, 4, 6, 8]
    outputs = {p.parent.name: p.read_text() for p in (tmp_path / 'logs').rglob('stdout.log')}
    assert sorted(outputs) == ['0', '1']
    assert 'global batch 2 x 1 = 2' in outputs['0'] and outputs['1'] == ''


def test_resume_across_process_counts(tiny_data, tmp_path):
    args = ['--dataroot', tiny_data, '--checkpoints_dir', str(tmp_path), '--name', 'mixed', *DDP,
            '--niter', '3', '--niter_decay', '0', '--print_freq', '4']
    run_script('train.py', *args, '--niter', '1')  # epoch 1 in one process
    torchrun('train.py', *args, '--niter', '2', '--continue_train')  # epoch 2 in two
    run_script('train.py', *args, '--continue_train')  # epoch 3 in one again
    state = checkpoint.load(tmp_path / 'mixed' / checkpoint.STATE_FILE)
    assert state['progress']['epoch'] == 4 and state['progress']['total_steps'] == 24
    segments = (tmp_path / 'mixed' / 'loss_log.txt').read_text().split('================ Training Loss')[1:]
    epochs = [sorted({int(e) for e in re.findall(r'epoch: (\d+)', s)}) for s in segments]
    assert epochs == [[1], [2], [3]]
    saved = torch.load(tmp_path / 'mixed' / 'latest_net_G_A.pth', weights_only=True)
    assert list(saved) == list(state['nets']['G_A'])  # the authors' keys, no 'module.' prefix
    assert all(torch.equal(saved[k], v) for k, v in state['nets']['G_A'].items())
