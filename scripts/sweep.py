"""Measure quality against training for retarget.py's planner: one long run per config (model and width)
at a constant learning rate, its G_A scored on the benchmark's test clips at log-spaced iteration
counts, and every config's step time, so that quality can be read against minutes.

    python scripts/sweep.py time --configs recycle_gan:8,recycle_gan:16,recycle_gan:32
    OMP_NUM_THREADS=1 nohup python scripts/sweep.py run --configs recycle_gan:16 > sweep_w16.log 2>&1 &
    python scripts/sweep.py report

A config trains as retarget.py does (retarget.py base_argv: --dataset_mode video on the benchmark's
clips, resnet_6blocks G, unet_64 P, no dropout, pool 0, scale_width_and_crop at 64 px) with its
--model and --ngf = --ndf = --npf = width, each model with its own default loss weights, --seed 0,
one torch thread (quality is recorded against iterations, which do not depend on the load).
Training goes in chunks up to each snapshot (125, 250, 500, ... iterations, and the last);
after each chunk G_A translates the test clips and evaluate.py scores them into
<runs_dir>/<config>_it<iterations>.json. A snapshot whose JSON exists is skipped; an interrupted
chunk continues with train.py --continue_train. A run goes as far as --minutes of training at its
2-thread step time (from `time`, <runs_dir>/../timing.json) buys.

`time` times every config's training step (scripts/benchmark.py's step on random frames) with
--threads threads, fp32 and --amp bf16, configs alternating, in this one process, and records the
machine's load average before and after. `report` writes summary.json and the plot.
"""
import argparse
import contextlib
import io
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import test  # noqa: E402
import train  # noqa: E402
from scripts import benchmark  # noqa: E402
from scripts.evaluate import evaluate, markdown_table  # noqa: E402
from scripts.make_benchmark import write_benchmark, write_clips  # noqa: E402
from util import checks, trackers  # noqa: E402
from util.errors import Parser, UserError, run_cli  # noqa: E402
from util.util import atomic_write  # noqa: E402
from util.video import read_video  # noqa: E402

MODELS = ('recycle_gan', 'cycle_gan', 'reCycle_gan', 'unsup_recycle_gan')
EPOCH = 125  # iterations per train.py epoch: the first snapshot, and every snapshot is a multiple of it
PICK_MINUTES = (2, 5, 10, 20)  # budgets marked on the plot


# -- configs and files ------------------------------------------------------------------------------
def parse_configs(text):
    """'recycle_gan:16,cycle_gan:16' -> [('recycle_gan', 16), ('cycle_gan', 16)]."""
    configs = []
    for item in text.split(','):
        model, _, width = item.partition(':')
        if model not in MODELS or not width.isdigit():
            raise UserError(f'--configs {text}: give model:width items, model one of {", ".join(MODELS)}')
        configs.append((model, int(width)))
    return configs


def config_name(model, width):
    return f'{model}_w{width}'


def snapshots(iterations):
    """Log-spaced iteration counts up to `iterations` (multiples of EPOCH), and `iterations` itself."""
    last = max(EPOCH, iterations // EPOCH * EPOCH)
    points, n = [], EPOCH
    while n < last:
        points.append(n)
        n *= 2
    return points + [last]


def write_json(path, data):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write(path, lambda f: f.write((json.dumps(data, indent=1) + '\n').encode()))


def read_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


TRAIN_ONLY = ['--pool_size', '0']  # retarget.py's, a flag test.py does not take


def network_flags(model, width, size=64):
    """retarget.py's flags (retarget.py base_argv, less TRAIN_ONLY) for a square benchmark at `size`,
    width varied."""
    return ['--model', model, '--which_model_netG', 'resnet_6blocks', '--which_model_netP', f'unet_{size}',
            '--no_dropout', '--resize_or_crop', 'scale_width_and_crop',
            '--loadSize', str(size), '--fineSize', str(size), '--gpu_ids', '-1',
            '--ngf', str(width), '--ndf', str(width), '--npf', str(width)]


def prepare_benchmark(root, size):
    """The benchmark at `root` (made with its default clips at `size` if missing) and its clips' layout."""
    if not os.path.exists(os.path.join(root, 'benchmark.json')):
        write_benchmark(root, size=size)
    if not os.path.isdir(os.path.join(root, 'clips')):
        write_clips(root)
    return os.path.join(root, 'clips')


# -- training in chunks ------------------------------------------------------------------------------
def train_to(args, model, width, iterations, trainer=train.main):
    """Train config (model, width) up to `iterations` in total: nothing when it is there already, on from
    its latest state otherwise. Returns the run's record {argv, trained, seconds}."""
    name = config_name(model, width)
    folder = os.path.join(args.out, 'checkpoints', name)
    record_path = os.path.join(folder, 'sweep_train.json')
    base = ['--dataroot', args.clips, '--name', name, '--checkpoints_dir', os.path.join(args.out, 'checkpoints'),
            '--dataset_mode', 'video', '--epoch_size', str(EPOCH), '--niter_decay', '0', '--seed', str(args.seed),
            # a constant rate: the lambda policy trains the last epoch (niter + niter_decay) at 0, a step never comes
            '--lr_policy', 'step', '--lr_decay_iters', str(10 ** 6),
            '--nThreads', '0', '--display_id', '0', '--no_html', '--print_freq', '1000000',
            '--save_epoch_freq', '1000000'] + network_flags(model, width, args.train_size) + TRAIN_ONLY
    record = read_json(record_path)
    fresh = record is None or record['argv'] != base  # nothing, or a run with other flags: start afresh
    if fresh:
        record = {'argv': base, 'trained': 0, 'seconds': 0.0}
    if record['trained'] >= iterations:
        return record
    resume = not fresh and os.path.exists(os.path.join(folder, 'latest_train_state.pth'))
    start = time.time()
    try:  # --niter grows chunk by chunk
        trainer(base + ['--niter', str(iterations // EPOCH)] + trackers.train_flags(args) +
                ['--continue_train'] * resume)
        record['trained'] = iterations
    finally:  # also when stopped: the time spent counts, the next sitting continues from the saved state
        record['seconds'] += time.time() - start
        write_json(record_path, record)
    return record


# -- translating and scoring ---------------------------------------------------------------------------
def translate(args, model, width, size=None, load=None):
    """G_A's latest weights on the benchmark's testA frames (test.py, --model test): the folder of
    <frame>_fake.png. size: translate at that size with no cropping (default: the training scaling)."""
    name = config_name(model, width)
    scaling = network_flags(model, width, args.train_size)[2:]
    if size:
        scaling += ['--resize_or_crop', 'none', '--loadSize', str(size), '--fineSize', str(size)]
    results = os.path.join(args.out, 'results', f'{os.path.basename(os.path.normpath(args.bench))}_{size or "train"}')
    argv = ['--dataroot', os.path.join(args.bench, 'testA'), '--name', name, '--model', 'test',
            '--model_suffix', '_A', '--dataset_mode', 'single', '--checkpoints_dir',
            os.path.join(args.out, 'checkpoints'), '--results_dir', results, '--how_many', str(10 ** 9)] + scaling
    with contextlib.redirect_stdout(io.StringIO()):
        web_dir = test.main(argv)
    return os.path.join(web_dir, 'images')


def upscale(images, size):
    """A copy of every *_fake.png in `images` scaled to size x size (bicubic), in <images>_up<size>."""
    from PIL import Image
    out = f'{images.rstrip(os.sep)}_up{size}'
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(images):
        if name.endswith('_fake.png'):
            Image.open(os.path.join(images, name)).resize((size, size), Image.BICUBIC).save(os.path.join(out, name))
    return out


def score(bench, images):
    """{miou, pixel_acc, warp_error, change_ratio} of G_A's frames in `images` against testB's labels."""
    report = evaluate(images, gt=os.path.join(bench, 'testB'), palette=os.path.join(bench, 'palette.json'),
                      inputs=os.path.join(bench, 'testA'), motion=os.path.join(bench, 'motion'),
                      pred_suffix='_fake')['overall']
    return {'miou': report['mean_iou'], 'pixel_acc': report['pixel_acc'], 'warp_error': report['warp_error'],
            'change_ratio': report['change_ratio']}


def run_config(args, model, width, points, trainer=train.main, scorer=None):
    """Train (model, width) snapshot by snapshot and write each snapshot's JSON; skip those done."""
    scorer = scorer or (lambda: score(args.bench, translate(args, model, width)))
    name = config_name(model, width)
    for n in points:
        path = os.path.join(args.runs_dir, f'{name}_it{n}.json')
        if os.path.exists(path):
            print(f'{name} at {n} iterations: done already ({path})', flush=True)
            continue
        record = train_to(args, model, width, n, trainer)
        start = time.time()
        scores = scorer()
        write_json(path, {'config': name, 'model': model, 'width': width, 'iterations': n, 'seed': args.seed,
                          'train_size': args.train_size, 'train_seconds': round(record['seconds'], 1),
                          'torch_threads': torch.get_num_threads(), 'score_seconds': round(time.time() - start, 1),
                          'argv': record['argv'], **scores})
        if args.use_wandb or args.tensorboard:  # the scores beside the run's losses, at its last step
            trackers.log_evaluation(os.path.join(args.out, 'checkpoints', name), scores)
        print(f'{name} at {n} iterations: mean IoU {scores["miou"]:.3f}, warp error {scores["warp_error"]:.2f} '
              f'({record["seconds"]:.0f} s of training so far)', flush=True)


# -- timing ----------------------------------------------------------------------------------------
def load_average():
    with open('/proc/loadavg') as f:
        return [float(x) for x in f.read().split()[:3]]


def time_configs(args, configs):
    """{config: {step_s_fp32, step_s_bf16, gflop}}: every config's step, fp32 then bf16, configs taken
    in turn and the whole round repeated --repeats times (the median kept), with --threads threads."""
    torch.set_num_threads(args.threads)
    bench = argparse.Namespace(steps=args.steps, warmup=args.warmup, authors=False)
    times = {config_name(*c): {'fp32': [], 'bf16': []} for c in configs}
    flops = {}
    before = load_average()
    for _ in range(args.repeats):
        for model, width in configs:
            for amp in ('fp32', 'bf16'):
                opt = benchmark.train_options(network_flags(model, width, args.train_size) + TRAIN_ONLY + [
                    '--dataset_mode', 'video'] + ['--amp', 'bf16'] * (amp == 'bf16'))  # triplets, as trained
                result = benchmark.measure(bench, opt)
                times[config_name(model, width)][amp].append(result['s_per_step'])
                flops[config_name(model, width)] = flops.get(config_name(model, width), result['gflop_per_step'])
                print(f'{config_name(model, width)} {amp}: {result["s_per_step"]:.3f} s/step, '
                      f'{result["gflop_per_step"]:.1f} GFLOP', flush=True)
    return {'threads': args.threads, 'steps': args.steps, 'repeats': args.repeats, 'loadavg_before': before,
            'loadavg_after': load_average(), 'cpu': os.cpu_count(),
            'configs': {name: {'step_s_fp32': sorted(t['fp32'])[len(t['fp32']) // 2],
                               'step_s_bf16': sorted(t['bf16'])[len(t['bf16']) // 2], 'gflop': flops[name]}
                        for name, t in times.items()}}


def iterations_for(args, model, width):
    """What --minutes of training at the config's timed (2-thread, fp32) step buys, down to a snapshot."""
    timing = read_json(args.timing)
    name = config_name(model, width)
    if args.iterations:
        return args.iterations
    if not timing or name not in timing['configs']:
        raise UserError(f'no step time of {name} in {args.timing}: run `sweep.py time --configs {model}:{width}` '
                        f'first, or give --iterations')
    return int(args.minutes * 60 / timing['configs'][name]['step_s_fp32'])


# -- report ----------------------------------------------------------------------------------------
def summarise(args):
    """{config: {model, ngf, ndf, npf, size, step_s_fp32, step_s_bf16, gflop, points}} from the run JSONs."""
    timing = (read_json(args.timing) or {}).get('configs', {})
    summary = {}
    for file in sorted(os.listdir(args.runs_dir)):
        run = read_json(os.path.join(args.runs_dir, file)) if file.endswith('.json') else None
        if run is None or run.get('kind') in ('scale', 'retarget'):
            continue
        entry = summary.setdefault(run['config'], {
            'model': run['model'], 'ngf': run['width'], 'ndf': run['width'], 'npf': run['width'],
            'size': run['train_size'], **timing.get(run['config'], {}), 'points': []})
        entry['points'].append({k: run[k] for k in ('iterations', 'miou', 'pixel_acc', 'warp_error',
                                                    'change_ratio', 'train_seconds')})
    for entry in summary.values():
        entry['points'].sort(key=lambda p: p['iterations'])
    return summary


def layout_prior(bench, out):
    """{miou, pixel_acc} of an image-blind answer: at every pixel the class most frequent there over the
    training label clips, for every test frame (what a generator scores that learnt only the layout)."""
    import numpy as np
    from PIL import Image
    from util import metrics
    classes, colours = metrics.load_palette(os.path.join(bench, 'palette.json'))
    folder = os.path.join(bench, 'clips', 'trainB')
    counts = 0
    for clip in sorted(os.listdir(folder)):
        for name in sorted(os.listdir(os.path.join(folder, clip))):
            frame = np.asarray(Image.open(os.path.join(folder, clip, name)).convert('RGB'))
            labels = metrics.nearest_class(frame[None], colours)[0][0]
            counts = counts + (labels[None] == np.arange(len(classes))[:, None, None])
    mode = Image.fromarray(np.array(colours, np.uint8)[counts.argmax(0)])
    os.makedirs(out, exist_ok=True)
    for style in os.listdir(os.path.join(bench, 'testB')):
        for name in os.listdir(os.path.join(bench, 'testB', style)):
            mode.save(os.path.join(out, os.path.splitext(name)[0] + '_fake.png'))
    report = evaluate(out, gt=os.path.join(bench, 'testB'), palette=os.path.join(bench, 'palette.json'),
                      pred_suffix='_fake')['overall']
    return {'miou': report['mean_iou'], 'pixel_acc': report['pixel_acc']}


def best_at(summary, minutes):
    """(config, mean IoU) of the best point reachable within `minutes` (2-thread fp32 step time), or None."""
    best = None
    for name, entry in summary.items():
        if 'step_s_fp32' not in entry:
            continue
        for p in entry['points']:
            if p['iterations'] * entry['step_s_fp32'] <= minutes * 60 and (best is None or p['miou'] > best[1]):
                best = (name, p['miou'])
    return best


def plot(summary, path, prior=None):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5), constrained_layout=True)
    for name, entry in summary.items():
        if 'step_s_fp32' not in entry:
            continue
        minutes = [p['iterations'] * entry['step_s_fp32'] / 60 for p in entry['points']]
        style = '-' if entry['model'] == 'recycle_gan' else '--'
        for ax, key in zip(axes, ('miou', 'warp_error')):
            ax.plot(minutes, [p[key] for p in entry['points']], style, marker='o', markersize=3, label=name)
    if prior:
        axes[0].axhline(prior['miou'], color='0.5', linestyle=':', label='layout prior (image-blind)')
    for minutes in PICK_MINUTES:
        pick = best_at(summary, minutes)
        if pick:
            axes[0].axvline(minutes, color='0.85', zorder=0)
            axes[0].plot(*max(((p['iterations'] * summary[pick[0]]['step_s_fp32'] / 60, p['miou'])
                               for p in summary[pick[0]]['points'] if p['miou'] == pick[1])), 'k*', markersize=9)
            axes[0].text(minutes, 0.02, f'{minutes} min: {pick[0]}', transform=axes[0].get_xaxis_transform(),
                         fontsize=7, rotation=90, va='bottom', ha='right')
    for ax, title in zip(axes, ('image -> labels: mean IoU (higher is better)',
                                'warp error, grey levels (lower is steadier)')):
        ax.set_xscale('log')
        ax.set_xlabel('minutes of training on this 2-core CPU (2 threads, fp32; iterations x timed step)')
        ax.set_title(title)
        ax.grid(True, which='both', alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle('Quality against training time, 64 px, one seed, constant learning rate; grey lines: 2, 5, 10, 20 '
                 'minutes, each with its pick (the best point reachable, starred)')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def table(summary):
    """Markdown: one row per config, one column per snapshot: mean IoU / warp error."""
    counts = sorted({p['iterations'] for e in summary.values() for p in e['points']})
    rows = []
    for name, entry in summary.items():
        at = {p['iterations']: p for p in entry['points']}
        step = entry.get('step_s_fp32')
        rows.append([name, f'{step:.3f}' if step else '-'] +
                    [f'{at[n]["miou"]:.3f} / {at[n]["warp_error"]:.1f}' if n in at else '' for n in counts])
    return markdown_table(['config', 's/step (2 threads)'] + [str(n) for n in counts], rows)


def report(args):
    summary = summarise(args)
    write_json(args.summary, summary)
    prior_path = os.path.join(os.path.dirname(args.summary), 'layout_prior.json')
    prior = read_json(prior_path)
    if prior is None and os.path.isdir(os.path.join(args.bench, 'clips')):
        prior = dict(layout_prior(args.bench, os.path.join(args.out, 'results', 'layout_prior')), bench=args.bench)
        write_json(prior_path, prior)
    plot(summary, args.plot, prior)
    text = table(summary)
    with open(os.path.splitext(args.summary)[0] + '.md', 'w') as f:
        f.write('Mean IoU / warp error of G_A on the test clips, per config (rows) and iterations (columns)\n\n'
                + text + '\n')
    print(text)
    for minutes in PICK_MINUTES:
        print(f'{minutes} min: {best_at(summary, minutes)}')
    return summary


# -- the translation scale -----------------------------------------------------------------------------
def scale_check(args, model, width):
    """Train (model, width) at --train_size on the --size benchmark, then translate its test clips at
    --train_size and upscale (bicubic), and at the full size; both scored at the full size."""
    name = config_name(model, width)
    reused = ('_reused' if args.reuse else '')
    path = os.path.join(args.runs_dir, f'{name}_scale{args.size}_it{args.iterations}{reused}.json')
    if os.path.exists(path):
        return read_json(path)
    if args.reuse:  # the run trained on another benchmark, as it stands: it must be at --iterations
        record = read_json(os.path.join(args.out, 'checkpoints', name, 'sweep_train.json'))
        if record is None or record['trained'] != args.iterations:
            raise UserError(f'--reuse: {name} under {args.out} is not trained to {args.iterations} iterations')
    else:
        record = train_to(args, model, width, args.iterations)
    small = translate(args, model, width)
    result = {'config': name, 'kind': 'scale', 'size': args.size, 'train_size': args.train_size,
              'iterations': args.iterations, 'train_seconds': round(record['seconds'], 1),
              'trained_on': record['argv'][record['argv'].index('--dataroot') + 1],
              'upscaled': score(args.bench, upscale(small, args.size)),
              'direct': score(args.bench, translate(args, model, width, size=args.size))}
    write_json(path, result)
    print(json.dumps(result, indent=1))
    return result


def score_videos(args):
    """Score a retarget.py run on the benchmark's test clips (--videos: its results folder, one
    <clip>_as_<b>.mp4 per clip): each test clip's video is cut into frames named as its labels, then scored."""
    from PIL import Image
    frames = os.path.join(args.out, 'retarget_frames', os.path.basename(os.path.normpath(args.videos)))
    os.makedirs(frames, exist_ok=True)
    for style in sorted(os.listdir(os.path.join(args.bench, 'testB'))):
        clips = sorted({name.rsplit('_', 1)[0] for name in os.listdir(os.path.join(args.bench, 'testB', style))})
        for clip in clips:
            video = [v for v in os.listdir(args.videos) if v.startswith(f'{clip}_as_') and 'side_by_side' not in v]
            if len(video) != 1:
                raise UserError(f'{args.videos}: no single translated video of the test clip {clip} ({video})')
            for t, frame in enumerate(read_video(os.path.join(args.videos, video[0]))):
                Image.fromarray(frame).save(os.path.join(frames, f'{clip}_{t:04d}_fake.png'))
    result = dict(score(args.bench, frames), kind='retarget', videos=args.videos)
    write_json(os.path.join(args.runs_dir, f'retarget_{os.path.basename(os.path.normpath(args.videos))}.json'), result)
    print(json.dumps(result, indent=1))
    return result


def main(argv=None):
    parser = Parser(__file__, description=__doc__)
    add = parser.add_argument
    add('command', choices=['time', 'run', 'report', 'scale', 'score_videos'], help='what to do (see above)')
    add('--videos', default='', help='`score_videos`: the results folder of a retarget.py run on --bench\'s clips')
    add('--configs', default='recycle_gan:16', help='comma-separated model:width items')
    add('--bench', default='datasets/sweep64', help='the benchmark (made here if missing)')
    add('--size', type=int, default=64, help='frame size of the benchmark made under --bench')
    add('--train_size', type=int, default=64, help='training frame size (--loadSize = --fineSize)')
    add('--out', default='results/sweep', help='checkpoints and translated frames')
    add('--runs_dir', default='docs/sweep/runs', help='one JSON per (config, snapshot)')
    add('--timing', default='docs/sweep/timing.json', help='step times written by `time`, read by `run`')
    add('--summary', default='docs/sweep/summary.json', help='`report`: per config its step times and points')
    add('--plot', default='docs/images/sweep.png', help='`report`: the plot')
    add('--minutes', type=float, default=20, help='`run`: train as far as this many minutes of 2-thread steps')
    add('--iterations', type=int, default=0, help='`run`, `scale`: train this far instead')
    add('--reuse', action='store_true',
        help='`scale`: translate with the run under --out as it is (trained on another benchmark), train nothing')
    add('--seed', type=int, default=0, help='training seed')
    add('--threads', type=int, default=2, help='`time`: torch threads')
    add('--steps', type=int, default=5, help='`time`: timed steps per config and precision')
    add('--warmup', type=int, default=2, help='`time`: untimed steps first')
    add('--repeats', type=int, default=1, help='`time`: rounds over the configs')
    add('--debug', action='store_true', help='show tracebacks instead of one-line errors')
    trackers.add_flags(add)
    args = parser.parse_args(argv)
    for flag, low in (('--size', 32), ('--train_size', 32), ('--minutes', 0), ('--iterations', 0), ('--threads', 1),
                      ('--steps', 1), ('--warmup', 0), ('--repeats', 1), ('--seed', 0)):
        checks.number(flag, getattr(args, flag[2:]), low)
    for flag in ('--out', '--runs_dir'):
        checks.writable_folder(flag, getattr(args, flag[2:]))
    trackers.check_installed(args)
    configs = parse_configs(args.configs)
    if args.command == 'time':
        timing = read_json(args.timing) or {}
        measured = time_configs(args, configs)
        write_json(args.timing, dict(measured, configs={**timing.get('configs', {}), **measured['configs']}))
        return measured
    if args.command == 'report':
        return report(args)
    if args.command == 'score_videos':
        return score_videos(args)
    args.clips = prepare_benchmark(args.bench, args.size)
    if args.command == 'scale':
        return [scale_check(args, *c) for c in configs]
    for model, width in configs:
        run_config(args, model, width, snapshots(iterations_for(args, model, width)))


if __name__ == '__main__':
    run_cli(main)
