"""W&B (--use_wandb) and TensorBoard (--tensorboard), read back with their own readers: TensorBoard's
EventAccumulator (which applies purge_step as TensorBoard shows it), and W&B's offline run records
(WANDB_MODE=offline), decoded with wandb's protobuf schema. A run killed after a save and resumed logs
every step once, on one axis and in one W&B run; a missing package is one line before anything is
written; a failing tracker costs a warning, not the run; under torchrun only the first process logs."""
import glob
import importlib.util
import json
import os
import struct
import subprocess
import sys
import time

import pytest

import train
from conftest import ROOT, TINY
from util import checkpoint, trackers

HAS = {package: importlib.util.find_spec(package) is not None for package in ('wandb', 'tensorboard')}
INSTALL = 'bash scripts/install.sh pytest wandb tensorboard'
needs_tensorboard = pytest.mark.skipif(not HAS['tensorboard'], reason=f'tensorboard is not installed ({INSTALL})')
needs_wandb = pytest.mark.skipif(not HAS['wandb'], reason=f'wandb is not installed ({INSTALL})')
TRACKED = ['--tensorboard'] * HAS['tensorboard'] + ['--use_wandb'] * HAS['wandb']
# 8 examples: losses at every step, images every 4, a save every 4; killed after step 6, so steps 5 and 6
# were logged after the last save and are logged again by the resumed run
FLAGS = [*TINY, '--model', 'cycle_gan', '--seed', '2', '--pool_size', '2', '--niter', '1', '--niter_decay', '0',
         '--print_freq', '1', '--display_freq', '4', '--save_latest_freq', '4',
         '--lr_policy', 'step']  # the rate of the first epoch of the default policy would be 0 with --niter 1
LOSSES = ['D_A', 'G_A', 'Cyc_A', 'D_B', 'G_B', 'Cyc_B', 'idt_A', 'idt_B']


@pytest.fixture(autouse=True)
def wandb_offline(tmp_path, monkeypatch):
    """W&B offline, quiet, its settings and caches in the test's folder (here and in subprocesses)."""
    for name, value in (('WANDB_MODE', 'offline'), ('WANDB_SILENT', 'true'), ('WANDB_CONFIG_DIR', tmp_path / 'wb'),
                        ('WANDB_CACHE_DIR', tmp_path / 'wb'), ('WANDB_DATA_DIR', tmp_path / 'wb')):
        monkeypatch.setenv(name, str(value))


def event_accumulator(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(folder / trackers.TENSORBOARD_DIR), size_guidance={'images': 0, 'scalars': 0})
    events.Reload()
    return events


def wandb_records(path):
    """The records of a W&B run file (.wandb): a LevelDB-style log of wandb's protobuf Records (wandb 0.31 no
    longer ships a Python reader of its own), as (kind, record) pairs."""
    from wandb.proto import wandb_internal_pb2
    block, header = 32768, 7
    with open(path, 'rb') as f:
        data = f.read()
    assert data[:4] == b':W&B'
    position, pieces = header, b''
    while position + header <= len(data):
        if block - position % block < header:  # a block's tail too short for a header is padding
            position += block - position % block
            continue
        _, length, kind = struct.unpack('<IHB', data[position:position + header])
        if kind == 0:  # zeros: the end of what was written
            break
        pieces += data[position + header:position + header + length]
        position += header + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pieces)
            pieces = b''
            yield record.WhichOneof('record_type'), record


def wandb_runs(folder):
    """Every offline sitting of the run under folder, in order: [(run record, [(step, {key: value})],
    {summary key: value})]."""
    sittings = []
    for path in sorted(glob.glob(str(folder / 'wandb' / 'offline-run-*' / 'run-*.wandb'))):
        run, history, summary = None, [], {}
        for kind, record in wandb_records(path):
            if kind == 'run':
                run = record.run
            elif kind == 'history':
                history.append((record.history.step.num, {item.key or '/'.join(item.nested_key): json.loads(
                    item.value_json) for item in record.history.item}))
            elif kind == 'summary':
                summary.update({item.key: json.loads(item.value_json) for item in record.summary.update})
        sittings.append((run, history, summary))
    return sittings


def train_argv(checkpoints, data, *args):
    return ['--dataroot', data, '--checkpoints_dir', str(checkpoints), '--name', 'run', *FLAGS, *TRACKED, *args]


@pytest.fixture(scope='module')
def resumed(tiny_data, tmp_path_factory):
    """A run with every installed tracker, SIGKILLed after step 6 (its last save at 4), then resumed with
    --continue_train to the end (step 8): (its folder, the time of the kill)."""
    if not TRACKED:
        pytest.skip(f'neither wandb nor tensorboard is installed ({INSTALL})')
    root = tmp_path_factory.mktemp('resumed')
    # W&B writes its run file every 15 s (and at the end): a sitting killed sooner would leave it empty
    env = {**os.environ, 'WANDB_MODE': 'offline', 'WANDB_SILENT': 'true', 'WANDB_CONFIG_DIR': str(root / 'wb'),
           'WANDB_CACHE_DIR': str(root / 'wb'), 'WANDB_DATA_DIR': str(root / 'wb'),
           'WANDB__TRANSACTION_LOG_FLUSH_INTERVAL': '0.1'}
    argv = train_argv(root, tiny_data)
    killed = subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'kill_after_iteration.py'), '6', *argv],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert killed.returncode == -9, killed.stderr  # killed by SIGKILL, as planned
    killed_at = time.time()
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'train.py'), *argv, '--continue_train'],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'resuming from' in result.stdout and 'epoch 1, 4 examples into it' in result.stdout
    return root / 'run', killed_at


@needs_tensorboard
def test_tensorboard_after_a_kill_and_a_resume_has_every_step_once(resumed):
    folder, killed_at = resumed
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    files = sorted(glob.glob(str(folder / trackers.TENSORBOARD_DIR / 'events.out.tfevents.*')),
                   key=os.path.getmtime)
    assert len(files) == 2  # one per sitting
    first = [e.step for e in EventFileLoader(files[0]).Load() if any(v.tag == 'loss/G_A' for v in e.summary.value)]
    assert first == [1, 2, 3, 4, 5, 6]  # the killed sitting had logged 5 and 6 after its save at 4

    events = event_accumulator(folder)
    for tag in [f'loss/{name}' for name in LOSSES] + ['lr', 'speed/step_s', 'speed/images_per_s']:
        assert [e.step for e in events.Scalars(tag)] == list(range(1, 9)), tag
    # steps 5 and 6 as the resumed run logged them; those of the killed sitting are hidden
    assert [e.wall_time > killed_at for e in events.Scalars('loss/G_A')] == [False] * 4 + [True] * 4
    assert [e.value for e in events.Scalars('lr')] == pytest.approx([0.0002] * 8)  # stored as float32
    assert all(e.value > 0 for e in events.Scalars('speed/images_per_s'))
    for label in ('real_A', 'fake_B', 'rec_A', 'real_B', 'fake_A', 'rec_B'):
        shown = events.Images(f'images/{label}')
        assert [e.step for e in shown] == [4, 8] and (shown[0].width, shown[0].height) == (32, 32)
    options = events.Tensors('options/text_summary')
    assert [e.step for e in options] == [0]  # once, at the start
    assert '| lr | 0.0002 |' in options[0].tensor_proto.string_val[0].decode()


@needs_wandb
def test_wandb_after_a_kill_and_a_resume_is_one_run_on_one_step_axis(resumed):
    folder, _ = resumed
    sittings = wandb_runs(folder)
    assert len(sittings) == 2
    assert {(run.run_id, run.display_name, run.project) for run, _, _ in sittings} == \
        {(sittings[0][0].run_id, 'run', trackers.DEFAULT_PROJECT)}  # the resumed sitting continues the same run
    config = {item.key: json.loads(item.value_json) for item in sittings[0][0].config.update}
    assert config['lr'] == 0.0002 and config['name'] == 'run' and config['use_wandb'] is True
    steps = [[step for step, _ in history] for _, history, _ in sittings]
    assert steps[1] == [5, 6, 7, 8]  # from the step after the last save: no gap, no restart at 0
    assert set(steps[0]) <= set(range(1, 7)) and steps[0][:4] == [1, 2, 3, 4]
    kept = []
    for step in steps[0] + steps[1]:  # W&B keeps a step only if it is past the last one it has
        if not kept or step > kept[-1]:
            kept.append(step)
    assert kept == list(range(1, 9))
    rows = dict(sittings[1][1])
    assert all(f'loss/{name}' in rows[5] for name in LOSSES) and {'lr', 'speed/step_s'} <= set(rows[5])
    assert rows[8]['images/real_A/_type'] == 'image-file' and not any(key.startswith('images/') for key in rows[7])


def test_log_evaluation_adds_the_scores_to_the_run_s_trackers(resumed, tmp_path):
    folder = tmp_path / 'run'
    subprocess.run(['cp', '-a', str(resumed[0]), str(folder)], check=True)
    scores = {'A->B': {'overall': {'mean_iou': 0.25, 'pixel_acc': 0.5}}, 'fps': 3, 'note': 'not a number'}
    logged = trackers.log_evaluation(folder, scores)  # the trackers its opt.txt names
    assert logged == {'eval/A->B/overall/mean_iou': 0.25, 'eval/A->B/overall/pixel_acc': 0.5, 'eval/fps': 3.0}
    if HAS['tensorboard']:
        events = event_accumulator(folder)
        assert [(e.step, e.value) for e in events.Scalars('eval/A->B/overall/mean_iou')] == [(8, 0.25)]
        assert [e.step for e in events.Scalars('loss/G_A')] == list(range(1, 9))  # nothing of the run hidden
    if HAS['wandb']:
        sittings = wandb_runs(folder)
        assert len(sittings) == 3 and sittings[2][0].run_id == sittings[0][0].run_id
        assert sittings[2][2]['eval/A->B/overall/mean_iou'] == 0.25 and sittings[2][2]['eval/fps'] == 3


@pytest.mark.parametrize('flag, package', [('--use_wandb', 'wandb'), ('--tensorboard', 'tensorboard')])
def test_a_tracker_without_its_package_is_one_line_before_anything_is_written(flag, package, tiny_data, tmp_path):
    hide = f'import sys, runpy; sys.modules[{package!r}] = None; sys.argv[0] = "train.py"; ' \
           f'runpy.run_path("train.py", run_name="__main__")'
    result = subprocess.run([sys.executable, '-c', hide, *train_argv(tmp_path / 'ck', tiny_data), flag],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f'error: {flag} needs the {package} package, which is not installed: pip install {package}']
    assert not (tmp_path / 'ck').exists()


@pytest.mark.skipif(not TRACKED, reason=f'neither wandb nor tensorboard is installed ({INSTALL})')
def test_a_tracker_that_fails_mid_run_warns_once_and_training_goes_on(tiny_data, tmp_path, monkeypatch, capsys):
    def full_disk(*args):
        raise OSError(28, 'No space left on device')
    for kind in (trackers.TensorBoard, trackers.WandB):
        monkeypatch.setattr(kind, 'images', full_disk)  # the first display, at step 4
    train.main(train_argv(tmp_path, tiny_data))
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith('warning:')]
    names = [kind.name for kind, package in ((trackers.TensorBoard, 'tensorboard'), (trackers.WandB, 'wandb'))
             if HAS[package]]
    assert warnings == [f'warning: {name} stopped logging (OSError: [Errno 28] No space left on device); training '
                        f'goes on without it' for name in names]
    assert (tmp_path / 'run' / 'loss_log.txt').read_text().count('iters: ') == 8  # trained to the end
    if HAS['tensorboard']:
        assert [e.step for e in event_accumulator(tmp_path / 'run').Scalars('loss/G_A')] == [1, 2, 3, 4]


@pytest.mark.skipif(not TRACKED, reason=f'neither wandb nor tensorboard is installed ({INSTALL})')
def test_under_torchrun_only_the_first_process_logs(tiny_data, tmp_path):
    from test_distributed import DDP, torchrun
    torchrun('train.py', '--dataroot', tiny_data, '--checkpoints_dir', str(tmp_path), '--name', 'ddp', *DDP,
             *TRACKED, '--niter', '1', '--niter_decay', '0', '--print_freq', '2', '--display_freq', '8')
    folder = tmp_path / 'ddp'
    if HAS['tensorboard']:
        assert len(os.listdir(folder / trackers.TENSORBOARD_DIR)) == 1
        assert [e.step for e in event_accumulator(folder).Scalars('loss/G_A')] == [2, 4, 6, 8]  # global batch 2
    if HAS['wandb']:
        (run, history, _), = wandb_runs(folder)
        assert [step for step, _ in history] == [2, 4, 6, 8]


@needs_tensorboard
def test_compare_logs_trainings_and_their_scores(tmp_path):
    from scripts import compare
    argv = ['--dataroot', str(tmp_path / 'benchmark'), '--out', str(tmp_path / 'out'), '--runs_dir',
            str(tmp_path / 'runs'), '--table', str(tmp_path / 'compare.md'), '--chart', str(tmp_path / 'compare.png'),
            '--niter', '1', '--niter_decay', '0', '--ngf', '4', '--ndf', '4', '--size', '32', '--train_clips', '1',
            '--test_clips', '1', '--frames', '4', '--test_frames', '5', '--styles', 'day,night', '--data_seed', '3',
            '--models', 'cycle_gan', '--seeds', '0', '--tensorboard']
    summary = compare.main(argv)
    folder = tmp_path / 'out' / 'checkpoints' / 'cycle_gan_seed0'
    events = event_accumulator(folder)
    last = checkpoint.load(folder / checkpoint.STATE_FILE)['progress']['total_steps']
    mean_iou = summary['runs']['cycle_gan']['scores']['A->B']['overall']['mean_iou']['mean']
    assert [(e.step, e.value) for e in events.Scalars('eval/A->B/overall/mean_iou')] == \
        [(last, pytest.approx(mean_iou))]
    # the tracker flags are not part of the training's identity: without them it is not trained again
    assert '--tensorboard' not in json.loads((folder / 'compare_train.json').read_text())['argv']
