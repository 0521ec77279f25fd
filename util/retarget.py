"""retarget.py's job: two videos in, the first one translated into the second's style out, within a
time budget. Phases: check the inputs, decode them into the frame cache, time a few training steps
(fp32 and mixed precision), plan the schedule, train (train.main), translate (test.translate_clip).

The run's bookkeeping is <checkpoints_dir>/<name>/retarget.json: the inputs' identity (paths, sizes,
modification times), the flags that shape training, the plan, the train.py command line and whether
training finished. Running the same command again resumes training from latest_train_state.pth, or,
once trained, only translates; other inputs or flags under the same --name stop with one line.
"""
import contextlib
import dataclasses
import hashlib
import io
import json
import math
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from data import create_dataset
from data.base_dataset import domain_channels, load_image
from data.video_dataset import cache_clips, clip_identity, find_clips
from models import create_model
from options.train_options import TrainOptions
from util import checkpoint
from util.errors import UserError
from util.html import HTML
from util.util import atomic_write

RECORD = 'retarget.json'
MIN_ITERATIONS = 50  # the smallest run worth training: fewer steps leave the generators near their initialisation
MAX_SIZE = {'cuda': 256, 'cpu': 64}  # the authors' 256 px on a GPU; a CPU takes seconds a step even at 64 px
SIZES = (256, 128, 64, 32)  # unet_<size> predictors exist for these frame sizes
EPOCH_MIN_S = 300  # save (end an epoch) at least this often, so that a kill loses at most a few minutes
HEADROOM = 1.25
TIMED_STEPS, WARMUP_STEPS = 3, 2  # the first steps also set up kernels and memory: slower than the rest
# train.py flags retarget sets itself: schedule and data come from the plan and the two inputs
OWN_FLAGS = {'--niter': '--minutes/--iterations', '--n_epochs': '--minutes/--iterations',
             '--niter_decay': '--minutes/--iterations', '--n_epochs_decay': '--minutes/--iterations',
             '--epoch_size': '--minutes/--iterations', '--epoch_count': 'resuming (run the same command again)',
             '--continue_train': 'resuming (run the same command again)', '--dataroot': 'the two inputs',
             '--dataset_mode': 'the two inputs', '--loadSize': '--size', '--load_size': '--size',
             '--fineSize': '--size', '--crop_size': '--size', '--amp': '--amp of retarget.py'}
# passed-through flags that change what is shown or logged, not what is trained: free to differ on a re-run
DISPLAY_FLAGS = {'--display_id', '--display_port', '--display_server', '--display_env', '--display_freq',
                 '--display_winsize', '--display_single_pane_ncols', '--display_ncols', '--print_freq',
                 '--update_html_freq', '--no_html', '--nThreads', '--num_threads', '--save_latest_freq'}


# -- inputs --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Side:
    """One input (a video, a folder of frames, or a folder of several clips): its clips and their sizes."""
    path: str
    clips: list
    sizes: list  # (width, height) of each clip's frames

    @property
    def stem(self):
        base = os.path.basename(os.path.normpath(self.path))
        return os.path.splitext(base)[0] if os.path.isfile(self.path) else base

    @property
    def frames(self):
        return sum(len(clip) for clip in self.clips)

    def identity(self):
        """A hash of every clip file's path, size and modification time."""
        return hashlib.sha1(json.dumps([clip_identity(c) for c in self.clips]).encode()).hexdigest()


def read_side(path):
    """The Side of path; a missing, empty or unreadable input is a UserError naming it."""
    if not os.path.exists(path):
        raise UserError(f'{path} does not exist: give a video file, a folder of frames, or a folder of clips')
    clips = find_clips(path)
    sizes = []
    for clip in clips:
        if clip.frame_paths:
            sizes.append(load_image(clip.frame_paths[0]).size)
        else:
            sizes.append((clip.video.width, clip.video.height))
    return Side(path, clips, sizes)


def short_name(name, other):
    """name without the leading words it shares with other: ('speaker_b', 'speaker_a') -> 'b'."""
    common = os.path.commonprefix([name, other])
    cut = max((i + 1 for i, c in enumerate(common) if c in '_-. '), default=0)
    return name[cut:] if cut < len(name) else name


def choose_size(sides, device, requested=None):
    """The training frame size: --size, or the largest of SIZES that fits the device's cap and the
    smallest input frame side (never upscaling)."""
    smallest = min(min(size) for side in sides for size in side.sizes)
    if requested:
        if requested > smallest:
            raise UserError(f'--size {requested}: the smallest input frames are {smallest} px on their short side; '
                            f'retarget does not upscale, give --size {smallest} or less')
        return requested
    fitting = [s for s in SIZES if s <= min(MAX_SIZE[device], smallest)]
    if not fitting:
        raise UserError(f'the smallest input frames are {smallest} px on their short side; Recycle-GAN\'s '
                        f'predictor needs at least {SIZES[-1]} px')
    return fitting[0]


def load_size(sides, size):
    """--loadSize for --resize_or_crop scale_width_and_crop: the width at which every clip's height is
    at least `size`, so that a size x size crop fits (the widest clip gets exactly `size` rows)."""
    widest = max(w / h for side in sides for w, h in side.sizes)
    return math.ceil(size * max(1.0, widest))


def translation_size(frame_size, load):
    """(width, height) a clip is translated at: scaled as in training (width -> load), both sides
    multiples of 4 (the ResNet generator halves them twice and doubles them back)."""
    w, h = frame_size
    return max(4, round(load / 4) * 4), max(4, round(load * h / w / 4) * 4)


class ScaledClip:
    """A clip whose frames come scaled to `size` (width, height): test.translate_clip's input."""

    def __init__(self, clip, size):
        self.clip, self.size = clip, size
        self.name, self.path = clip.name, clip.path

    def __len__(self):
        return len(self.clip)

    def fps(self, default):
        return self.clip.fps(default)

    def frames(self):
        for frame in self.clip.frames():
            yield np.asarray(Image.fromarray(frame).resize(self.size, Image.BICUBIC))


def link_inputs(sides, folder):
    """<folder>/trainA/<input A> and trainB/<input B> as symbolic links: a --dataroot for
    --dataset_mode video that reads the inputs where they are."""
    for domain, side in zip('AB', sides):
        link = os.path.join(folder, 'train' + domain, os.path.basename(os.path.normpath(side.path)))
        os.makedirs(os.path.dirname(link), exist_ok=True)
        target = os.path.abspath(side.path)
        if os.path.islink(link) and os.readlink(link) == target:
            continue
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(target, link)
    return folder


# -- flags -----------------------------------------------------------------------------------------------
def flag_pairs(argv):
    """['--a', '1', '--b', '--c', 'x'] -> [('--a', ['1']), ('--b', []), ('--c', ['x'])] (--flag=v too)."""
    pairs = []
    for arg in argv:
        if arg.startswith('--'):
            flag, eq, value = arg.partition('=')
            pairs.append((flag, [value] if eq else []))
        elif pairs:
            pairs[-1][1].append(arg)
        else:
            raise UserError(f'{arg!r}: unexpected argument; give the two inputs, then flags')
    return pairs


def check_passthrough(argv):
    """Flags retarget.py sets itself, and flags or values train.py would refuse, as one-line errors now."""
    for flag, _ in flag_pairs(argv):
        if flag in OWN_FLAGS:
            raise UserError(f'{flag} is set by retarget.py from {OWN_FLAGS[flag]}; leave it out')
    with contextlib.redirect_stderr(io.StringIO()) as said:
        try:
            TrainOptions().gather_options(['--dataroot', '.', *argv])
        except SystemExit:  # argparse's usage and error lines: keep the error
            error = (said.getvalue().strip().splitlines() or ['?'])[-1].split('error: ', 1)[-1]
            raise UserError(f'{error} (flags other than retarget.py\'s go to train.py: see python train.py '
                            f'--help)') from None


def training_flags(argv):
    """The passed-through flags that shape training, as a sorted list (display and logging flags left out)."""
    return sorted(f'{flag} {" ".join(values)}'.strip() for flag, values in flag_pairs(argv)
                  if flag not in DISPLAY_FLAGS and flag != '--debug')


def gpu_ids(argv):
    """The GPUs a passed-through --gpu_ids names, else [0] where CUDA is available, else none."""
    values = [v for f, v in flag_pairs(argv) if f in ('--gpu_ids', '--gpu')]
    if not values:
        return [0] if torch.cuda.is_available() else []
    return TrainOptions.resolve_gpu_ids(values[-1][0] if values[-1] else '', argv)


def base_argv(args, dataroot, size, load, device):
    """train.py's command line before the plan and the user's flags: the authors' Recycle-GAN settings
    (the user's flags come after them, and the later flag wins)."""
    return ['--dataroot', dataroot, '--name', args.name, '--checkpoints_dir', args.checkpoints_dir,
            '--model', 'recycle_gan', '--dataset_mode', 'video',
            '--which_model_netG', 'resnet_6blocks', '--which_model_netP', f'unet_{size}',
            '--no_dropout', '--pool_size', '0',  # identity 0 is recycle_gan's own default (the authors')
            '--resize_or_crop', 'scale_width_and_crop', '--loadSize', str(load), '--fineSize', str(size),
            '--gpu_ids', '0' if device == 'cuda' else '-1']


# -- timing ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Timing:
    step_s: float  # one training iteration
    save_s: float  # one save of the latest weights and training state
    setup_s: float  # building the dataset and the model
    frame_s: float  # translating one frame (the generator alone, at the translation size)


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_training(argv, frame_size, on_step=lambda: None):
    """Timing of argv's training run, measured on a throwaway model: WARMUP_STEPS untimed iterations,
    then the median of TIMED_STEPS, one save into a temporary folder, and the generator on one frame."""
    start = time.perf_counter()
    opt = TrainOptions().parse(argv)
    loader = create_dataset(opt)
    model = create_model(opt)
    model.setup(opt)
    setup_s = time.perf_counter() - start
    times, batches = [], iter(loader)
    for i in range(WARMUP_STEPS + TIMED_STEPS):
        data = next(batches, None)
        if data is None:
            batches = iter(loader)
            data = next(batches)
        t = time.perf_counter()
        model.set_input(data)
        model.optimize_parameters()
        sync(model.device)
        if i >= WARMUP_STEPS:
            times.append(time.perf_counter() - t)
        on_step()
    del batches, loader
    with tempfile.TemporaryDirectory(dir=model.save_dir) as folder:
        model.save_dir, t = folder, time.perf_counter()
        model.save_networks('latest')
        checkpoint.save(model.training_state(), os.path.join(folder, checkpoint.STATE_FILE))  # as save_latest does
        save_s = time.perf_counter() - t
    nc = domain_channels(opt)[0]
    frame = torch.zeros(1, nc, frame_size[1], frame_size[0], device=model.device)
    frame_times = []
    with torch.no_grad(), model.autocast():
        for _ in range(2):
            t = time.perf_counter()
            model.netG_A(frame)
            sync(model.device)
            frame_times.append(time.perf_counter() - t)
    return Timing(statistics.median(times), save_s, setup_s, frame_times[-1])


def amp_choices(device, requested):
    """Precisions to try: fp32 and the device's mixed precision (bf16 where it runs, else fp16), or the one asked."""
    if requested == 'off':
        return [None]
    if requested != 'auto':
        return [requested]
    if device == 'cuda':
        return [None, 'bf16' if torch.cuda.is_bf16_supported() else 'fp16']
    return [None, 'bf16']


# -- planning --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Plan:
    iterations: int
    epochs: int
    epoch_size: int  # iterations an epoch
    niter: int
    niter_decay: int
    step_s: float
    train_s: float  # the training loop: iterations and saves
    other_s: float  # decoding and timing (already spent), starting up twice, translating
    translate_s: float  # translating, a part of other_s
    save_s: float
    setup_s: float  # building the dataset and the model (train.main's start)
    deadline: bool = False  # --minutes: epochs end early when the machine is slower than measured
    amp: str = None

    @property
    def cap(self):
        """train.py's epoch in iterations: under a deadline HEADROOM times the planned ones, which an epoch
        may run if the machine gets faster (the Deadline ends it on time otherwise)."""
        return math.ceil(self.epoch_size * HEADROOM) if self.deadline else self.epoch_size

    @property
    def total_s(self):
        return self.train_s + self.other_s

    def describe(self, size):
        return (f'{self.iterations:,} iterations of {size} px ({self.epochs} epochs of {self.epoch_size:,}, the '
                f'learning rate decaying over the last {self.niter_decay}), {self.amp or "fp32"}, about '
                f'{self.total_s / 60:.1f} min ({self.train_s / 60:.1f} training, {self.other_s / 60:.1f} decoding, '
                f'timing and translating)')


def choose_epochs(iterations, step_s, save_s, epochs=None):
    """The number of epochs: every epoch ends with a save, and with the authors' schedule the last one
    runs at learning rate 0, so few epochs waste a share 1/E of the steps and many spend E saves:
    sqrt(train time / save time) balances the two; at least one save every EPOCH_MIN_S, at least 2
    (one at the full rate, one decaying), at most 200 (the authors' 100 + 100). Among close numbers,
    the one that divides the iterations with the smallest remainder (a remainder is not trained)."""
    if epochs:
        return min(epochs, iterations)
    train_s = iterations * step_s
    most = min(200, iterations)
    ideal = min(most, max(2.0, math.sqrt(train_s / max(save_s, 1e-3)), train_s / EPOCH_MIN_S))
    candidates = range(min(most, max(2, math.floor(ideal / 1.25))), min(most, math.ceil(ideal * 1.25)) + 1)
    return min(candidates, key=lambda e: (iterations % e, abs(e - ideal)))


def make_plan(timing, spent_s, translate_frames, budget_s=None, iterations=None, epochs=None):
    """The schedule that fills budget_s (seconds, the whole job) given what has been spent, or runs
    `iterations`; a budget too small for MIN_ITERATIONS is a UserError saying the smallest that works."""
    translate_s = translate_frames * timing.frame_s
    other_s = spent_s + 2 * timing.setup_s + translate_s

    def plan(n):
        e = choose_epochs(n, timing.step_s, timing.save_s, epochs)
        epoch_size = n // e
        niter = math.ceil(e / 2)  # the authors' 100 + 100: half at the full rate, half decaying
        train_s = e * epoch_size * timing.step_s + (e + 1) * timing.save_s  # + the last epoch's numbered weights
        return Plan(e * epoch_size, e, epoch_size, niter, e - niter, timing.step_s, train_s, other_s, translate_s,
                    timing.save_s, timing.setup_s, deadline=budget_s is not None)

    if iterations is not None:
        return plan(iterations)
    n = max(MIN_ITERATIONS, int((budget_s - other_s) / timing.step_s))
    result = plan(n)
    # the saves depend on the number of epochs, which depends on the iterations: settle both
    while n > MIN_ITERATIONS and result.total_s > budget_s:
        n = max(MIN_ITERATIONS, n - math.ceil((result.total_s - budget_s) / timing.step_s))
        result = plan(n)
    # a few more iterations may fit where the division into epochs left a remainder
    for more in range(n + 1, n + 2 * result.epochs + 2):
        candidate = plan(more)
        if candidate.total_s <= budget_s and candidate.iterations > result.iterations:
            result = candidate
    if result.total_s > budget_s:
        raise UserError(f'--minutes {budget_s / 60:g} is too short for even {MIN_ITERATIONS} iterations here '
                        f'({timing.step_s:.2f} s each, {other_s / 60:.1f} min to decode, time and translate): '
                        f'the smallest useful run needs --minutes {math.ceil(result.total_s / 6) / 10:g}')
    return result


def schedule_argv(plan, batch_size):
    """The plan's schedule for train.py, and the dashboard's and page's snapshots at every epoch's end at
    least (display every divisor of an epoch's examples up to 100: the snapshot also lands on its end)."""
    epoch = plan.cap * batch_size
    display = max(d for d in range(1, min(100, epoch) + 1) if epoch % d == 0)
    return ['--display_freq', str(display), '--update_html_freq', str(epoch), '--niter', str(plan.niter),
            '--niter_decay', str(plan.niter_decay), '--epoch_size', str(epoch), '--save_epoch_freq', str(plan.epochs),
            '--save_latest_freq', str(10 ** 12)]  # saves at each epoch's end, which the plan paid for


# -- the run's record --------------------------------------------------------------------------------
def read_record(folder):
    path = os.path.join(folder, RECORD)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        raise UserError(f'{path} is unreadable ({err}): pass --restart to train afresh under this --name') from None


def write_record(folder, record):
    text = json.dumps(record, indent=1).encode()
    atomic_write(os.path.join(folder, RECORD), lambda f: f.write(text))


def what_changed(record, fingerprint):
    """None, or one phrase saying how fingerprint differs from the recorded run's."""
    for key, label in (('A', 'the first input'), ('B', 'the second input')):
        old, new = record['inputs'][key], fingerprint['inputs'][key]
        if old['path'] != new['path']:
            return f'{label} was {old["path"]}, now {new["path"]}'
        if old['identity'] != new['identity']:
            return f'{label} {new["path"]} changed (its files\' sizes or modification times)'
    for key, old in record['flags'].items():
        new = fingerprint['flags'].get(key)
        if old != new:
            return f'{key} was {old}, now {new}'
    return None


def saved_progress(folder):
    """(epoch, examples done in it) of the saved training state ((1, 0) without one), read without
    loading the weights."""
    path = os.path.join(folder, checkpoint.STATE_FILE)
    if not os.path.exists(path):
        return 1, 0
    try:
        progress = torch.load(path, map_location='cpu', weights_only=True, mmap=True)['progress']
    except Exception:  # unreadable: train.py says so when it resumes
        return 1, 0
    return progress['epoch'], progress['examples_done']


class Deadline:
    """on_step for train.main under --minutes: ends an epoch once it has used its share of the training
    time left (split evenly over the epochs left, less their saves), so that training ends on time with
    every epoch run, the learning-rate schedule complete, whatever the machine's load does meanwhile.
    An epoch also ends by itself after `cap` iterations."""

    def __init__(self, end, epochs_left, in_epoch, cap, plan, on_step):
        self.end, self.left, self.in_epoch, self.cap, self.on_step = end, epochs_left, in_epoch, cap, on_step
        self.step_s, self.save_s = plan.step_s, plan.save_s  # running estimates
        self.epoch_start = self.last = None

    def __call__(self):
        self.on_step()
        now = time.perf_counter()
        if self.epoch_start is None:  # the epoch's first step: before it, the set-up or the last epoch's save
            self.epoch_start = now - self.step_s
        else:
            self.step_s = 0.8 * self.step_s + 0.2 * (now - self.last)
        self.last = now
        self.in_epoch += 1
        share = (self.end - self.epoch_start - (self.left + 1) * self.save_s) / self.left
        # another step would overrun the share by more than half a step: end here (rounding, not truncating)
        if self.in_epoch >= self.cap or now - self.epoch_start + self.step_s / 2 > share:
            self.left, self.in_epoch, self.epoch_start = max(1, self.left - 1), 0, None
            return True  # (at the cap train.py ends the epoch anyway)
        return False


# -- the one progress bar ----------------------------------------------------------------------------------
class JobBar:
    """One bar over the whole job: time spent against time spent plus the estimated time left, which each
    phase gives as units left times seconds a unit, or as a deadline; the work after it is added."""

    def __init__(self, stdout, started):
        self.stdout, self.start = stdout, started
        # disable=None: no bar where stderr is not a terminal (logs, pipes, tests)
        self.bar = tqdm(total=1, file=sys.stderr, dynamic_ncols=True, disable=None,
                        bar_format='{desc} {percentage:3.0f}%|{bar}| {postfix}')
        self.shown = 0.0
        self.phase('starting')

    def phase(self, name, of=0, each_s=0.0, later_s=0.0, done=0, end=None):
        """A phase of `of` units of each_s seconds, `done` of them done before (or one ending at the
        perf_counter time `end`), with later_s seconds of work after it."""
        self.name, self.of, self.count, self.each_s, self.later_s, self.end = name, of, done, each_s, later_s, end
        self.show(force=True)

    def show(self, force=False):
        now = time.perf_counter()
        if not force and now - self.shown < 0.2:
            return
        self.shown = now
        here = max(0.0, self.end - now) if self.end is not None else max(0, self.of - self.count) * self.each_s
        elapsed, left = now - self.start, here + self.later_s
        self.bar.total, self.bar.n = elapsed + left, elapsed
        self.bar.set_description_str(self.name + (f' {self.count:,}/{self.of:,}' if self.of else ''), refresh=False)
        self.bar.set_postfix_str(f'{tqdm.format_interval(elapsed)}<{tqdm.format_interval(left)}', refresh=False)
        self.bar.refresh()

    tick = show  # a phase without units to count (timing steps): the clock alone moves the bar

    def update(self, n=1):
        self.count += n
        self.show()

    def say(self, message):
        self.bar.clear()
        print(message, file=self.stdout, flush=True)
        self.bar.refresh()

    def close(self):
        self.bar.close()


# -- the job ---------------------------------------------------------------------------------------------
def run(args, passthrough, started):
    """The whole job for retarget.py's parsed arguments and the flags passed through to train.py;
    started: time.perf_counter() when the command started (the budget counts from there)."""
    import test as tester  # noqa: the entry points' functions, run in this process
    import train as trainer

    check_passthrough(passthrough)
    sides = [read_side(args.a), read_side(args.b)]
    stems = [side.stem for side in sides]
    shorts = [short_name(stems[1], stems[0]), short_name(stems[0], stems[1])]  # how each side names the other
    args.name = args.name or f'{stems[0]}_to_{shorts[0]}'
    folder = os.path.join(args.checkpoints_dir, args.name)
    results = os.path.join(args.results_dir, args.name)
    device = 'cuda' if gpu_ids(passthrough) else 'cpu'
    size = choose_size(sides, device, args.size)
    load = load_size(sides, size)
    inputs = {d: {'path': os.path.abspath(side.path), 'identity': side.identity()} for d, side in zip('AB', sides)}
    fingerprint = {'inputs': inputs,
                   'flags': {'--minutes': args.minutes, '--iterations': args.iterations, '--epochs': args.epochs,
                             '--size': size, '--amp': args.amp, 'train.py flags': training_flags(passthrough)}}

    record = read_record(folder)
    if record and args.restart:
        for stale in (RECORD, checkpoint.STATE_FILE):
            if os.path.exists(os.path.join(folder, stale)):
                os.remove(os.path.join(folder, stale))
        record = None
    if record:
        change = what_changed(record, fingerprint)
        if change:
            raise UserError(f'{folder} holds a run of other inputs or flags ({change}); pass --restart to train '
                            f'afresh under this name, or pick another --name')
    os.makedirs(folder, exist_ok=True)
    dataroot = link_inputs(sides, os.path.join(folder, 'inputs'))
    authors = base_argv(args, dataroot, size, load, device)
    frame_sizes = [translation_size(s, load) for side in sides for s in side.sizes]
    largest_frame = max(frame_sizes, key=lambda s: s[0] * s[1])
    translate_frames = sides[0].frames + (sides[1].frames if args.both else 0)

    log_path = os.path.join(folder, 'retarget_log.txt')
    bar = JobBar(sys.stdout, started)
    planned_now, trained = record is None, None
    try:
        # train.py's and test.py's own output (options, losses, saves) goes to the log, not between the bar's lines
        with open(log_path, 'a') as log, contextlib.redirect_stdout(log):
            if planned_now:
                record = plan_run(args, authors, passthrough, fingerprint, largest_frame, translate_frames, bar,
                                  started)
                write_record(folder, record)
                if args.plan_only:
                    return None
            plan = Plan(**record['plan'])
            if not record['trained']:
                train(trainer, record, plan, folder, bar)
                trained = bar.count
                record['trained'] = True
                write_record(folder, record)
            else:
                bar.say(f'{folder} is trained: translating only')
            outputs = translate(tester, record, plan, sides, shorts, results, args, bar)
    finally:
        bar.close()
    took = (time.perf_counter() - bar.start) / 60
    print(f'done in {took:.1f} min' + (f' (planned: {plan.total_s / 60:.1f} min)' if planned_now else '') +
          (f', {trained:,} iterations trained' if trained is not None else ''))
    print(f'log (train.py\'s output, options, losses): {log_path}')
    print(f'training page: {os.path.join(folder, "web", "index.html")}')
    print(f'results page:  {os.path.join(results, "index.html")}')
    for path in outputs:
        print(f'video:         {path}')
    return outputs


def decode(argv, bar):
    """Decode the clips argv's training reads into its frame cache (those not there yet); returns its options."""
    opt = TrainOptions().parse(argv)
    clips = [find_clips(os.path.join(opt.dataroot, 'train' + d)) for d in 'AB']
    cache = opt.frame_cache or os.path.join(opt.checkpoints_dir, 'frame_cache')
    os.makedirs(cache, exist_ok=True)
    bar.phase('decoding', sum(len(c) for side in clips for c in side), 0.01)
    for side_clips in clips:
        cache_clips(side_clips, opt, cache, progress=bar)
    return opt


def plan_run(args, authors, passthrough, fingerprint, largest_frame, translate_frames, bar, started):
    """Decode the inputs, time training steps, and return the run's record with its plan (printed)."""
    start = time.perf_counter()
    argv = authors + passthrough
    opt = decode(argv, bar)  # parsing argv also checks every passed-through flag, before any work
    decoded_s = time.perf_counter() - start
    # translating reads each frame again and encodes it: about twice a decode (5 ms a frame if all was cached)
    io_s = 2 * (decoded_s / bar.count if bar.count else 0.005)

    timings = {}
    for amp in amp_choices('cuda' if opt.gpu_ids else 'cpu', args.amp):
        bar.phase(f'timing {amp or "fp32"} steps', later_s=60)
        timings[amp] = time_training(argv + (['--amp', amp] if amp else []), largest_frame, bar.tick)
    amp = min(timings, key=lambda a: timings[a].step_s)
    if len(timings) > 1:
        bar.say('precision: ' + ', '.join(f'{a or "fp32"} {t.step_s:.3f} s a step' for a, t in timings.items()) +
                f' measured here: training in {amp or "fp32"}')
    # the first set-up also imports and warms up what the later ones reuse: the quickest is the typical one
    timing = dataclasses.replace(timings[amp], frame_s=timings[amp].frame_s + io_s,
                                 setup_s=min(t.setup_s for t in timings.values()))
    budget_s = args.minutes * 60 if args.minutes is not None else None
    plan = make_plan(timing, time.perf_counter() - started, translate_frames, budget_s, args.iterations,
                     args.epochs)
    plan.amp = amp
    batch_size = opt.batchSize
    bar.say(f'plan: {plan.describe(opt.fineSize)}' + (f', budget {args.minutes:g} min' if budget_s else ''))
    bar.say(f'      decoding took {decoded_s:.0f} s; a save {timing.save_s:.1f} s, a translated frame '
            f'{timing.frame_s * 1000:.0f} ms')
    # the user's flags last: they may change what retarget.py chose (but not the schedule: check_passthrough)
    train_argv = authors + (['--amp', amp] if amp else []) + schedule_argv(plan, batch_size) + passthrough
    return {'inputs': fingerprint['inputs'], 'flags': fingerprint['flags'], 'plan': dataclasses.asdict(plan),
            'batch_size': batch_size, 'train_argv': train_argv, 'trained': False}


def train(trainer, record, plan, folder, bar):
    """train.main on the recorded command line, resuming from the saved state if there is one; under
    --minutes, a Deadline ends the epochs on time."""
    argv = record['train_argv']
    epoch, examples = saved_progress(folder)
    if os.path.exists(os.path.join(folder, checkpoint.STATE_FILE)):
        argv = argv + ['--continue_train']
        bar.say(f'resuming at epoch {epoch} of {plan.epochs}')
    decode(argv, bar)  # again only if the frame cache was deleted since
    left = plan.epochs - epoch + 1
    train_s = plan.setup_s + plan.train_s * left / plan.epochs  # the plan's time for the epochs left
    done = (epoch - 1) * plan.epoch_size + examples // record['batch_size']
    on_step = bar.update
    if plan.deadline:
        end = time.perf_counter() + train_s
        on_step = Deadline(end, left, examples // record['batch_size'], plan.cap, plan, bar.update)
        bar.phase('training', plan.iterations, plan.step_s, later_s=plan.translate_s + plan.setup_s, done=done,
                  end=end)
    else:
        bar.phase('training', plan.iterations, plan.step_s, later_s=plan.translate_s + plan.setup_s, done=done)
    try:
        trainer.main(argv, on_step=on_step)
    except SystemExit as stop:  # Ctrl-C or SIGTERM: train.py saved the latest state and stops
        bar.say('stopped after saving the latest state: run the same command again to resume')
        raise stop


def translate(tester, record, plan, sides, shorts, results, args, bar):
    """Translate every clip of the first input (and of the second with --both) into results/: per clip
    <clip>_as_<other>.mp4 and <clip>_as_<other>_side_by_side.mp4, and index.html."""
    opt = TrainOptions().gather_options(record['train_argv'])
    opt.isTrain, opt.continue_train, opt.which_epoch = False, False, 'latest'
    opt.gpu_ids = TrainOptions.resolve_gpu_ids(opt.gpu_ids, record['train_argv'])
    opt.resize_or_crop = 'none'  # frames come scaled (ScaledClip), whole, not cropped
    opt.fps, opt.aspect_ratio = args.fps, 1.0
    model = create_model(opt)
    model.setup(opt)
    webpage = HTML(results, f'{opt.name}: {sides[0].stem} as {sides[1].stem}')
    jobs = [(clip, size, 'A', shorts[0]) for clip, size in zip(sides[0].clips, sides[0].sizes)]
    if args.both:
        jobs += [(clip, size, 'B', shorts[1]) for clip, size in zip(sides[1].clips, sides[1].sizes)]
    frames = sum(len(clip) for clip, *_ in jobs)
    bar.phase('translating', frames, plan.translate_s / max(frames, 1))
    outputs = []
    nc = dict(zip('AB', domain_channels(opt)))
    for clip, size, key, other in jobs:
        stem = f'{clip.name}_as_{other}'
        names = (f'{stem}.mp4', f'{stem}_side_by_side.mp4')
        tester.translate_clip(model, ScaledClip(clip, translation_size(size, opt.loadSize)), key, nc[key], opt,
                              webpage, names=names, on_frame=bar.update)
        outputs.append(os.path.join(results, names[0]))
    webpage.save()
    return outputs
