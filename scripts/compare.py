"""Train CycleGAN, Recycle-GAN, ReCycle-GAN and Unsupervised Recycle-GAN with one budget on the synthetic
benchmark (scripts/make_benchmark.py) over several seeds, translate its test clips both ways, score them
(scripts/evaluate.py) and write a markdown table (mean +- std over seeds, and each run's paired difference
from cycle_gan on the same seeds) and a chart with the spread.

    nice -n 10 python scripts/compare.py --seeds 0,1,2

Every (run, seed) writes its scores and wall time to <runs_dir>/<run>_seed<seed>.json (small, committed)
as soon as it is done; a run whose JSON is there is not trained again, so a long comparison can be run over
several sittings, and an interrupted training continues from its latest state (train.py --continue_train),
its wall time summed over the sittings.
--report_only rebuilds the table, the summary JSON and the chart from the JSONs alone.
--use_wandb and --tensorboard log each training (as train.py does) and then its scores (util.trackers.log_evaluation).

The budget is the same for every run: the same training clips, networks, number of iterations (epochs x
strips), learning-rate schedule and seed; each model keeps its own loss weights (--identity: 0.5 for
cycle_gan and reCycle_gan, 0 for recycle_gan and unsup_recycle_gan). Two ablation rows, not the authors'
settings, swap the identity weight (recycle_gan with 0.5, cycle_gan with 0), so that the table can tell
what the temporal losses do from what the identity loss does. CycleGAN and Unsupervised Recycle-GAN learn
from the middle frame of every training strip, the Recycle-GAN models from the whole strip.
"""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import test  # noqa: E402
import train  # noqa: E402
from scripts.evaluate import SEGMENTATION, TEMPORAL, evaluate, markdown_table, number  # noqa: E402
from scripts.make_benchmark import add_arguments, benchmark_params, write_benchmark  # noqa: E402
from util import checks, trackers  # noqa: E402
from util.errors import Parser, UserError, run_cli  # noqa: E402
from util.util import atomic_write  # noqa: E402

# run name -> (model, its flags beyond the budget, why the row is there when it is not a model as published)
RUNS = {
    'cycle_gan': ('cycle_gan', [], None),
    'recycle_gan': ('recycle_gan', [], None),
    'reCycle_gan': ('reCycle_gan', [], None),
    'unsup_recycle_gan': ('unsup_recycle_gan', [], None),
    'recycle_gan_idt0.5': ('recycle_gan', ['--identity', '0.5'], "ablation, not the authors' setting: identity 0.5"),
    'cycle_gan_idt0': ('cycle_gan', ['--identity', '0'], "ablation, not the authors' setting: identity 0"),
}
BASELINE = 'cycle_gan'  # the paired differences are taken from it
REFERENCE = 'reference'  # rows of the real frames: what a perfect translation would score
SINGLE_FRAMES = ('cycle_gan', 'unsup_recycle_gan')  # train on <dataroot>/frames, the strips' middle frames
METRICS = {'A->B': SEGMENTATION + TEMPORAL, 'B->A': TEMPORAL}
LOWER_IS_BETTER = {'warp_error'}


def prepare_benchmark(args):
    """The benchmark under --dataroot: made now if missing; one made with other flags is an error."""
    params = benchmark_params(args)
    info_path = os.path.join(args.dataroot, 'benchmark.json')
    if not os.path.exists(info_path):
        return write_benchmark(args.dataroot, **params)
    with open(info_path) as f:
        info = json.load(f)
    if {k: info[k] for k in params} != dict(params, styles=list(params['styles'])):
        raise UserError(f'{args.dataroot} was made with other benchmark flags ({info_path}); pass a new --dataroot '
                        f'or the flags it was made with')
    return info


def network_flags(args):
    return ['--gpu_ids', '-1', '--nThreads', '0', '--loadSize', str(args.size), '--fineSize', str(args.size),
            '--which_model_netG', args.which_model_netG, '--which_model_netP', f'unet_{args.size}',
            '--ngf', str(args.ngf), '--ndf', str(args.ndf), '--no_dropout']


def budget(args):
    """What every run shares and a run's JSON must match to be reused (the benchmark's flags included)."""
    return {'benchmark': {k: list(v) if isinstance(v, tuple) else v for k, v in benchmark_params(args).items()},
            'niter': args.niter, 'niter_decay': args.niter_decay, 'network_flags': network_flags(args)}


def run_path(args, run, seed):
    return os.path.join(args.runs_dir, f'{run}_seed{seed}.json')


def write_json(path, data):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write(path, lambda f: f.write((json.dumps(data, indent=1) + '\n').encode()))


def reference_budget(args):
    """The real frames' scores depend on the benchmark alone."""
    return {'benchmark': budget(args)['benchmark']}


def read_run(args, path):
    """A finished run's JSON, or None; one made with another budget is an error (its numbers are not comparable)."""
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            done = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(f'{path} is not a readable run ({err}): delete it to run it again') from None
    if done.get('budget') != (reference_budget(args) if done.get('run') == REFERENCE else budget(args)):
        raise UserError(f'{path} was run with another budget (--niter, --niter_decay, network or benchmark flags): '
                        f'pass those flags, another --runs_dir, or delete it to run it again')
    return done


def train_run(run, seed, args):
    """Train one (run, seed): not again once finished with the same flags, continued where an interrupted training
    stopped. Returns (training seconds over all sittings, whether a sitting was killed before it could be timed)."""
    model, flags, _ = RUNS[run]
    data = os.path.join(args.dataroot, 'frames') if model in SINGLE_FRAMES else args.dataroot
    checkpoints = os.path.join(args.out, 'checkpoints')
    name = f'{run}_seed{seed}'
    argv = ['--dataroot', data, '--name', name, '--checkpoints_dir', checkpoints, '--model', model,
            '--pool_size', '0', '--no_flip', '--seed', str(seed), '--niter', str(args.niter),
            '--niter_decay', str(args.niter_decay), '--display_id', '0', '--print_freq', '500',
            '--save_epoch_freq', str(args.niter + args.niter_decay)] + network_flags(args) + flags
    timing_path = os.path.join(checkpoints, name, 'compare_train.json')
    timing = None
    if os.path.exists(timing_path):
        with open(timing_path) as f:
            timing = json.load(f)
    if timing is None or timing['argv'] != argv:  # nothing, or a training with other flags: start afresh
        timing, resume = {'argv': argv, 'seconds': 0.0, 'finished': False, 'incomplete': False, 'running': False}, False
    else:
        resume = os.path.exists(os.path.join(checkpoints, name, 'latest_train_state.pth'))
    if timing['finished']:
        return timing['seconds'], timing['incomplete']
    # 'running' still set: the last sitting was killed (SIGKILL, power) before it could add its time
    timing['incomplete'] |= timing['running']
    write_json(timing_path, dict(timing, running=True))
    start = time.time()
    try:
        train.main(argv + trackers.train_flags(args) + ['--continue_train'] * resume)
        timing['finished'] = True
    finally:  # also when stopped by SIGTERM or Ctrl-C: train.py saved its state, the next sitting continues
        timing['seconds'] += time.time() - start
        write_json(timing_path, timing)
    return timing['seconds'], timing['incomplete']


def translate(run, seed, args):
    """Run test.py on testA (G_A) and testB (G_B); returns the folder of translated frames."""
    web_dir = test.main(['--dataroot', args.dataroot, '--name', f'{run}_seed{seed}', '--model', RUNS[run][0],
                         '--checkpoints_dir', os.path.join(args.out, 'checkpoints'),
                         '--results_dir', os.path.join(args.out, 'results'), '--dataset_mode', 'single',
                         '--how_many', str(10 ** 9)] + network_flags(args))
    return os.path.join(web_dir, 'images')


def score_both_ways(args, images=None):
    """{'A->B': scores, 'B->A': scores} of the frames in `images` (test.py's names), or of the real frames; each
    {'overall' or style: {metric: value}}."""
    root = args.dataroot
    folder = os.path.join(root, 'testB'), os.path.join(root, 'testA')
    common = dict(motion=os.path.join(root, 'motion'))
    labels_of = dict(gt=os.path.join(root, 'testB'), palette=os.path.join(root, 'palette.json'), **common)
    if images is None:  # the real label maps and photos
        reports = {'A->B': evaluate(folder[0], inputs=folder[1], **labels_of),
                   'B->A': evaluate(folder[1], inputs=folder[0], **common)}
    else:
        reports = {'A->B': evaluate(images, inputs=folder[1], pred_suffix='_fake_B', **labels_of),
                   'B->A': evaluate(images, inputs=folder[0], pred_suffix='_fake_A', **common)}
    return {direction: {group: {k: scores[k] for k, _ in METRICS[direction] if scores.get(k) is not None}
                        for group, scores in [('overall', report['overall']), *report['subsets'].items()]}
            for direction, report in reports.items()}


def do_run(run, seed, args, iterations):
    """Train, translate and score one (run, seed) and write its JSON."""
    seconds, incomplete = train_run(run, seed, args)
    record = {'run': run, 'model': RUNS[run][0], 'flags': RUNS[run][1], 'note': RUNS[run][2], 'seed': seed,
              'iterations': iterations, 'train_seconds': round(seconds, 1), 'train_time_incomplete': incomplete,
              'torch_threads': args.torch_threads, 'budget': budget(args),
              'scores': score_both_ways(args, translate(run, seed, args))}
    write_json(run_path(args, run, seed), record)
    if args.use_wandb or args.tensorboard:
        trackers.log_evaluation(os.path.join(args.out, 'checkpoints', f'{run}_seed{seed}'), record['scores'])
    return record


# -- the report ------------------------------------------------------------------------------------
def spread(values):
    """(mean, sample std or None for one value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def summarise(records, reference, styles):
    """Per run: seeds, wall times, and per direction, group and metric the per-seed values, mean, std, and the
    paired difference from BASELINE over the seeds both have (mean, std, seeds where the run is above it)."""
    runs = {}
    for record in records:
        runs.setdefault(record['run'], []).append(record)
    base = {r['seed']: r for r in runs.get(BASELINE, [])}
    summary = {}
    for run in [r for r in RUNS if r in runs]:
        seeds = sorted(runs[run], key=lambda r: r['seed'])
        entry = {'model': RUNS[run][0], 'flags': RUNS[run][1], 'note': RUNS[run][2],
                 'seeds': [r['seed'] for r in seeds],
                 'iterations': seeds[0]['iterations'], 'train_seconds': [r['train_seconds'] for r in seeds],
                 'train_time_incomplete': [r['train_time_incomplete'] for r in seeds], 'scores': {}}
        for direction, metrics in METRICS.items():
            for group in ['overall'] + styles:
                for key, _ in metrics:
                    per_seed = {r['seed']: r['scores'][direction][group].get(key) for r in seeds}
                    per_seed = {s: v for s, v in per_seed.items() if v is not None}
                    if not per_seed:
                        continue
                    mean, std = spread(list(per_seed.values()))
                    cell = {'per_seed': per_seed, 'mean': mean, 'std': std}
                    paired = [v - base[s]['scores'][direction][group][key] for s, v in per_seed.items()
                              if s in base and key in base[s]['scores'][direction][group]]
                    if run != BASELINE and paired:
                        diff_mean, diff_std = spread(paired)
                        cell['diff'] = {'seeds': len(paired), 'mean': diff_mean, 'std': diff_std,
                                        'above': sum(d > 0 for d in paired)}
                    entry['scores'].setdefault(direction, {}).setdefault(group, {})[key] = cell
        summary[run] = entry
    return {'baseline': BASELINE, 'runs': summary, 'reference': reference}


def mean_std(cell):
    if cell is None:
        return '-'
    return number(cell['mean']) + ('' if cell['std'] is None else f' ± {number(cell["std"])}')


def paired(cell):
    diff = cell.get('diff') if cell else None
    if diff is None:
        return '-'
    spread_text = '' if diff['std'] is None else f' ± {diff["std"]:.3f}'
    return f'{diff["mean"]:+.3f}{spread_text} ({diff["above"]}/{diff["seeds"]} above)'


def label(run, summary):
    note = summary['runs'][run]['note']
    return f'{run} †' if note else run


def write_table(summary, styles, path):
    """Markdown: per direction, mean ± std over seeds (one row per style and run), then the paired differences
    from the baseline; then the budget and wall times."""
    runs = list(summary['runs'])
    reference = summary['reference']

    def section(direction, cell_text, rows, with_reference):
        body = []
        for group in ['overall'] + styles:
            for run in rows:
                cells = summary['runs'][run]['scores'].get(direction, {}).get(group, {})
                body.append([group, label(run, summary), len(summary['runs'][run]['seeds'])] +
                            [cell_text(cells.get(k)) for k, _ in METRICS[direction]])
            if with_reference and reference:
                scores = reference[direction][group]
                body.append([group, REFERENCE, '-'] + [number(scores.get(k)) for k, _ in METRICS[direction]])
        return markdown_table(['style', 'run', 'seeds'] + [lbl for _, lbl in METRICS[direction]], body)

    others = [r for r in runs if r != BASELINE]
    parts = []
    for direction, title in (('A->B', 'Image -> labels (G_A on testA, scored against testB)'),
                             ('B->A', 'Labels -> image (G_B on testB)')):
        parts.append(f'{title}, mean ± std over seeds:\n\n{section(direction, mean_std, runs, True)}')
        if BASELINE in runs and others:
            parts.append(f'{title}, difference from {BASELINE} on the same seeds, mean ± std over seeds (and in how '
                         f'many seeds the run is above {BASELINE}; lower is better for the warp error):\n\n'
                         f'{section(direction, paired, others, False)}')
    rows = []
    for run in runs:
        entry = summary['runs'][run]
        seconds = entry['train_seconds']
        mean, std = spread(seconds)
        at_least = '≥ ' if any(entry['train_time_incomplete']) else ''  # a killed sitting is not timed
        rows.append([label(run, summary), ' '.join([entry['model'], *entry['flags']]), entry['iterations'],
                     ', '.join(map(str, entry['seeds'])),
                     at_least + f'{mean:.0f}' + ('' if std is None else f' ± {std:.0f}')])
    parts.append('Budget and training wall time per (run, seed):\n\n' +
                 markdown_table(['run', 'model and flags', 'iterations', 'seeds', 'training time (s)'], rows))
    notes = [f'{label(r, summary)}: {summary["runs"][r]["note"]}' for r in runs if summary['runs'][r]['note']]
    text = '\n\n'.join(parts) + '\n' + ''.join(f'\n{n}' for n in notes) + ('\n' if notes else '')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    return text


def write_chart(summary, info, path):
    """One panel per metric, one group per style (and overall), one bar per run at its mean over seeds with
    a ± std error bar and a dot per seed; ablations hatched, the real frames' scores in grey."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    styles = ['overall'] + info['styles']
    panels = [('A->B', k, f'image -> labels: {lbl}') for k, lbl in SEGMENTATION + TEMPORAL] + \
             [('B->A', 'warp_error', 'labels -> image: warp error')]
    runs = list(summary['runs'])
    rows = runs + ([REFERENCE] if summary['reference'] else [])
    fig, axes = plt.subplots(2, 3, figsize=(17, 8), constrained_layout=True)
    width = 0.8 / len(rows)
    for ax, (direction, key, title) in zip(axes.flat, panels):
        for i, row in enumerate(rows):
            x = np.arange(len(styles)) + (i - (len(rows) - 1) / 2) * width
            if row == REFERENCE:
                values = [summary['reference'][direction][s].get(key, np.nan) for s in styles]
                ax.bar(x, values, width, label=row, color='0.75')
                continue
            cells = [summary['runs'][row]['scores'][direction].get(s, {}).get(key) for s in styles]
            means = [c['mean'] if c else np.nan for c in cells]
            stds = [(c['std'] or 0) if c else 0 for c in cells]
            ax.bar(x, means, width, yerr=stds, capsize=2, label=label(row, summary),
                   hatch='//' if summary['runs'][row]['note'] else None)
            for xi, cell in zip(x, cells):
                if cell:
                    values = list(cell['per_seed'].values())
                    ax.plot([xi] * len(values), values, '.', color='black', markersize=3)
        ax.set_xticks(np.arange(len(styles)), styles)
        ax.set_title(title)
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc='outside right upper')
    seeds = sorted({s for r in runs for s in summary['runs'][r]['seeds']})
    iterations = summary['runs'][runs[0]]['iterations'] if runs else 0
    fig.suptitle(f'{iterations} iterations per run, seeds {", ".join(map(str, seeds))}, {info["size"]} px. Bars: '
                 f'means; error bars: ± std over seeds; dots: single seeds; † (hatched): ablation, not the authors\' '
                 f'setting.\nHigher accuracy and IoU are better, lower warp error; the change ratio is best near the '
                 f'grey reference')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def report(args, info):
    """Table, summary JSON and chart from every run JSON under --runs_dir (of the runs asked for)."""
    wanted = set(args.models.split(','))
    records = []
    if os.path.isdir(args.runs_dir):
        for name in sorted(os.listdir(args.runs_dir)):
            if name.endswith('.json') and name != f'{REFERENCE}.json':
                record = read_run(args, os.path.join(args.runs_dir, name))
                if record['run'] in wanted:
                    records.append(record)
    if not records:
        raise UserError(f'no finished runs in {args.runs_dir}: run without --report_only first')
    reference_path = os.path.join(args.runs_dir, f'{REFERENCE}.json')
    reference = read_run(args, reference_path)
    summary = summarise(records, reference['scores'] if reference else None, info['styles'])
    print(write_table(summary, info['styles'], args.table))
    write_json(os.path.splitext(args.table)[0] + '.json', summary)
    write_chart(summary, info, args.chart)
    return summary


def main(argv=None):
    parser = Parser(__file__, description=__doc__)
    add = parser.add_argument
    add('--dataroot', default='datasets/benchmark', help='the benchmark (made here with the flags below if missing)')
    add('--out', default='results/compare', help='where checkpoints and translated frames go')
    add('--runs_dir', default='docs/compare/runs', help='one JSON per (run, seed): scores and wall time')
    add('--models', default=','.join(RUNS), help=f'comma-separated runs: {", ".join(RUNS)}')
    add('--seeds', '--seed', dest='seeds', default='0,1,2', help='comma-separated training seeds (each run, each seed)')
    add('--niter', type=int, default=4, help='epochs at the starting learning rate')
    add('--niter_decay', type=int, default=4, help='epochs of linear decay to zero (the last one trains at 0)')
    add('--which_model_netG', default='resnet_6blocks', help='generator of every model')
    add('--ngf', type=int, default=16, help='generator and predictor width')
    add('--ndf', type=int, default=16, help='discriminator width')
    add('--table', default='docs/compare/compare.md',
        help='markdown table; the summary (means, stds, paired differences, per-seed numbers) goes beside it as .json')
    add('--chart', default='docs/images/compare.png', help='chart PNG')
    add('--report_only', action='store_true', help='train nothing: rebuild the table and chart from the run JSONs')
    add('--torch_threads', type=int, default=1,
        help='CPU threads of torch: on a CPU shared with other jobs, two threads that wait for each other '
             'are several times slower than one')
    trackers.add_flags(add)
    add('--debug', action='store_true', help='show tracebacks instead of one-line errors')
    args = add_arguments(parser).parse_args(argv)
    trackers.check_installed(args)
    unknown = [m for m in args.models.split(',') if m not in RUNS]
    if unknown:
        raise UserError(f'--models {args.models}: {unknown[0]!r} is not one of {", ".join(RUNS)}')
    try:
        seeds = [checks.number('--seeds', int(s), 0, 2 ** 32 - 1) for s in args.seeds.split(',')]
    except ValueError:
        raise UserError(f'--seeds {args.seeds}: give comma-separated integers, e.g. 0,1,2') from None
    benchmark_params(args)
    for flag in ('--niter', '--niter_decay'):
        checks.number(flag, getattr(args, flag[2:]), 0)
    if args.niter + args.niter_decay == 0:
        raise UserError('--niter 0 --niter_decay 0: nothing to train; give either 1 or more')
    for flag in ('--ngf', '--ndf', '--torch_threads'):
        checks.number(flag, getattr(args, flag[2:]), 1)
    for flag in ('--out', '--runs_dir'):
        checks.writable_folder(flag, getattr(args, flag[2:]))
    for flag in ('--table', '--chart'):
        checks.writable_folder(flag, os.path.dirname(os.path.abspath(getattr(args, flag[2:]))))
    threads = torch.get_num_threads()
    torch.set_num_threads(args.torch_threads)
    try:
        if args.report_only:
            info = prepare_benchmark(args) if os.path.exists(args.dataroot) else \
                {'size': args.size, 'styles': args.styles.split(',')}
            return report(args, info)
        return run_comparison(args, seeds)
    finally:
        torch.set_num_threads(threads)


def run_comparison(args, seeds):
    info = prepare_benchmark(args)
    iterations = (args.niter + args.niter_decay) * info['counts']['trainA']
    reference_path = os.path.join(args.runs_dir, f'{REFERENCE}.json')
    if read_run(args, reference_path) is None:
        write_json(reference_path, {'run': REFERENCE, 'budget': reference_budget(args),
                                    'scores': score_both_ways(args)})
    for seed in seeds:  # seed by seed: an interrupted comparison has whole seeds for every run first
        for run in args.models.split(','):
            path = run_path(args, run, seed)
            if read_run(args, path) is not None:
                print(f'{run}, seed {seed}: done already ({path}); delete it to run it again')
                continue
            do_run(run, seed, args, iterations)
    return report(args, info)


if __name__ == '__main__':
    run_cli(main)
