"""Reliability: exact resume after SIGKILL, clean stops on signals, atomic checkpoints, the divergence
guard, one-line errors for bad input, and checkpoints that cannot run code."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image

import train
from conftest import ROOT, TINY, run_script
from models.base_model import load_state_dict_file
from models.cycle_gan_model import CycleGANModel
from models.recycle_gan_model import RecycleGANModel
from util import checkpoint, util
from util.errors import UserError

# dropout on and an image pool, so that resuming must restore torch's and Python's generators too
RESUMABLE = [a for a in TINY if a != '--no_dropout'] + [
    '--model', 'recycle_gan', '--which_model_netG', 'unet_32', '--pool_size', '3', '--seed', '3',
    '--print_freq', '1', '--save_latest_freq', '3', '--niter', '3', '--niter_decay', '1', '--nThreads', '1']


def loss_lines(path):
    """{(epoch, iters): the losses part of the line} of each training segment of a loss_log.txt."""
    segments = []
    for line in open(path).read().splitlines():
        if line.startswith('===='):
            segments.append({})
        match = re.match(r'\(epoch: (\d+), iters: (\d+), time: [\d.]+, data: [\d.]+\) (.*)', line)
        if match:
            segments[-1][int(match[1]), int(match[2])] = match[3]
    return segments


def train_args(data, checkpoints, name, *extra):
    return ['--dataroot', data, '--checkpoints_dir', str(checkpoints), '--name', name, *RESUMABLE, *extra]


def start_training(*args):
    return subprocess.Popen([sys.executable, os.path.join(ROOT, 'train.py'), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lines(log, n, process, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if os.path.exists(log) and sum(map(len, loss_lines(log))) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f'training did not reach {n} logged iterations:\n{process.communicate()[1][-2000:]}')


def test_resume_after_sigkill_gives_the_same_losses(tiny_data, tmp_path):
    run_script('train.py', *train_args(tiny_data, tmp_path, 'whole'))
    (reference,) = loss_lines(tmp_path / 'whole' / 'loss_log.txt')
    assert len(reference) == 32  # 4 epochs of 8 examples

    killed = start_training(*train_args(tiny_data, tmp_path, 'killed'))
    log = tmp_path / 'killed' / 'loss_log.txt'
    wait_for_lines(log, 10, killed)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    before, = loss_lines(log)
    assert len(before) < 32
    state = checkpoint.load(tmp_path / 'killed' / checkpoint.STATE_FILE)
    resumed_at = state['progress']['total_steps']
    assert 0 < resumed_at < len(before) + 3

    run_script('train.py', *train_args(tiny_data, tmp_path, 'killed', '--continue_train'))
    _, after = loss_lines(log)
    assert len(after) == 32 - resumed_at  # it picked up exactly where the state was saved
    assert after == {key: reference[key] for key in after}
    for name in ('G_A', 'P_B', 'D_A'):  # and ends with the same weights, bit for bit
        whole = torch.load(tmp_path / 'whole' / f'latest_net_{name}.pth', weights_only=True)
        again = torch.load(tmp_path / 'killed' / f'latest_net_{name}.pth', weights_only=True)
        assert all(torch.equal(whole[k], again[k]) for k in whole)


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_the_latest_state_and_stops_cleanly(tiny_data, tmp_path, signum):
    process = start_training(*train_args(tiny_data, tmp_path, 'stopped', '--save_latest_freq', '1000'))
    log = tmp_path / 'stopped' / 'loss_log.txt'
    wait_for_lines(log, 5, process)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    assert 'Traceback' not in err
    assert f'stopped by {signal.Signals(signum).name}' in out
    state = checkpoint.load(tmp_path / 'stopped' / checkpoint.STATE_FILE)
    logged, = loss_lines(log)
    assert state['progress']['total_steps'] == len(logged)  # saved after the last step it logged
    assert all(os.path.exists(tmp_path / 'stopped' / f'latest_net_{n}.pth') for n in ('G_A', 'D_B', 'P_A'))


def test_the_authors_weights_alone_still_resume(tiny_data, tmp_path):
    args = train_args(tiny_data, tmp_path, 'weights', '--niter', '1', '--niter_decay', '0')
    run_script('train.py', *args)
    os.remove(tmp_path / 'weights' / checkpoint.STATE_FILE)
    result = run_script('train.py', *args, '--continue_train', '--niter', '2')  # one more epoch
    assert 'warning: no latest_train_state.pth' in result.stderr and 'start afresh at epoch 2' in result.stderr
    assert len(loss_lines(tmp_path / 'weights' / 'loss_log.txt')[1]) == 8


def nan_after(n_steps):
    """A compute_G_losses that makes G_A's loss nan from the n-th call on."""
    calls = []
    original = RecycleGANModel.compute_G_losses

    def compute(self):
        original(self)
        calls.append(1)
        if len(calls) >= n_steps:
            self.loss_G_A = self.loss_G_A * float('nan')
    return compute


def test_a_nan_loss_stops_and_keeps_the_last_checkpoint(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setattr(RecycleGANModel, 'compute_G_losses', nan_after(5))
    args = train_args(tiny_data, tmp_path, 'nan', '--nThreads', '0', '--save_latest_freq', '2')
    with pytest.raises(UserError, match=r'loss G_A is nan at epoch 1, iteration 5: training stopped; no weight changed'):
        train.main(args)
    state = checkpoint.load(tmp_path / 'nan' / checkpoint.STATE_FILE)
    assert state['progress']['total_steps'] == 4
    weights = torch.load(tmp_path / 'nan' / 'latest_net_G_A.pth', weights_only=True)
    assert all(torch.equal(weights[k], v) for k, v in state['nets']['G_A'].items())
    assert all(torch.isfinite(v).all() for v in weights.values())


def test_nan_policy_skip_skips_and_counts(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setattr(RecycleGANModel, 'compute_G_losses', nan_after(30))
    model = train.main(train_args(tiny_data, tmp_path, 'skip', '--nThreads', '0', '--nan_policy', 'skip'))
    assert model.skipped_steps == 3  # the G steps of iterations 30, 31, 32
    assert all(torch.isfinite(p).all() for p in model.netG_A.parameters())
    notes = [l for l in open(tmp_path / 'skip' / 'loss_log.txt') if 'skipped 1 step(s)' in l]
    assert len(notes) == 3 and '(3 so far)' in notes[-1]


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / 'latest_net_G_A.pth'
    util.atomic_save({'w': torch.ones(3)}, path)

    def full_disk(obj, f):
        f.write(b'partial')
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(torch, 'save', full_disk)
    with pytest.raises(UserError, match=r'cannot write .*latest_net_G_A.pth \(No space left on device\); the '
                                        r'previous file there is intact'):
        util.atomic_save({'w': torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)['w'], torch.ones(3))
    assert os.listdir(tmp_path) == ['latest_net_G_A.pth']  # no temporary file left behind


def test_out_of_gpu_memory_says_what_to_try(tiny_data, tmp_path, monkeypatch):
    def oom(self):
        raise torch.OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB')
    monkeypatch.setattr(CycleGANModel, 'optimize_parameters', oom)
    with pytest.raises(UserError, match='out of GPU memory at epoch 1.*smaller --batchSize, --fineSize or --ngf'):
        train.main(train_args(tiny_data, tmp_path, 'oom', '--nThreads', '0'))


class RunsCode:
    def __reduce__(self):
        return (os.system, (f'touch {MARKER}',))


MARKER = None


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    global MARKER
    MARKER = tmp_path / 'pwned'
    torch.save({'model.1.weight': RunsCode()}, tmp_path / 'evil.pth')
    from models import networks
    with pytest.raises(UserError, match='evil.pth was refused: loading it would run arbitrary code'):
        load_state_dict_file(networks.define_G(3, 3, 8, 'resnet_6blocks'), tmp_path / 'evil.pth')
    with pytest.raises(UserError, match='was refused'):
        checkpoint.load(tmp_path / 'evil.pth')
    assert not MARKER.exists()


def write_image_folders(root, files):
    for folder, names in files.items():
        os.makedirs(root / folder, exist_ok=True)
        for name, content in names.items():
            if content is None:
                Image.new('RGB', (96, 32)).save(root / folder / name)
            else:
                (root / folder / name).write_bytes(content)
    return str(root)


def bad_inputs(tiny_data, tmp_path):
    """(argv, the message expected on the one line of the error) for train.py."""
    good = {'trainA': {'a.png': None}, 'trainB': {'b.png': None}}
    png = open(os.path.join(tiny_data, 'trainA', 'clip00_0000.png'), 'rb').read()
    gpus = torch.cuda.device_count()  # so GPU number `gpus` is missing, with or without CUDA
    (tmp_path / 'file').write_text('not a folder')
    return [
        (['--dataroot', str(tmp_path / 'none')], 'none/trainA is not a folder'),
        (['--dataroot', write_image_folders(tmp_path / 'noB', {'trainA': {'a.png': None}})],
         'noB/trainB is not a folder'),
        (['--dataroot', write_image_folders(tmp_path / 'empty', {'trainA': {}, 'trainB': {'b.png': None}})],
         'empty/trainA holds no image files'),
        (['--dataroot', write_image_folders(tmp_path / 'text', {'trainA': {'notes.txt': b'hi'},
                                                                'trainB': {'b.png': None}})],
         'text/trainA holds no image files'),
        (['--dataroot', write_image_folders(tmp_path / 'cut', {'trainA': {'a.png': png[:200]},
                                                               'trainB': {'b.png': None}})],
         'cut/trainA/a.png: cannot read this image'),
        (['--dataroot', write_image_folders(tmp_path / 'blank', {'trainA': {'a.png': None},
                                                                 'trainB': {'b.png': b''}})],
         'blank/trainB/b.png: cannot read this image'),
        (['--dataroot', tiny_data, '--fineSize', '64'], '--fineSize 64 is larger than --loadSize 32'),
        (['--dataroot', tiny_data, '--which_model_netP', 'unet_64'], '--fineSize 32 does not fit --which_model_netP'),
        (['--dataroot', tiny_data, '--model', 'pix2pix'], "--model 'pix2pix' is not one of"),
        (['--dataroot', tiny_data, '--which_model_netG', 'unet_512'], "--which_model_netG 'unet_512'"),
        (['--dataroot', tiny_data, '--which_model_netD', 'huge'], "--which_model_netD 'huge'"),
        (['--dataroot', tiny_data, '--which_model_netP', 'lstm'], "--which_model_netP 'lstm'"),
        (['--dataroot', tiny_data, '--norm', 'group'], "--norm 'group'"),
        (['--dataroot', tiny_data, '--init_type', 'zeros'], "--init_type 'zeros'"),
        (['--dataroot', tiny_data, '--lr_policy', 'cosine'], "--lr_policy 'cosine'"),
        (['--dataroot', tiny_data, '--dataset_mode', 'aligned'], "--dataset_mode 'aligned'"),
        (['--dataroot', tiny_data, '--gpu_ids', str(gpus)],
         f'--gpu_ids {gpus}: this machine has {gpus} CUDA device(s)'),
        (['--dataroot', tiny_data, '--continue_train', '--name', 'never'], 'never/latest_net_G_A.pth does not exist'),
        (['--dataroot', tiny_data, '--checkpoints_dir', str(tmp_path / 'file' / 'sub')],
         f'--checkpoints_dir {tmp_path}/file/sub: {tmp_path}/file is a file, not a folder'),
        (['--dataroot', tiny_data, '--which_model_netP', 'prediction', '--npf', '64', '--loadSize', '64',
          '--fineSize', '64'],
         '--which_model_netP prediction has 7,500,227,843 parameters'),
    ]


def test_bad_input_gets_one_line_naming_the_cause(tiny_data, tmp_path):
    for args, message in bad_inputs(tiny_data, tmp_path):
        argv = [*TINY, '--model', 'recycle_gan', '--checkpoints_dir', str(tmp_path / 'ck'), *args]
        with pytest.raises(UserError) as err:
            train.main(argv)
        from util.errors import one_line
        assert message in one_line(err.value), (args, one_line(err.value))


def test_on_the_command_line_it_is_one_line_and_exit_status_2(tmp_path):
    result = run_script('train.py', *TINY, '--dataroot', str(tmp_path / 'none'), '--checkpoints_dir',
                        str(tmp_path), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f'error: {tmp_path}/none/trainA is not a folder: --dataroot ' \
                                                     f'must hold the image folders (e.g. trainA, trainB)'
    assert 'Traceback' not in result.stderr
    debug = run_script('train.py', *TINY, '--dataroot', str(tmp_path / 'none'), '--checkpoints_dir',
                       str(tmp_path), '--debug', check=False)
    assert 'Traceback' in debug.stderr


def test_an_error_in_a_loader_worker_ends_the_run(tmp_path):
    """The worker's error reaches the user as one line, and the run exits instead of waiting on its workers."""
    Image.effect_noise((96, 32), 64).save(tmp_path / 'whole.png')
    cut = (tmp_path / 'whole.png').read_bytes()[:200]  # a whole header (the scan at the start passes it), cut pixels
    root = write_image_folders(tmp_path / 'bad', {'trainA': {'a.png': cut}, 'trainB': {'b.png': None}})
    result = run_script('train.py', *TINY, '--model', 'recycle_gan', '--dataroot', root, '--nThreads', '2',
                        '--checkpoints_dir', str(tmp_path), check=False, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f'error: {root}/trainA/a.png: cannot read this image')
