"""Two videos in, the first one retargeted into the style of the second out: Recycle-GAN trained within a
time budget, in one command.

    python retarget.py speaker_a.mp4 speaker_b.mp4 --minutes 60   # -> results/speaker_a_to_b/speaker_a_as_b.mp4

Inputs are videos, folders of frames, or folders of several clips (as --dataset_mode video reads them).
--minutes M times the candidate networks (util/budget.py) on this machine and trains the one that the
benchmark says gives the best result in M minutes, with iterations, epochs and learning-rate decay planned
so that the whole job (decoding, timing, training, translating) ends within M minutes; --iterations N
trains N iterations instead. Other flags go to train.py (e.g. --ngf 32, --model reCycle_gan, --seed 0) and
win over the planner's choice. Running the same command again resumes an interrupted run, or only
translates a finished one. Writes <checkpoints_dir>/<name>/ (as train.py does, plus retarget.json and
retarget_log.txt) and <results_dir>/<name>/: <a>_as_<b>.mp4, <a>_as_<b>_side_by_side.mp4 (input | output),
with --both <b>_as_<a>.mp4 too, and index.html.

Phases: check every flag and path, decode the inputs into the frame cache, time candidates, plan, train
(train.main), translate (test.translate_clip). The run's record, <checkpoints_dir>/<name>/retarget.json,
holds the inputs' identity (paths, sizes, modification times), the flags that shape training, the plan, the
train.py command line and whether training finished; other inputs or flags under the same --name stop with
one line, and --restart trains afresh.
"""
import os
import signal
import sys
import time

START = time.perf_counter()  # the budget counts from the command's start, imports included


def interrupted(signum=None, frame=None):
    print('interrupted: run the same command again to go on', file=sys.stderr)
    sys.exit(130)


if __name__ == '__main__':
    signal.signal(signal.SIGINT, interrupted)  # Ctrl-C while importing torch: nothing to save yet, no traceback
    # OpenMP's threads spin while they wait for work: with another job on the same cores, a spinning thread
    # holds a core the other one needs, and a step took 20 times longer here (docs/retarget.md); set before torch
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import argparse  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402

import torch  # noqa: E402

import test as tester  # noqa: E402
import train as trainer  # noqa: E402
from data import create_dataset  # noqa: E402
from data.base_dataset import domain_channels  # noqa: E402
from data.retarget_inputs import (ScaledClip, largest_size, link_inputs, load_size, output_size,  # noqa: E402
                                  read_side, short_name, translation_size)
from data.video_dataset import cache_clips, find_clips  # noqa: E402
from models import create_model  # noqa: E402
from options.train_options import TrainOptions  # noqa: E402
from util import budget, checkpoint, checks  # noqa: E402
from util.budget import Plan, Timing  # noqa: E402
from util.errors import Parser, UserError, run_cli  # noqa: E402
from util.html import HTML  # noqa: E402
from util.progress import JobBar  # noqa: E402
from util.util import atomic_write  # noqa: E402
from util.visualizer import Visualizer  # noqa: E402

RECORD = 'retarget.json'
MAX_SIZE = {'cuda': 256, 'cpu': 64}  # the authors' 256 px on a GPU; a CPU takes seconds a step even at 64 px
WARMUP_STEPS, TIMED_STEPS = 1, 3  # the first step also sets up kernels and memory: slower than the rest
SLOWER = 2.0  # a precision whose steps so far took this many times the fastest one's is not timed further
# train.py flags retarget sets itself: schedule and data come from the plan and the two inputs
OWN_FLAGS = {'--niter': '--minutes/--iterations', '--n_epochs': '--minutes/--iterations',
             '--niter_decay': '--minutes/--iterations', '--n_epochs_decay': '--minutes/--iterations',
             '--epoch_size': '--minutes/--iterations', '--epoch_count': 'resuming (run the same command again)',
             '--continue_train': 'resuming (run the same command again)', '--dataroot': 'the two inputs',
             '--dataset_mode': 'the two inputs', '--loadSize': '--size', '--load_size': '--size',
             '--fineSize': '--size', '--crop_size': '--size', '--resize_or_crop': '--size (whole frames, scaled)',
             '--amp': '--amp of retarget.py'}
WIDTH_FLAGS = ('--ngf', '--ndf', '--npf')  # given any of them, the user chooses the width, not the planner
# passed-through flags that change what is shown or logged, not what is trained: free to differ on a re-run
DISPLAY_FLAGS = {'--display_id', '--display_port', '--display_server', '--display_env', '--display_freq',
                 '--display_winsize', '--display_single_pane_ncols', '--display_ncols', '--print_freq',
                 '--update_html_freq', '--no_html', '--nThreads', '--num_threads', '--save_latest_freq'}


# -- the command line ------------------------------------------------------------------------------------------
def parse(argv):
    """retarget.py's own arguments, checked, and the flags it passes on to train.py."""
    parser = Parser(__file__, description=__doc__)
    add = parser.add_argument
    add('a', help='the video to retarget: a video file, a folder of frames, or a folder of clips')
    add('b', help='the video whose style it takes: the same kinds')
    budget_group = parser.add_mutually_exclusive_group(required=True)
    budget_group.add_argument('--minutes', type=float, help='time for the whole job on this machine')
    budget_group.add_argument('--iterations', type=int, help='train this many iterations (instead of --minutes)')
    add('--name', default='', help='name of the run (default: from the inputs\' names, e.g. speaker_a_to_b)')
    add('--both', action='store_true', help='also translate the second input into the first one\'s style')
    add('--size', type=int, default=0,
        help='training frame size (default: chosen with the network, at most 256 on a GPU and 64 on a CPU, and '
             'at most the inputs\' short side)')
    add('--translate_at', default='train', choices=['train', 'input'],
        help='scale the frames are translated at: the training scale, the output scaled up to the input\'s size '
             '(train: better on the benchmark, docs/retarget.md), or the input\'s own (input)')
    add('--amp', default='auto', choices=['auto', 'off', 'bf16', 'fp16'],
        help='mixed precision: auto times fp32 and the device\'s mixed precision (where it has one) and takes the '
             'faster')
    add('--epochs', type=int, default=0, help='number of epochs (default: chosen with the plan)')
    add('--fps', type=float, default=30.0, help='frame rate of the output for a folder of frames')
    add('--checkpoints_dir', default='./checkpoints', help='the run is kept in <checkpoints_dir>/<name>')
    add('--results_dir', default='./results', help='the videos go to <results_dir>/<name>')
    add('--restart', action='store_true', help='train afresh, replacing a run of the same --name')
    add('--plan_only', action='store_true', help='decode, time and print the plan (or the recorded one), then stop')
    args, passthrough = parser.parse_known_args(argv)
    if args.minutes is not None:
        checks.number('--minutes', args.minutes, 0, low_open=True)
    if args.iterations is not None:
        checks.number('--iterations', args.iterations, 1)
    checks.number('--epochs', args.epochs, 0)
    checks.number('--fps', args.fps, 0, 1000, low_open=True)
    if args.size:
        checks.number('--size', args.size, 32)
    for flag in ('--checkpoints_dir', '--results_dir'):
        checks.writable_folder(flag, getattr(args, flag[2:]))
    return args, passthrough


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
    options = TrainOptions()
    try:
        opt = options.gather_options(['--dataroot', '.', '--dataset_mode', 'video', *argv])
    except UserError as err:
        raise UserError(f'{err} (flags other than retarget.py\'s go to train.py)') from None
    options.check(opt)
    return opt


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
    """train.py's command line before the network, the plan and the user's flags: the authors' Recycle-GAN
    settings (the user's flags come after them, and the later flag wins)."""
    return ['--dataroot', dataroot, '--name', args.name, '--checkpoints_dir', args.checkpoints_dir,
            '--model', 'recycle_gan', '--dataset_mode', 'video',
            '--which_model_netG', 'resnet_6blocks', '--which_model_netP', f'unet_{size}',
            '--no_dropout', '--pool_size', '0',  # identity 0 is recycle_gan's own default (the authors')
            '--resize_or_crop', 'scale_width_and_crop', '--loadSize', str(load), '--fineSize', str(size),
            '--gpu_ids', '0' if device == 'cuda' else '-1']


def candidates(largest, requested_size, passthrough):
    """budget.CANDIDATES as they can run here: sizes up to `largest` (all at --size when given), no widths or model
    of the planner's when the user gives theirs; duplicates dropped, cheapest first."""
    given = {flag for flag, _ in flag_pairs(passthrough)}
    found = {}
    for c in budget.CANDIDATES:
        c = dataclasses.replace(c, size=requested_size or min(c.size, largest),
                                width=None if given & set(WIDTH_FLAGS) else c.width,
                                model=None if '--model' in given else c.model)
        found.setdefault((c.size, c.width, c.model), c)
    return sorted(found.values(), key=lambda c: c.cost)


# -- timing --------------------------------------------------------------------------------------------------
def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_training(argv, frame_size, tick, too_slow=lambda steps, seconds: False):
    """(Timing, each step's seconds) of argv's training run, measured on a throwaway model: WARMUP_STEPS
    iterations, then the median of TIMED_STEPS, one save into a temporary folder, and the generator on one
    frame of frame_size; (None, steps) as soon as too_slow(steps done, their seconds) says so."""
    start = time.perf_counter()
    opt = TrainOptions().parse(argv)
    loader = create_dataset(opt)
    model = create_model(opt)
    model.setup(opt)
    setup_s = time.perf_counter() - start
    times, batches = [], iter(loader)
    for _ in range(WARMUP_STEPS + TIMED_STEPS):
        data = next(batches, None)
        if data is None:
            batches = iter(loader)
            data = next(batches)
        t = time.perf_counter()
        model.set_input(data)
        model.optimize_parameters()
        sync(model.device)
        times.append(time.perf_counter() - t)
        tick()
        if too_slow(len(times), sum(times)):
            return None, times
    del batches, loader
    os.makedirs(model.save_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=model.save_dir) as folder:  # the disk the run will save on
        # an epoch's end as train.py has it under retarget: the latest weights and state saved, the page updated
        model.save_dir, t = folder, time.perf_counter()
        model.save_networks('latest')
        checkpoint.save(model.training_state(), os.path.join(folder, checkpoint.STATE_FILE))
        page = Visualizer(argparse.Namespace(**dict(vars(opt), checkpoints_dir=folder, display_id=0)))
        page.plot_current_losses(1, 0.5, model.get_current_losses())
        page.display_current_results(model.get_current_visuals(), 1, True)
        save_s = time.perf_counter() - t
    frame = torch.zeros(1, domain_channels(opt)[0], frame_size[1], frame_size[0], device=model.device)
    frame_times = []
    with torch.no_grad(), model.autocast():
        for _ in range(2):
            t = time.perf_counter()
            model.netG_A(frame)
            sync(model.device)
            frame_times.append(time.perf_counter() - t)
    return Timing(statistics.median(times[WARMUP_STEPS:]), save_s, setup_s, frame_times[-1]), times


def cpu_has_bf16():
    """Whether this CPU computes in bfloat16 natively (AVX-512 BF16 or AMX): elsewhere bf16 autocast emulates it
    and runs many times slower than fp32 (../docs/retarget.md)."""
    try:
        with open('/proc/cpuinfo') as f:
            flags = set(next((line for line in f if line.startswith('flags')), '').split())
    except OSError:
        return False
    return bool(flags & {'avx512_bf16', 'amx_bf16'})


def amp_choices(device, requested):
    """Precisions to time: fp32 and the device's mixed precision (bf16 where it runs natively, fp16 on GPUs
    without bf16), or the one asked."""
    if requested == 'off':
        return [None]
    if requested != 'auto':
        return [requested]
    if device == 'cuda':
        return [None, 'bf16' if torch.cuda.is_bf16_supported() else 'fp16']
    return [None, 'bf16'] if cpu_has_bf16() else [None]


# -- the run's record --------------------------------------------------------------------------------------
RECORD_KEYS = {'inputs': dict, 'flags': dict, 'plan': dict, 'network': dict, 'translate_at': str,
               'batch_size': int, 'train_argv': list, 'trained': bool}


def read_record(folder):
    """The record of the run in folder, None without one; anything but a whole record of this version is a
    UserError that points to --restart."""
    path = os.path.join(folder, RECORD)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            record = json.load(f)
        bad = [key for key, kind in RECORD_KEYS.items() if not isinstance(record.get(key), kind)]
        if not bad:
            Plan(**record['plan'])
            bad = [d for d in 'AB' if not {'path', 'identity'} <= set(record['inputs'].get(d, {}))]
    except (OSError, ValueError, TypeError, AttributeError) as err:
        bad = [str(err)]
    if bad:
        raise UserError(f'{path} is not a whole record of retarget.py (at {bad[0]}): pass --restart to train '
                        f'afresh under this --name, or pick another --name')
    return record


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
    for key, new in fingerprint['flags'].items():
        old = record['flags'].get(key)
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


# -- the job -------------------------------------------------------------------------------------------------
def main(argv=None):
    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on Ctrl-C is a KeyboardInterrupt
    try:
        # the budget counts from the command's start; called with argv (from Python), from now
        return run(*parse(sys.argv[1:] if argv is None else argv), START if argv is None else time.perf_counter())
    except KeyboardInterrupt:  # before or after training (train.py handles its own Ctrl-C)
        interrupted()


def run(args, passthrough, started):
    """The whole job for retarget.py's parsed arguments and the flags passed through to train.py;
    started: time.perf_counter() when the command started (the budget counts from there)."""
    stride = check_passthrough(passthrough).frame_stride
    outputs = [('--checkpoints_dir', args.checkpoints_dir), ('--results_dir', args.results_dir)]
    sides = [read_side(args.a, outputs, stride), read_side(args.b, outputs, stride)]
    stems = [side.stem for side in sides]
    shorts = [short_name(stems[1], stems[0]), short_name(stems[0], stems[1])]  # how each side names the other
    args.name = args.name or f'{stems[0]}_to_{shorts[0]}'
    folder = os.path.join(args.checkpoints_dir, args.name)
    results = os.path.join(args.results_dir, args.name)
    device = 'cuda' if gpu_ids(passthrough) else 'cpu'
    largest = largest_size(sides, MAX_SIZE[device], args.size)
    inputs = {d: {'path': os.path.abspath(side.path), 'identity': side.identity()} for d, side in zip('AB', sides)}
    fingerprint = {'inputs': inputs,
                   'flags': {'--minutes': args.minutes, '--iterations': args.iterations, '--epochs': args.epochs,
                             '--size': args.size, '--translate_at': args.translate_at, '--amp': args.amp,
                             'train.py flags': training_flags(passthrough)}}
    if args.restart:
        for stale in (RECORD, checkpoint.STATE_FILE):
            if os.path.exists(os.path.join(folder, stale)):
                os.remove(os.path.join(folder, stale))
    record = read_record(folder)
    if record:
        change = what_changed(record, fingerprint)
        if change:
            raise UserError(f'{folder} holds a run of other inputs or flags ({change}); pass --restart to train '
                            f'afresh under this name, or pick another --name')
    job = Job(args, passthrough, sides, shorts, folder, results, device, largest, started)
    bar = JobBar(sys.stdout, started)
    planned_now, trained = record is None, None
    os.makedirs(folder, exist_ok=True)  # every flag and path is checked: only now is anything written
    log_path = os.path.join(folder, 'retarget_log.txt')
    try:
        # train.py's and test.py's own output (options, losses, saves) goes to the log, not between the bar's lines
        with open(log_path, 'a') as log, contextlib.redirect_stdout(log):
            if planned_now:
                record = dict(job.plan(bar), inputs=inputs, flags=fingerprint['flags'])
                write_record(folder, record)
            plan = Plan(**record['plan'])
            if args.plan_only:
                if not planned_now:
                    bar.say(f'plan (recorded): {plan.describe(record["network"]["size"])}')
                return None
            if not record['trained']:
                job.train(record, plan, bar)
                trained = bar.count
                record['trained'] = True
                write_record(folder, record)
            else:
                bar.say(f'{folder} is trained: translating only')
            videos = job.translate(record, plan, bar)
    finally:
        bar.close()
    took = (time.perf_counter() - bar.start) / 60
    print(f'done in {took:.1f} min' + (f' (planned: {plan.total_s / 60:.1f} min)' if planned_now else '') +
          (f', {trained:,} iterations trained' if trained is not None else ''))
    print(f'log (train.py\'s output, options, losses): {log_path}')
    print(f'training page: {os.path.join(folder, "web", "index.html")}')
    print(f'results page:  {os.path.join(results, "index.html")}')
    for path in videos:
        print(f'video:         {path}')
    return videos


@dataclasses.dataclass
class Job:
    args: argparse.Namespace
    passthrough: list
    sides: list
    shorts: list  # how each side names the other in the outputs' names
    folder: str
    results: str
    device: str
    largest: int  # the largest training frame size the inputs and the device allow
    started: float

    def argv(self, candidate, amp=None):
        """train.py's command line for a candidate network: the authors' settings, the candidate's size and
        width, the precision, then the user's flags."""
        load = load_size(self.sides, candidate.size)
        dataroot = os.path.join(self.folder, 'inputs')
        return (base_argv(self.args, dataroot, candidate.size, load, self.device) + candidate.flags() +
                (['--amp', amp] if amp else []) + self.passthrough)

    @property
    def translated(self):
        """The sides translated: the first input, and the second with --both."""
        return self.sides if self.args.both else self.sides[:1]

    @staticmethod
    def translated_size(frame_size, load, translate_at):
        """(width, height) a clip of frame_size goes through the generator at: the training scale or its own."""
        return translation_size(frame_size, frame_size[0] if translate_at == 'input' else load)

    def translation_pixels(self, load, translate_at):
        """Pixels translated in all, at the scale translate_at says."""
        return sum(len(clip) * math.prod(self.translated_size(size, load, translate_at))
                   for side in self.translated for clip, size in zip(side.clips, side.sizes))

    def decode(self, argv, bar):
        """Decode the clips argv's training reads into its frame cache (those not there yet)."""
        link_inputs(self.sides, os.path.join(self.folder, 'inputs'))
        opt = TrainOptions().parse(argv)
        clips = [find_clips(os.path.join(opt.dataroot, 'train' + d)) for d in 'AB']
        cache = opt.frame_cache or os.path.join(opt.checkpoints_dir, 'frame_cache')
        os.makedirs(cache, exist_ok=True)
        bar.phase('decoding', sum(len(c) for side in clips for c in side), 0.01)
        for side_clips in clips:
            cache_clips(side_clips, opt, cache, progress=bar)
        return opt

    def plan(self, bar):
        """Decode the inputs, time the candidate networks, and return the run's plan, network and command line
        (printed as the plan)."""
        args, budget_s = self.args, self.args.minutes * 60 if self.args.minutes is not None else None
        rows = candidates(self.largest, args.size, self.passthrough)
        if budget_s is None:  # a fixed number of iterations: the widest network worth that many
            rows = [budget.choose(rows, lambda c: args.iterations) or rows[0]]
        start = time.perf_counter()
        for size in {c.size for c in rows}:  # each training size scales the frames to its own cache
            self.decode(self.argv(dataclasses.replace(rows[0], size=size)), bar)
        decoded_s, frames = time.perf_counter() - start, bar.count
        # translating reads each frame again and encodes it: about twice a decode (5 ms a frame if all was cached)
        io_s = 2 * (decoded_s / frames if frames else 0.005)
        timing_end = start + budget.TIMING_SHARE * budget_s if budget_s else float('inf')

        def measure(candidate, amp, too_slow=lambda steps, seconds: False):
            bar.phase(f'timing {candidate.width or "your"}-filter networks at {candidate.size} px, '
                      f'{amp or "fp32"}', later_s=60)
            load = load_size(self.sides, candidate.size)
            frame = max((translation_size(s, load) for side in self.sides for s in side.sizes),
                        key=lambda s: s[0] * s[1])
            timing, steps = time_training(self.argv(candidate, amp), frame, bar.tick, too_slow)
            if timing:  # the generator's time a pixel, then every frame's, at the training scale
                timing.frame_s /= frame[0] * frame[1]
            return timing, steps

        def affordable(timing, translate_at='train', load=None):
            load = load or load_size(self.sides, self.largest)
            translate_s = self.translation_pixels(load, translate_at) * timing.frame_s
            return budget.affordable_iterations(timing, time.perf_counter() - self.started, translate_s, budget_s)

        # the cheapest network in every precision: a step of mixed precision that is clearly slower stops early
        chosen, timings = rows[0], {}
        for amp in amp_choices(self.device, args.amp):
            fastest = min(timings.values(), key=lambda t: t[0].step_s, default=(None, None))[1]
            timing, steps = measure(chosen, amp, (lambda n, s: s > SLOWER * sum(fastest[:n])) if fastest else
                                    (lambda n, s: False))
            if timing:
                timings[amp] = timing, steps
            # not even at twice this speed (mixed precision's best here): say so now, without timing further
            if timing and budget_s is not None and \
                    affordable(dataclasses.replace(timing, step_s=timing.step_s / 2)) < budget.MIN_ITERATIONS:
                self.plan_for(timing, chosen, 'train', io_s, budget_s)
        amp = min(timings, key=lambda a: timings[a][0].step_s)
        if len(amp_choices(self.device, args.amp)) > 1:
            bar.say('precision: ' + ', '.join(f'{a or "fp32"} {t.step_s:.3f} s a step' for a, (t, _) in
                                              timings.items()) + f' measured here: training in {amp or "fp32"}')
        timing = timings[amp][0]
        if budget_s is not None:
            self.plan_for(timing, chosen, 'train', io_s, budget_s)  # a budget too small for any network ends here
            for candidate in rows[1:]:  # wider ones, while the budget buys them their threshold
                # a wider step costs more, but less than its share of the arithmetic (a step also has fixed costs:
                # 0.12, 0.19 and 0.44 s at widths 8, 16 and 32 here, for 1 : 4 : 16 of the arithmetic)
                guess_s = timing.step_s * (candidate.cost / chosen.cost) ** 0.5
                cost_s = timing.setup_s + (WARMUP_STEPS + TIMED_STEPS) * guess_s
                if affordable(timing) < candidate.min_iterations or time.perf_counter() + cost_s > timing_end:
                    break  # not even at the narrower one's speed, or no time left to find out
                wider, _ = measure(candidate, amp, lambda n, s: time.perf_counter() > timing_end)
                if wider is None or affordable(wider) < candidate.min_iterations:
                    break
                chosen, timing = candidate, wider
        translate_at = args.translate_at
        plan = self.plan_for(timing, chosen, translate_at, io_s, budget_s)
        plan.amp = amp
        opt = TrainOptions().gather_options(self.argv(chosen, amp))
        predictors = f', {opt.which_model_netP} predictors of {opt.npf}' if 'recycle' in opt.model.lower() else ''
        bar.say(f'network: {opt.model}, {opt.which_model_netG} generators of {opt.ngf} filters, discriminators '
                f'of {opt.ndf}{predictors}, at {chosen.size} px' +
                (f' (the widest that {args.minutes:g} min buys its threshold here; docs/retarget.md)'
                 if budget_s is not None and len(rows) > 1 else ''))
        bar.say(f'plan: {plan.describe(chosen.size)}' + (f', budget {args.minutes:g} min' if budget_s else ''))
        bar.say(f'      decoding took {decoded_s:.0f} s; a save {timing.save_s:.1f} s; translating at the '
                f'{"inputs" if translate_at == "input" else "training"} scale, {plan.translate_s:.0f} s')
        train_argv = self.argv(chosen, amp)
        # the schedule goes before the user's flags (check_passthrough refused those that would change it)
        at = len(train_argv) - len(self.passthrough)
        train_argv[at:at] = schedule_argv(plan, opt.batchSize)
        return {'plan': dataclasses.asdict(plan), 'network': {'size': chosen.size, 'width': chosen.width,
                                                             'model': opt.model},
                'translate_at': translate_at, 'batch_size': opt.batchSize, 'train_argv': train_argv,
                'trained': False}

    def plan_for(self, timing, candidate, translate_at, io_s, budget_s):
        load = load_size(self.sides, candidate.size)
        translate_s = (self.translation_pixels(load, translate_at) * timing.frame_s +
                       sum(side.frames for side in self.translated) * io_s)
        return budget.make_plan(timing, time.perf_counter() - self.started, translate_s, budget_s,
                                self.args.iterations, self.args.epochs)

    def train(self, record, plan, bar):
        """train.main on the recorded command line, resuming from the saved state if there is one; under
        --minutes, a Deadline ends the epochs on time."""
        argv = record['train_argv']
        epoch, examples = saved_progress(self.folder)
        if epoch > plan.epochs:  # stopped between the last save and the record's update
            return
        if os.path.exists(os.path.join(self.folder, checkpoint.STATE_FILE)):
            argv = argv + ['--continue_train']
            bar.say(f'resuming at epoch {epoch} of {plan.epochs}')
        self.decode(argv, bar)  # again only if the frame cache was deleted since
        left = plan.epochs - epoch + 1
        train_s = plan.setup_s + plan.train_s * left / plan.epochs  # the plan's time for the epochs left
        done = (epoch - 1) * plan.epoch_size + examples // record['batch_size']
        on_step, end = bar.update, None
        if plan.deadline:
            end = time.perf_counter() + train_s
            on_step = budget.Deadline(end, left, examples // record['batch_size'], plan.cap, plan, bar.update,
                                      later_s=plan.translate_s + plan.setup_s)
        bar.phase('training', plan.iterations, plan.step_s, later_s=plan.translate_s + plan.setup_s, done=done,
                  end=end)
        try:
            trainer.main(argv, on_step=on_step)
        except SystemExit as stop:  # Ctrl-C or SIGTERM: train.py saved the latest state and stops
            bar.say('stopped after saving the latest state: run the same command again to resume')
            raise stop

    def translate(self, record, plan, bar):
        """Translate every clip of the first input (and of the second with --both) into results/: per clip
        <clip>_as_<other>.mp4 and <clip>_as_<other>_side_by_side.mp4 at the clip's own size, and index.html."""
        opt = TrainOptions().gather_options(record['train_argv'])
        opt.isTrain, opt.continue_train, opt.which_epoch = False, False, 'latest'
        opt.gpu_ids = TrainOptions.resolve_gpu_ids(opt.gpu_ids, record['train_argv'])
        opt.resize_or_crop = 'none'  # frames come scaled (ScaledClip), whole, not cropped
        opt.fps, opt.aspect_ratio = self.args.fps, 1.0
        model = create_model(opt)
        model.setup(opt)
        stems = [side.stem for side in self.sides]
        webpage = HTML(self.results, f'{opt.name}: {stems[0]} as {stems[1]}')
        jobs = [(clip, size, 'A', self.shorts[0]) for clip, size in zip(self.sides[0].clips, self.sides[0].sizes)]
        if self.args.both:
            jobs += [(clip, size, 'B', self.shorts[1]) for clip, size in zip(self.sides[1].clips, self.sides[1].sizes)]
        frames = sum(len(clip) for clip, *_ in jobs)
        bar.phase('translating', frames, plan.translate_s / max(frames, 1))
        videos = []
        nc = dict(zip('AB', domain_channels(opt)))
        for clip, size, key, other in jobs:
            stem = f'{clip.name}_as_{other}'
            names = (f'{stem}.mp4', f'{stem}_side_by_side.mp4')
            scaled = ScaledClip(clip, self.translated_size(size, opt.loadSize, record['translate_at']))
            tester.translate_clip(model, scaled, key, nc[key], opt,
                                  webpage, names=names, on_frame=bar.update, size=output_size(size))
            videos.append(os.path.join(self.results, names[0]))
        webpage.save()
        return videos


def schedule_argv(plan, batch_size):
    """The plan's schedule for train.py, and the dashboard's and page's snapshots at every epoch's end at
    least (display every divisor of an epoch's examples up to 100: the snapshot also lands on its end)."""
    epoch = plan.cap * batch_size
    display = max(d for d in range(1, min(100, epoch) + 1) if epoch % d == 0)
    return ['--display_freq', str(display), '--update_html_freq', str(epoch), '--niter', str(plan.niter),
            '--niter_decay', str(plan.niter_decay), '--epoch_size', str(epoch), '--save_epoch_freq', str(plan.epochs),
            '--save_latest_freq', str(10 ** 12)]  # saves at each epoch's end, which the plan paid for


if __name__ == '__main__':
    run_cli(main)
