"""Experiment trackers beside the dashboard: Weights & Biases (--use_wandb) and TensorBoard (--tensorboard).

Both count steps in examples trained since the run began (train.py's total_steps, the counter --print_freq
and --display_freq count in), which --continue_train restores, so a resumed run goes on along the same axis:
TensorBoard hides what a killed sitting logged after its last save (purge_step), and W&B continues the same
run (its id is kept in the training state). Neither package is a requirement; a tracker that fails (no
network, a full disk) costs one warning and training goes on without it.

    <checkpoints_dir>/<name>/tensorboard/   TensorBoard's event files: `tensorboard --logdir <checkpoints_dir>`
    <checkpoints_dir>/<name>/wandb/         W&B's local files (offline runs: `wandb sync` them)
"""
import argparse
import contextlib
import importlib.util
import os
import sys

from . import checkpoint
from .errors import UserError

TENSORBOARD_DIR = 'tensorboard'  # in the run's folder
DEFAULT_PROJECT = 'recycle-gan'


def add_flags(add):
    """The trackers' flags (train.py, scripts/compare.py): add is parser.add_argument."""
    add('--use_wandb', action='store_true',
        help='log losses, learning rate, speed, images and options to Weights & Biases (pip install wandb)')
    add('--wandb_project_name', default=DEFAULT_PROJECT, help='W&B project of --use_wandb runs (a run is named --name)')
    add('--tensorboard', action='store_true',
        help='log the same to TensorBoard, in <checkpoints_dir>/<name>/tensorboard (pip install tensorboard)')


def train_flags(opt):
    """train.py's tracker flags as opt has them (for scripts that run train.main): they change what is logged,
    not what is trained."""
    return ['--use_wandb'] * opt.use_wandb + ['--tensorboard'] * opt.tensorboard + \
        ['--wandb_project_name', opt.wandb_project_name] * opt.use_wandb


def check_installed(opt):
    """A UserError saying what to install when a tracker is asked for and its package is missing."""
    for flag, package in (('use_wandb', 'wandb'), ('tensorboard', 'tensorboard')):
        if getattr(opt, flag) and importlib.util.find_spec(package) is None:
            raise UserError(f'--{flag} needs the {package} package, which is not installed: pip install {package}')


def flatten(scores, prefix):
    """{'a': {'b': 1.0}} -> {'<prefix>/a/b': 1.0}, numbers only."""
    flat = {}
    for key, value in scores.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f'{prefix}/{key}'))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[f'{prefix}/{key}'] = float(value)
    return flat


class WandB:
    name = 'Weights & Biases'

    def __init__(self, opt, folder, run_id, config):
        import wandb
        self.wandb = wandb
        # resume='allow': the run of run_id goes on (or starts with that id where the server has none, as offline)
        self.run = wandb.init(project=opt.wandb_project_name, name=opt.name, dir=folder, id=run_id,
                              resume='allow' if run_id else None, config=config)
        self.id = self.run.id

    def scalars(self, values, step):
        self.run.log(values, step=step)

    def images(self, images, step):
        self.run.log({f'images/{label}': self.wandb.Image(image) for label, image in images.items()}, step=step)

    def summary(self, values, step):
        self.run.summary.update(values)  # a finished run's numbers: W&B's runs table shows the summary

    def close(self):
        self.run.finish()


class TensorBoard:
    name = 'TensorBoard'
    id = None

    def __init__(self, opt, folder, purge_step, config):
        from torch.utils.tensorboard import SummaryWriter
        self.writer = SummaryWriter(os.path.join(folder, TENSORBOARD_DIR), purge_step=purge_step)
        if purge_step == 0 and config:  # a fresh run: its options, once
            rows = ''.join(f'| {key} | {value} |\n' for key, value in sorted(config.items()))
            self.writer.add_text('options', f'| option | value |\n|---|---|\n{rows}', 0)

    def scalars(self, values, step):
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()  # cheap (no fsync): a run is watched live, and a save follows what was logged

    def images(self, images, step):
        for label, image in images.items():
            self.writer.add_image(f'images/{label}', image, step, dataformats='HWC')
        self.writer.flush()

    summary = scalars

    def close(self):
        self.writer.close()


class Trackers:
    """The trackers opt asks for (--use_wandb, --tensorboard) as one: each call goes to every tracker still
    working; one that fails is warned about once and dropped.

    folder: the run's folder. state: {'wandb_id': ...} of the W&B run to continue ({}: a new one); .state is
    then this one's, which the training state keeps. purge_step: TensorBoard hides the events of earlier
    sittings from this step on (None: none). config: the options, for W&B's config and TensorBoard's text."""

    def __init__(self, opt, folder, state, purge_step=None, config=None):
        self.trackers = []
        starts = ((opt.tensorboard, TensorBoard, lambda: TensorBoard(opt, folder, purge_step, config)),
                  (opt.use_wandb, WandB, lambda: WandB(opt, folder, state.get('wandb_id'), config)))
        for wanted, kind, start in starts:
            if wanted:
                try:
                    self.trackers.append(start())
                except Exception as err:  # a tracker must never stop training
                    self.failed(kind.name, err)
        self.state = {**state, **{'wandb_id': t.id for t in self.trackers if t.id}}  # kept if W&B did not start

    @staticmethod
    def failed(name, err):
        detail = (str(err).strip().splitlines() or [''])[0]
        # on a line of its own, not after a progress bar (tqdm only where it is loaded: gpu_check runs without it)
        write = sys.modules['tqdm'].tqdm.write if getattr(sys.modules.get('tqdm'), 'tqdm', None) else print
        write(f'warning: {name} stopped logging ({type(err).__name__}: {detail}); training goes on without it',
              file=sys.stderr)

    def _each(self, method, *args):
        for tracker in list(self.trackers):
            try:
                getattr(tracker, method)(*args)
            except Exception as err:  # no network, a full disk: that tracker stops, training does not
                self.trackers.remove(tracker)
                self.failed(tracker.name, err)
                with contextlib.suppress(Exception):  # let go of its files and processes
                    tracker.close()

    def scalars(self, values, step):
        """values: {tag: number}, at step (examples trained)."""
        self._each('scalars', values, step)

    def images(self, images, step):
        """images: {label: (H, W, 3) uint8 array}."""
        self._each('images', images, step)

    def summary(self, values, step):
        """A finished run's numbers: W&B's summary, TensorBoard scalars at step."""
        self._each('summary', values, step)

    def close(self):
        self._each('close')
        self.trackers = []


def log_evaluation(run, scores, prefix='eval'):
    """Log the evaluation numbers of a trained run to the trackers it trained with: the same W&B run (its
    summary) and its TensorBoard events (scalars at the last saved step). Returns the numbers as logged.

    run: the run's folder <checkpoints_dir>/<name> (whose opt.txt says which trackers it used), or options
    with checkpoints_dir, name, use_wandb, tensorboard and wandb_project_name (which say it instead).
    scores: {name: number, or a dict of them, nested}, logged as '<prefix>/<name>/...'."""
    if isinstance(run, (str, os.PathLike)):
        folder = os.path.normpath(run)
        saved = checkpoint.saved_options(folder)
        run = argparse.Namespace(checkpoints_dir=os.path.dirname(folder), name=os.path.basename(folder),
                                 use_wandb=saved.get('use_wandb') == 'True',
                                 tensorboard=saved.get('tensorboard') == 'True',
                                 wandb_project_name=saved.get('wandb_project_name', DEFAULT_PROJECT))
    folder = os.path.join(run.checkpoints_dir, run.name)
    path = os.path.join(folder, checkpoint.STATE_FILE)
    state = checkpoint.load(path, mmap=True) if os.path.exists(path) else {}
    step = state.get('progress', {}).get('total_steps', 0)
    values = flatten(scores, prefix)
    trackers = Trackers(run, folder, state.get('trackers', {}))
    trackers.summary(values, step)
    trackers.close()
    return values
