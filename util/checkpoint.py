"""Checkpoint files, read safely, and the full training state for resuming a run exactly.

<checkpoints_dir>/<name>/
    <epoch>_net_<G_A|G_B|P_A|P_B|D_A|D_B>.pth   state_dicts in the authors' format (test.py, their tools)
    <epoch>_nets.json                           the SHA-256 of each of those files, of this save and of the
        one before, written before them: a save cut off between two files leaves a set that matches
        neither, which loading refuses instead of mixing networks of two saves.
    latest_train_state.pth                      what else a run needs to go on exactly where it stopped:
        the networks again (one atomically written file is always a consistent set), optimizers,
        schedulers, image pools, the loop's counters, the data order's seed, every RNG state.

Everything is read with torch.load(weights_only=True): tensors, numbers, strings and plain
containers only, so a downloaded file cannot run code when it is loaded.
"""
import hashlib
import io
import json
import os
import random
import re
import sys

import numpy as np
import torch

from . import distributed
from .errors import UserError
from .util import atomic_write

STATE_FILE = 'latest_train_state.pth'


def serialize(obj):
    """torch.save(obj) into bytes. Writing those is then a plain file write, whose failure (a full disk) is
    an OSError; torch.save writing to a file itself turns it into a RuntimeError."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def save(obj, path):
    """torch.save(obj, path), atomically; a failure is a UserError and leaves the previous file intact."""
    data = serialize(obj)
    atomic_write(path, lambda f: f.write(data))


def manifest_path(folder, epoch):
    return os.path.join(folder, f'{epoch}_nets.json')


def file_digest(path):
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, 'sha256').hexdigest()


def save_set(folder, epoch, states):
    """Write {name: state_dict} as <folder>/<epoch>_net_<name>.pth, each file atomically, after the manifest
    <epoch>_nets.json that lists their digests and those of the set they replace (see check_set)."""
    blobs = {name: serialize(state) for name, state in states.items()}
    manifest = manifest_path(folder, epoch)
    previous = read_manifest(manifest).get('nets', {}) if os.path.exists(manifest) else {}
    record = json.dumps({'nets': {name: hashlib.sha256(blob).hexdigest() for name, blob in blobs.items()},
                         'previous': previous}, indent=1).encode()
    atomic_write(manifest, lambda f: f.write(record))
    for name, blob in blobs.items():
        atomic_write(os.path.join(folder, f'{epoch}_net_{name}.pth'), lambda f: f.write(blob))


def read_manifest(path):
    try:
        with open(path) as f:
            manifest = json.load(f)
        if not isinstance(manifest.get('nets'), dict):
            raise ValueError('no "nets"')
        return manifest
    except (OSError, ValueError, AttributeError) as err:
        raise UserError(f'{path} is not a readable manifest ({err}); delete it to load the networks without '
                        f'checking that they are from one save') from None


def check_set(folder, epoch, names):
    """A UserError unless the files <epoch>_net_<name>.pth are all of one save: all of the digests that
    <epoch>_nets.json lists for the last save, or all of those of the save before it. Without the
    manifest (the authors' checkpoints, older runs) there is nothing to check."""
    manifest = manifest_path(folder, epoch)
    if not os.path.exists(manifest):
        return
    record = read_manifest(manifest)
    paths = {name: os.path.join(folder, f'{epoch}_net_{name}.pth') for name in names}
    digests = {name: file_digest(path) for name, path in paths.items() if os.path.isfile(path)}
    for listed in (record['nets'], record.get('previous') or {}):
        if all(listed.get(name) == digest for name, digest in digests.items()):
            return
    newer = [n for n in names if record['nets'].get(n) == digests.get(n)]
    older = [n for n in names if n not in newer]
    raise UserError(f'{paths[older[0]]} is not from the same save as {paths[newer[0]] if newer else "the others"} '
                    f'(a save was cut off between two files, or a file was replaced; {manifest} lists each save): '
                    f'load an epoch checkpoint with --which_epoch N, or resume with --continue_train, which takes '
                    f'the networks from {STATE_FILE}')


def load(path, mmap=False):
    """torch.load(path, weights_only=True) on the CPU; every failure is a one-line UserError naming path.
    mmap: map the file instead of reading it (to read a few numbers of a large state)."""
    if not os.path.isfile(path):
        raise UserError(f'{path} does not exist: check --checkpoints_dir, --name and --which_epoch')
    try:
        return torch.load(path, map_location='cpu', weights_only=True, mmap=mmap)
    except Exception as err:  # truncated, not a zip archive, not torch's format, code in it, ...
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        code = next((line for line in lines if 'GLOBAL' in line), None)  # an object only code could make
        if code:
            raise UserError(f'{path} was refused: loading it would run arbitrary code, which checkpoints never '
                            f'need ({code.split(" Please ")[0]})') from None
        found = re.search(r'WeightsUnpickler error: \s*(.*)', str(err))  # the weights-only unpickler's reason
        detail = found[1] if found else (lines or [''])[0]
        raise UserError(f'{path} is not a readable checkpoint ({type(err).__name__}: {detail})') from None


def rng_states():
    """Python's, numpy's, torch's and every CUDA device's generator state, as plain data."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return {'python': random.getstate(),
            'numpy': (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
            'torch': torch.get_rng_state(),
            'cuda': torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_states(states):
    version, internal, gauss = states['python']
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, gauss = states['numpy']
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(states['torch'])
    if states['cuda'] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


def saved_epochs(folder):
    """The numbers N of the <N>_net_*.pth files in folder, sorted."""
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted({int(m[1]) for m in (re.fullmatch(r'(\d+)_net_\w+\.pth', name) for name in names) if m})


def resumes_from_state(opt, folder):
    """Whether --continue_train goes on from <folder>/STATE_FILE, which then gives the networks too."""
    return opt.continue_train and opt.which_epoch == 'latest' and os.path.exists(os.path.join(folder, STATE_FILE))


def start_epoch(opt, folder):
    """The first epoch's number: --epoch_count, else 1; continuing from weights alone, else the epoch after
    --which_epoch N, or after the newest saved epoch. A UserError where that run would overwrite saved
    <N>_net_*.pth files. Going on from STATE_FILE, the state decides (resume() sets it)."""
    if not opt.continue_train:
        return opt.epoch_count or 1
    if resumes_from_state(opt, folder):
        if opt.epoch_count is not None and distributed.is_main():
            print(f'warning: --epoch_count {opt.epoch_count} is ignored: --continue_train goes on where the run '
                  f'stopped, as {os.path.join(folder, STATE_FILE)} says', file=sys.stderr)
        return 1  # until resume() reads the saved run's
    saved = saved_epochs(folder)
    if opt.epoch_count is not None:
        start, why = opt.epoch_count, f'--epoch_count {opt.epoch_count}'
    elif opt.which_epoch.isdigit():
        start, why = int(opt.which_epoch) + 1, f'--which_epoch {opt.which_epoch}'
    else:
        start, why = (saved[-1] + 1 if saved else 1), 'the newest saved epoch'
    last = opt.niter + opt.niter_decay
    overwritten = [n for n in saved if start <= n <= last and n % opt.save_epoch_freq == 0]
    if overwritten:
        raise UserError(f'--continue_train after {why} trains epoch {start} on, which would overwrite '
                        f'{", ".join(f"{n}_net_*.pth" for n in overwritten)} in {folder}: pass --epoch_count '
                        f'{saved[-1] + 1} to number the new epochs after them, or move those files away')
    return start


def fresh_progress(opt):
    """The training loop's counters at the start of a run (the authors' `--epoch_count` included)."""
    return {'epoch': opt.epoch_count, 'examples_done': 0, 'total_steps': 0, 'loss_G_sum': 0.0, 'n_steps': 0}


def save_latest(model, progress, sampler, visualizer):
    """latest_net_*.pth, then latest_train_state.pth, each written atomically. A kill between the two
    leaves a newer weight set beside an older but complete state, which a resumed run goes on from."""
    model.save_networks('latest')
    state = {'progress': dict(progress), 'data_seed': sampler.seed, 'dataset_size': sampler.size,
             'lr': model.opt.lr, 'rng': rng_states(), 'plot': visualizer.plot_data,
             'trackers': visualizer.tracker_state,
             'skipped_steps': model.skipped_steps, **model.training_state()}
    save(state, os.path.join(model.save_dir, STATE_FILE))


# flags that may change between a run and its resumption without changing what is trained
UNTRACKED = {'continue_train', 'which_epoch', 'epoch_count', 'gpu_ids', 'nThreads', 'checkpoints_dir', 'dataroot',
             'debug', 'display_id', 'display_port', 'display_server', 'display_env', 'display_winsize',
             'display_single_pane_ncols', 'print_freq', 'display_freq', 'update_html_freq', 'no_html', 'isTrain',
             'use_wandb', 'wandb_project_name', 'tensorboard'}


def saved_options(folder):
    """{flag: value as text} of <folder>/opt.txt ({} when it is missing or unreadable)."""
    try:
        with open(os.path.join(folder, 'opt.txt')) as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    found = (re.match(r'\s*(\w+): (.*?)\s*(\t\[default: .*\])?$', line) for line in lines)
    return {m[1]: m[2] for m in found if m}


def report_changed_flags(opt, folder):
    """Print the flags that differ from the saved run's opt.txt (resuming follows the current ones)."""
    saved = saved_options(folder)
    changed = [f'--{key} {saved[key]} -> {value}' for key, value in sorted(vars(opt).items())
               if key in saved and key not in UNTRACKED and str(value).strip() != saved[key]]
    if changed:
        print(f'flags that differ from the saved run ({os.path.join(folder, "opt.txt")}): {", ".join(changed)}; '
              f'training goes on with the current ones, the learning rate on their schedule')


def resume(opt, model, sampler, visualizer, dataset_size):
    """With --continue_train and --which_epoch latest, restore everything from latest_train_state.pth and
    return the loop's counters; without that file, keep the weights model.setup loaded (as the authors'
    code did) and start the rest afresh at the epoch start_epoch() chose. The learning rate follows the
    current flags (--lr, --niter, --niter_decay, --lr_decay_iters) from the resumed epoch on."""
    progress = fresh_progress(opt)
    if not opt.continue_train:
        return progress
    report_changed_flags(opt, model.save_dir)
    path = os.path.join(model.save_dir, STATE_FILE)
    if not resumes_from_state(opt, model.save_dir):
        print(f'warning: no {STATE_FILE} for --which_epoch {opt.which_epoch}: continuing from the weights alone; '
              f'optimizers, learning-rate schedule and image pools start afresh at epoch {opt.epoch_count}',
              file=sys.stderr)
        return progress
    state = load(path)
    check_dataset(state, dataset_size, path)
    model.load_training_state(state, path)
    if state['schedulers']:  # the saved run's first epoch, which its schedule counts from (one step an epoch)
        opt.epoch_count = state['progress']['epoch'] - state['schedulers'][0]['last_epoch']
    model.follow_lr_flags(state.get('lr'))
    sampler.seed = state['data_seed']
    set_rng_states(state['rng'])
    visualizer.plot_data = state['plot']
    visualizer.tracker_state = state.get('trackers', {})
    model.skipped_steps = state['skipped_steps']
    progress.update(state['progress'])
    print(f'resuming from {path}: epoch {progress["epoch"]}, {progress["examples_done"]} examples into it')
    return progress


def check_dataset(state, dataset_size, path):
    """Going on in the middle of an epoch needs the data of the save: the same number of examples."""
    saved, done = state.get('dataset_size'), state['progress']['examples_done']
    if saved is not None and saved != dataset_size and done:
        raise UserError(f'{path} stopped {done} examples into an epoch of {saved}, but the data now hold '
                        f'{dataset_size}: restore the data of that run, or start afresh from its weights (remove '
                        f'{STATE_FILE}; --continue_train then starts at --epoch_count)')
    if saved is not None and saved != dataset_size:
        print(f'note: the data held {saved} examples per epoch when {path} was saved, {dataset_size} now')
