"""Resuming: --continue_train follows the current flags' learning-rate schedule from the resumed epoch and
names the flags that differ; a run that fails before training changes none of the saved run's files; state
files of another layout, or data that changed under a half-done epoch, are one line; a save killed between
two network files is detected at load."""
import hashlib
import os
import re
import subprocess
import sys
import warnings
from types import SimpleNamespace

import pytest
import torch

import train
from conftest import ROOT, TINY, one_error_line, train_options
from models import create_model
from options.train_options import TrainOptions
from util import checkpoint
from util.errors import UserError

FLAGS = [*TINY, '--model', 'cycle_gan', '--seed', '2', '--print_freq', '4', '--display_freq', '4', '--pool_size', '2']
NETS = ['G_A', 'G_B', 'D_A', 'D_B']


@pytest.fixture(scope='module')
def finished(tiny_data, tmp_path_factory):
    """A finished run of 2 epochs (--niter 1 --niter_decay 1) of cycle_gan on the tiny data: its checkpoints
    folder; each test works on a copy."""
    root = tmp_path_factory.mktemp('finished')
    train.main(['--dataroot', tiny_data, '--checkpoints_dir', str(root), '--name', 'run', *FLAGS,
                '--niter', '1', '--niter_decay', '1'])
    return root


@pytest.fixture
def run(finished, tmp_path):
    subprocess.run(['cp', '-a', str(finished), str(tmp_path / 'ck')], check=True)
    return tmp_path / 'ck'


def snapshot(folder):
    """{relative path: SHA-256} of every file under folder."""
    return {os.path.relpath(os.path.join(d, n), folder): hashlib.sha256(open(os.path.join(d, n), 'rb').read()).digest()
            for d, _, names in os.walk(folder) for n in names}


def resumed(checkpoints, tiny_data, *args):
    """A model set up and resumed as train.py does, with FLAGS + args: (progress, model, opt)."""
    argv = ['--dataroot', tiny_data, '--checkpoints_dir', str(checkpoints), '--name', 'run', *FLAGS,
            '--continue_train', *args]
    opt = TrainOptions().parse(argv)
    model = create_model(opt)
    model.setup(opt)
    sampler, visualizer = SimpleNamespace(seed=0), SimpleNamespace(plot_data=None)
    return checkpoint.resume(opt, model, sampler, visualizer, 8), model, opt


def fresh_lrs(tiny_data, tmp_path, epoch, *args):
    """The learning rates a fresh run with FLAGS + args has in `epoch` (its schedulers stepped epoch - 1 times)."""
    opt = TrainOptions().parse(['--dataroot', tiny_data, '--checkpoints_dir', str(tmp_path / 'fresh'), *FLAGS, *args])
    model = create_model(opt)
    model.setup(opt)
    with warnings.catch_warnings():  # stepping schedulers without training steps is the point here
        warnings.filterwarnings('ignore', 'Detected call of .lr_scheduler.step')
        for _ in range(epoch - 1):
            model.update_learning_rate(0.0)
    return lrs(model)


def lrs(model):
    return [group['lr'] for optimizer in model.optimizers for group in optimizer.param_groups]


@pytest.mark.parametrize('args', [
    ['--niter', '3', '--niter_decay', '1'],  # used to train its new epochs at learning rate 0
    ['--niter', '3', '--niter_decay', '2', '--lr', '0.001'],  # a new --lr used to be ignored
    ['--niter', '2', '--niter_decay', '2', '--lr', '0.0005'],
])
def test_resuming_follows_the_current_flags_schedule(args, run, tiny_data, tmp_path, capsys):
    progress, model, opt = resumed(run, tiny_data, *args)
    assert progress['epoch'] == 3
    expected = fresh_lrs(tiny_data, tmp_path, 3, *args)
    assert lrs(model) == expected and expected[0] > 0  # exact: the same product as the scheduler's own
    changed = [f'--{flag[2:]} {old} -> {new}' for flag, old, new in
               (('--niter', '1', args[1]), ('--niter_decay', '1', args[3]), ('--lr', '0.0002', args[-1]))
               if old != new and not (flag == '--lr' and '--lr' not in args)]
    out = capsys.readouterr().out
    assert f'flags that differ from the saved run ({run}/run/opt.txt): {", ".join(sorted(changed))}' in out


def test_the_step_policy_follows_a_new_lr_decay_iters(tiny_data, tmp_path):
    flags = ['--lr_policy', 'step', '--lr_decay_iters', '1']
    train.main(['--dataroot', tiny_data, '--checkpoints_dir', str(tmp_path), '--name', 'run', *FLAGS, *flags,
                '--niter', '1', '--niter_decay', '1'])
    args = ['--lr_policy', 'step', '--lr_decay_iters', '2', '--niter', '4']
    _, model, _ = resumed(tmp_path, tiny_data, *args)
    # 2 epochs done: x0.1 once with a decay every 2 epochs (twice with the saved run's every 1)
    assert lrs(model) == pytest.approx([0.0002 * 0.1] * 3, rel=1e-12)
    assert lrs(model) == pytest.approx(fresh_lrs(tiny_data, tmp_path, 3, *args), rel=1e-12)  # rounding of 0.1 x 0.1


def test_the_plateau_policy_keeps_its_reductions_scaled_by_a_new_lr(tiny_data, tmp_path):
    train.main(['--dataroot', tiny_data, '--checkpoints_dir', str(tmp_path), '--name', 'run', *FLAGS,
                '--lr_policy', 'plateau', '--niter', '1', '--niter_decay', '1'])
    state = checkpoint.load(str(tmp_path / 'run' / checkpoint.STATE_FILE))
    state['optimizers'][0]['param_groups'][0]['lr'] = 0.0002 * 0.2  # as if it had reduced G's rate once
    checkpoint.save(state, str(tmp_path / 'run' / checkpoint.STATE_FILE))
    _, model, _ = resumed(tmp_path, tiny_data, '--lr_policy', 'plateau', '--niter', '3', '--lr', '0.0004')
    assert lrs(model) == pytest.approx([0.0004 * 0.2, 0.0004, 0.0004], rel=1e-12)  # x 0.0004 / 0.0002


def test_unchanged_flags_keep_the_saved_rates_exactly(run, tiny_data):
    state = checkpoint.load(str(run / 'run' / checkpoint.STATE_FILE))
    _, model, _ = resumed(run, tiny_data, '--niter', '1', '--niter_decay', '2')
    saved = [group['lr'] for optimizer in state['optimizers'] for group in optimizer['param_groups']]
    assert lrs(model) == saved


def test_a_finished_run_has_nothing_to_do_and_changes_nothing(run, tiny_data):
    before = snapshot(run)
    with pytest.raises(UserError, match='nothing to train: the saved run is at epoch 3, past the last epoch --niter 1 '
                                        r'\+ --niter_decay 1 = 2; raise --niter or --niter_decay'):
        train.main(['--dataroot', tiny_data, '--checkpoints_dir', str(run), '--name', 'run', *FLAGS,
                    '--niter', '1', '--niter_decay', '1', '--continue_train'])
    assert snapshot(run) == before


@pytest.mark.parametrize('args, message', [
    # the networks come from the state file (the weight files are not read when it is there)
    (['--ngf', '16'], 'latest_train_state.pth (G_A) is from another architecture'),
    (['--model', 'recycle_gan', '--dataset_mode', 'unaligned_triplet', '--which_model_netP', 'unet_32'],
     "latest_train_state.pth is of another model or optimizer layout (nets ['D_A', 'D_B', 'G_A', 'G_B'], this "
     "model ['D_A', 'D_B', 'G_A', 'G_B', 'P_A', 'P_B']"),
    (['--lr_policy', 'step'], "latest_train_state.pth is of another model or optimizer layout (schedulers not "
                              "['StepLR', 'StepLR', 'StepLR'] (--lr_policy step))"),
])
def test_a_failed_continue_train_changes_none_of_the_saved_run(args, message, run, tiny_data):
    before = snapshot(run)
    with pytest.raises(UserError, match=re.escape(message)):
        train.main(['--dataroot', tiny_data, '--checkpoints_dir', str(run), '--name', 'run', *FLAGS,
                    '--niter', '3', '--continue_train', *args])
    assert snapshot(run) == before  # opt.txt too: the error says to read it


def test_data_that_shrank_under_a_half_done_epoch_is_refused(run, tiny_data):
    path = str(run / 'run' / checkpoint.STATE_FILE)
    state = checkpoint.load(path)
    state['progress'].update(epoch=2, examples_done=4)  # as if stopped 4 examples into epoch 2 of 8 examples
    checkpoint.save(state, path)
    before = snapshot(run)
    with pytest.raises(UserError, match=f'{path} stopped 4 examples into an epoch of 8, but the data now hold 3: '
                                        f'restore the data of that run'):
        train.main(['--dataroot', tiny_data, '--checkpoints_dir', str(run), '--name', 'run', *FLAGS,
                    '--niter', '1', '--niter_decay', '1', '--continue_train', '--max_dataset_size', '3'])
    assert snapshot(run) == before


def test_a_state_of_another_layout_names_the_file_and_the_difference(run, tiny_data, tmp_path):
    path = str(run / 'run' / checkpoint.STATE_FILE)
    opt = train_options(tmp_path, '--model', 'cycle_gan', '--name', 'other')
    model = create_model(opt)
    model.setup(opt)
    state = checkpoint.load(path)
    state['optimizers'][0]['param_groups'][0]['params'].pop()
    with pytest.raises(UserError, match=rf'{path} is of another model or optimizer layout \(optimizer parameter '
                                        rf'groups of sizes \[\[\d+\], \[\d+\], \[\d+\]\], this model'):
        model.load_training_state(state, path)
    state = checkpoint.load(path)
    state['nets']['P_A'] = state['nets']['G_A']
    with pytest.raises(UserError, match=r"another model or optimizer layout \(nets \['D_A', 'D_B', 'G_A', 'G_B', "
                                        r"'P_A'\], this model \['D_A', 'D_B', 'G_A', 'G_B'\]"):
        model.load_training_state(state, path)


def kill_mid_save(folder, kill_at):
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'kill_mid_save.py'), str(folder),
                             str(kill_at)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == -9, result.stderr  # killed by SIGKILL, as planned
    return folder / 'run'


def load_latest(folder, *args):
    opt = train_options(folder, '--model', 'cycle_gan', '--name', 'run', *args)
    model = create_model(opt)
    model.load_networks('latest')
    return model


@pytest.mark.parametrize('kill_at', [1, 3])
def test_a_save_killed_between_two_network_files_is_detected(kill_at, tmp_path):
    folder = kill_mid_save(tmp_path, kill_at)
    with pytest.raises(UserError, match=rf'latest_net_{NETS[kill_at]}.pth is not from the same save as '
                                        rf'.*latest_net_G_A.pth \(a save was cut off between two files'):
        load_latest(tmp_path)
    # --continue_train takes the networks from the state file, which a save writes after them: setup does not
    # read the weight files then
    torch.save({}, folder / checkpoint.STATE_FILE)
    opt = train_options(tmp_path, '--model', 'cycle_gan', '--name', 'run', '--continue_train')
    create_model(opt).setup(opt)


@pytest.mark.parametrize('kill_at', [0, 4])
def test_a_save_killed_before_or_after_its_files_leaves_a_complete_set(kill_at, tmp_path):
    kill_mid_save(tmp_path, kill_at)
    model = load_latest(tmp_path)
    torch.manual_seed(0)
    first = create_model(train_options(tmp_path / 'x', '--model', 'cycle_gan'))  # the first save's weights
    offset = 0 if kill_at == 0 else 1  # killed before any file: all of the first save; after all: the second (+1)
    for name in NETS:
        for p, q in zip(model.network(name).parameters(), first.network(name).parameters()):
            assert torch.equal(p, q + offset)


# -- a resume never overwrites a saved epoch ---------------------------------------------------------------------
def continue_train(checkpoints, tiny_data, *args):
    """train.main --continue_train on the finished run, for up to 3 epochs of 2 examples."""
    return ['--dataroot', tiny_data, '--checkpoints_dir', str(checkpoints), '--name', 'run', *FLAGS,
            '--max_dataset_size', '2', '--print_freq', '1', '--niter', '1', '--niter_decay', '2', '--continue_train',
            *args]


def test_without_the_state_file_a_resume_goes_on_after_the_newest_saved_epoch(run, tiny_data, capsys):
    os.remove(run / 'run' / checkpoint.STATE_FILE)
    saved = {name: digest for name, digest in snapshot(run / 'run').items() if re.match(r'[12]_net', name)}
    train.main(continue_train(run, tiny_data))
    assert 'start afresh at epoch 3' in capsys.readouterr().err
    assert {name: snapshot(run / 'run')[name] for name in saved} == saved  # epochs 1 and 2 untouched
    assert (run / 'run' / '3_net_G_A.pth').exists()
    segments = (run / 'run' / 'loss_log.txt').read_text().split('================ Training Loss')
    assert set(re.findall(r'epoch: (\d+)', segments[-1])) == {'3'}


@pytest.mark.parametrize('args, why', [(['--epoch_count', '2'], '--continue_train after --epoch_count 2 trains '
                                                                 'epoch 2 on'),
                                       (['--which_epoch', '1'], '--continue_train after --which_epoch 1 trains '
                                                                'epoch 2 on')])
def test_a_resume_that_would_overwrite_a_saved_epoch_is_refused(run, tiny_data, capsys, args, why):
    os.remove(run / 'run' / checkpoint.STATE_FILE)
    before = snapshot(run)
    line = one_error_line(train.main, continue_train(run, tiny_data, *args), capsys)
    assert line == f'error: {why}, which would overwrite 2_net_*.pth in {run / "run"}: pass --epoch_count 3 to ' \
                   f'number the new epochs after them, or move those files away'
    assert snapshot(run) == before


def test_a_truncated_weight_file_beside_the_state_file_resumes_from_the_state(run, tiny_data):
    """The warning of a mismatched set says the state file holds the networks too: a truncated one is not read."""
    path = run / 'run' / 'latest_net_G_A.pth'
    path.write_bytes(path.read_bytes()[:1000])
    progress, model, _ = resumed(run, tiny_data, '--niter', '2')
    state = checkpoint.load(run / 'run' / checkpoint.STATE_FILE)
    assert progress['epoch'] == 3
    assert all(torch.equal(model.network('G_A').state_dict()[k], v) for k, v in state['nets']['G_A'].items())


def test_epoch_count_beside_the_state_file_is_said_to_be_ignored(run, tiny_data, capsys):
    progress, _, opt = resumed(run, tiny_data, '--niter', '2', '--epoch_count', '5')
    assert progress['epoch'] == 3 and opt.epoch_count == 1  # the saved run's first epoch: its schedule's origin
    assert f'warning: --epoch_count 5 is ignored: --continue_train goes on where the run stopped, as ' \
           f'{run / "run" / checkpoint.STATE_FILE} says' in capsys.readouterr().err
