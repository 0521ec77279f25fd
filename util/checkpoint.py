"""Checkpoint files, read safely, and the full training state for resuming a run exactly.

<checkpoints_dir>/<name>/
    <epoch>_net_<G_A|G_B|P_A|P_B|D_A|D_B>.pth   state_dicts in the authors' format (test.py, their tools)
    latest_train_state.pth                      what else a run needs to go on exactly where it stopped:
        the networks again (one atomically written file is always a consistent set), optimizers,
        schedulers, image pools, the loop's counters, the data order's seed, every RNG state.

Everything is read with torch.load(weights_only=True): tensors, numbers, strings and plain
containers only, so a downloaded file cannot run code when it is loaded.
"""
import os
import pickle
import random
import sys

import numpy as np
import torch

from .errors import UserError
from .util import atomic_save

STATE_FILE = 'latest_train_state.pth'


def load(path):
    """torch.load(path, weights_only=True) on the CPU; every failure is a one-line UserError naming path."""
    if not os.path.isfile(path):
        raise UserError(f'{path} does not exist: check --checkpoints_dir, --name and --which_epoch')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        detail = (str(err).splitlines() or [''])[0]
        raise UserError(f'{path} was refused: loading it would run arbitrary code, which checkpoints never need '
                        f'({detail})') from None
    except Exception as err:  # truncated, not a zip archive, ...
        detail = (str(err).splitlines() or [''])[0]
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


def fresh_progress(opt):
    """The training loop's counters at the start of a run (the authors' `--epoch_count` included)."""
    return {'epoch': opt.epoch_count, 'examples_done': 0, 'total_steps': 0, 'loss_G_sum': 0.0, 'n_steps': 0}


def save_latest(model, progress, sampler, visualizer):
    """latest_net_*.pth, then latest_train_state.pth, each written atomically. A kill between the two
    leaves a newer weight set beside an older but complete state, which a resumed run goes on from."""
    model.save_networks('latest')
    state = {'progress': dict(progress), 'data_seed': sampler.seed, 'rng': rng_states(),
             'plot': visualizer.plot_data, 'skipped_steps': model.skipped_steps, **model.training_state()}
    atomic_save(state, os.path.join(model.save_dir, STATE_FILE))


def resume(opt, model, sampler, visualizer):
    """With --continue_train and --which_epoch latest, restore everything from latest_train_state.pth and
    return the loop's counters; without that file, keep the weights model.setup loaded (as the authors'
    code did) and start the rest afresh at --epoch_count."""
    progress = fresh_progress(opt)
    if not opt.continue_train:
        return progress
    path = os.path.join(model.save_dir, STATE_FILE)
    if opt.which_epoch != 'latest' or not os.path.exists(path):
        print(f'warning: no {STATE_FILE} for --which_epoch {opt.which_epoch}: continuing from the weights alone; '
              f'optimizers, learning-rate schedule and image pools start afresh at --epoch_count {opt.epoch_count}',
              file=sys.stderr)
        return progress
    state = load(path)
    model.load_training_state(state, path)
    sampler.seed = state['data_seed']
    set_rng_states(state['rng'])
    visualizer.plot_data = state['plot']
    model.skipped_steps = state['skipped_steps']
    progress.update(state['progress'])
    print(f'resuming from {path}: epoch {progress["epoch"]}, {progress["examples_done"]} examples into it')
    return progress
