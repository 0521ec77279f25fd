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


def torchrun(*args, nproc=2, log_dir=None, timeout=300, check=True):
    """Run torchrun on one node. The processes meet on 127.0.0.1: by default torchrun hands them the
    machine's hostname, and where that does not resolve (a container missing from /etc/hosts) it retries
    for minutes instead of failing. `timeout` (seconds) turns a hang into a failure naming it."""
    command = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(nproc), '--standalone',
               '--local-addr', '127.0.0.1'] + (['--log-dir', str(log_dir), '--redirects', '3'] if log_dir else [])
    try:
        result = subprocess.run(command + list(args), capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                                env={**os.environ, 'OMP_NUM_THREADS': '1'})
    except subprocess.TimeoutExpired as err:
        output = [o.decode(errors='replace') if isinstance(o, bytes) else o or '' for o in (err.stdout, err.stderr)]
        raise AssertionError(f'torchrun did not finish in {timeout} s:\n{output[0][-3000:]}\n{output[1][-3000:]}'
                             ) from None
    if check and result.returncode != 0:
        raise AssertionError(f'torchrun failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}')
    return result


def worker(tmp_path, steps, *flags):
    """tests/ddp_worker.py under torchrun (2 processes): what its first process saved."""
    out = tmp_path / 'out.pt'
    torchrun('tests/ddp_worker.py', str(out), str(steps), *flags, *DDP, '--checkpoints_dir', str(tmp_path),
             '--dataroot', 'x')
    return torch.load(out, weights_only=True)


def test_processes_keep_identical_weights(tmp_path):
    checksums = worker(tmp_path, 3)['checksums']
    assert len(checksums) == 2 and checksums[0] == checksums[1]


@pytest.mark.skipif(not os.path.isdir('/proc/self/task'), reason='lists threads through Linux /proc')
def test_teardown_stops_every_gloo_thread(tmp_path):
    """A thread of the process group still running when the interpreter shuts down can abort the process
    ("terminate called without an active exception"), so teardown must leave none: not even after an
    optimizer's first use imports torch.distributed.nn.functional, whose defaults would hold the group."""
    worker(tmp_path, 1)
    for rank in (0, 1):
        threads = (tmp_path / f'out.pt.threads{rank}').read_text().splitlines()
        assert not [name for name in threads if 'gloo' in name], threads


def test_gradients_averaged_over_two_processes_equal_those_of_one_batch_of_both(tmp_path):
    """Each process backpropagates one example; after averaging, every gradient of every network is the
    gradient of one process's batch of both, in float64, also when the gradients travel in many buckets."""
    from options.train_options import TrainOptions
    sys.path.insert(0, os.path.join(ROOT, 'tests'))
    from ddp_worker import Recorder, batch, example
    two_processes = worker(tmp_path, 1, '--float64', '--bucket_kb', '16')['grads']

    torch.set_default_dtype(torch.float64)
    try:
        opt = TrainOptions().parse([*DDP, '--batchSize', '2', '--checkpoints_dir', str(tmp_path), '--dataroot', 'x'])
        torch.manual_seed(opt.seed)
        model = create_model(opt)
        model.setup(opt)
        model.set_input(batch([example(0, opt), example(1, opt)]))
        with Recorder(model) as one_process:
            model.optimize_parameters()
    finally:
        torch.set_default_dtype(torch.float32)
    assert set(two_processes) == set(one_process.grads) == set(one_process.names.values())  # every parameter
    for name in NETS:
        grads = {k: g for k, g in one_process.grads.items() if k.startswith(name + '.')}
        scale = max(g.abs().max() for g in grads.values())
        for key, expected in grads.items():
            # both sum the same products in other orders: float64 rounding (2^-53 per operation, over at most
            # ~1e5 terms a sum) stays far below 1e-9 of the network's largest gradient; a conv bias before a
            # norm has a true gradient of 0, so both hold rounding noise at that scale
            torch.testing.assert_close(two_processes[key], expected, rtol=1e-9, atol=1e-9 * scale, msg=key)


@pytest.mark.parametrize('bucket_kb', [None, 16])
def test_each_step_issues_one_all_reduce_per_bucket(tmp_path, bucket_kb):
    """Gradients are averaged in buckets of at most BUCKET_BYTES (consecutive tensors; one larger tensor
    alone), one all_reduce each, the divergence guard's verdict riding in the first. At the default 25 MB
    every network fits one bucket: 4 all_reduces per recycle_gan iteration (the early predictor step, the
    generators', D_A's, D_B's) and no other collective."""
    from util.distributed import BUCKET_BYTES
    cap = BUCKET_BYTES if bucket_kb is None else bucket_kb * 1024
    saved = worker(tmp_path, 2, *([] if bucket_kb is None else ['--bucket_kb', str(bucket_kb)]))
    for all_reduces, averaged in zip(saved['all_reduces'], saved['averaged']):
        expected = []
        for sizes in averaged:  # the gradient sizes (float32) of one averaging call
            buckets = [[sizes[0]]]
            for size in sizes[1:]:
                if 4 * (sum(buckets[-1]) + size) <= cap:
                    buckets[-1].append(size)
                else:
                    buckets.append([size])
            expected += [sum(b) + (i == 0) for i, b in enumerate(buckets)]  # + 1: the verdict
        assert all_reduces == expected
        if bucket_kb is None:
            assert len(averaged) == 4 and len(all_reduces) == 4
        else:
            assert len(all_reduces) > 20  # the small buckets split every network


@pytest.mark.parametrize('args, message', [
    (['--lr', 'nan'], '--lr nan: give a finite number above 0'),  # a flag, checked before the processes meet
    (['--dataroot', 'nowhere'], 'nowhere/trainA is not a folder: --dataroot must hold the image folders'),  # after
], ids=['flag', 'data'])
def test_a_bad_input_under_torchrun_is_said_once(tmp_path, args, message):
    """Every process meets the same bad input: the first one says it, the others exit quietly, all with status 2.
    torchrun then reports a failed worker its own way (exit status 1), which no worker can change."""
    result = torchrun('train.py', *DDP, '--dataroot', str(tmp_path), '--checkpoints_dir', str(tmp_path), *args,
                      check=False)
    assert result.returncode == 1 and 'exitcode  : 2' in result.stderr
    # counted in the whole output, not by line: under load the launcher's log can share a line with it
    assert result.stderr.count('error: ') == 1 and f'error: {message}' in result.stderr, result.stderr
    assert result.stderr.count('Traceback') <= 1  # the launcher's own; none from the workers
    assert 'terminate called' not in result.stderr


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
