"""Train CycleGAN, Recycle-GAN and ReCycle-GAN with one budget on the synthetic benchmark
(scripts/make_benchmark.py), translate its test clips both ways, score them (scripts/evaluate.py)
and write a markdown table and a bar chart.

    nice -n 10 python scripts/compare.py --out results/compare

The budget is the same for every model: the same training clips, networks, number of iterations
(epochs x strips), learning-rate schedule and seed; each model keeps its own loss weights
(--identity: 0.5 for cycle_gan and reCycle_gan, 0 for recycle_gan). CycleGAN learns from the
middle frame of every training strip, the Recycle-GAN models from the whole strip. Writes, under
--out: checkpoints/, results/ (test.py's pages), compare.json (every number), compare.md and
compare.png. A model whose training finished with the same flags is not trained again.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import test  # noqa: E402
import train  # noqa: E402
from scripts.evaluate import SEGMENTATION, TEMPORAL, evaluate, markdown_table, number  # noqa: E402
from scripts.make_benchmark import add_arguments, benchmark_params, write_benchmark  # noqa: E402
from util.errors import UserError, run_cli  # noqa: E402

MODELS = ('cycle_gan', 'recycle_gan', 'reCycle_gan')
REFERENCE = 'reference'  # rows of the real frames: what a perfect translation would score


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


def train_model(model, args):
    """Train `model` unless a finished run with the same flags is there; returns its training seconds."""
    data = os.path.join(args.dataroot, 'frames') if model == 'cycle_gan' else args.dataroot
    argv = ['--dataroot', data, '--name', model, '--checkpoints_dir', os.path.join(args.out, 'checkpoints'),
            '--model', model, '--pool_size', '0', '--no_flip', '--seed', str(args.seed), '--niter', str(args.niter),
            '--niter_decay', str(args.niter_decay), '--display_id', '0', '--print_freq', '500',
            '--save_epoch_freq', str(args.niter + args.niter_decay)] + network_flags(args)
    done_path = os.path.join(args.out, 'checkpoints', model, 'compare_done.json')
    if os.path.exists(done_path) and not args.retrain:
        with open(done_path) as f:
            done = json.load(f)
        if done['argv'] == argv:
            print(f'{model}: trained already ({done_path}); --retrain trains it again')
            return done['seconds']
    start = time.time()
    train.main(argv)
    seconds = time.time() - start
    with open(done_path, 'w') as f:
        json.dump({'argv': argv, 'seconds': seconds}, f)
    return seconds


def translate(model, args):
    """Run test.py on testA (G_A) and testB (G_B); returns the folder of translated frames."""
    web_dir = test.main(['--dataroot', args.dataroot, '--name', model, '--model', model,
                         '--checkpoints_dir', os.path.join(args.out, 'checkpoints'),
                         '--results_dir', os.path.join(args.out, 'results'), '--dataset_mode', 'single',
                         '--how_many', str(10 ** 9)] + network_flags(args))
    return os.path.join(web_dir, 'images')


def score_both_ways(args, images=None):
    """{'A->B': report, 'B->A': report} of the frames in `images` (test.py's names), or of the real frames."""
    root = args.dataroot
    folder = os.path.join(root, 'testB'), os.path.join(root, 'testA')
    common = dict(motion=os.path.join(root, 'motion'))
    labels_of = dict(gt=os.path.join(root, 'testB'), palette=os.path.join(root, 'palette.json'), **common)
    if images is None:  # the real label maps and photos
        return {'A->B': evaluate(folder[0], inputs=folder[1], **labels_of),
                'B->A': evaluate(folder[1], inputs=folder[0], **common)}
    return {'A->B': evaluate(images, inputs=folder[1], pred_suffix='_fake_B', **labels_of),
            'B->A': evaluate(images, inputs=folder[0], pred_suffix='_fake_A', **common)}


def write_table(results, info, path):
    """Markdown: image -> labels and labels -> image, one row per style and model; then the budget."""
    styles = ['overall'] + info['styles']
    rows = list(results['scores'])

    def section(direction, columns):
        body = []
        for style in styles:
            for row in rows:
                report = results['scores'][row][direction]
                scores = report['overall'] if style == 'overall' else report['subsets'][style]
                body.append([style, row] + [number(scores.get(k)) for k, _ in columns])
        return markdown_table(['style', 'model'] + [label for _, label in columns], body)

    budget = markdown_table(['model', 'iterations', 'training time (s)'],
                            [[m, results['iterations'], f'{s:.0f}'] for m, s in results['seconds'].items()])
    text = (f'Image -> labels (G_A on testA, scored against testB):\n\n{section("A->B", SEGMENTATION + TEMPORAL)}'
            f'\n\nLabels -> image (G_B on testB):\n\n{section("B->A", TEMPORAL)}\n\nBudget:\n\n{budget}\n')
    with open(path, 'w') as f:
        f.write(text)
    return text


def write_chart(results, info, path):
    """Grouped bars: one panel per metric, one group per style (and overall), one bar per model."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    styles = ['overall'] + info['styles']
    panels = [('A->B', k, f'image -> labels: {label}') for k, label in SEGMENTATION + TEMPORAL] + \
             [('B->A', 'warp_error', 'labels -> image: warp error')]
    rows = list(results['scores'])
    fig, axes = plt.subplots(2, 3, figsize=(15, 7), constrained_layout=True)
    width = 0.8 / len(rows)
    for ax, (direction, key, title) in zip(axes.flat, panels):
        for i, row in enumerate(rows):
            report = results['scores'][row][direction]
            values = [(report['overall'] if s == 'overall' else report['subsets'][s]).get(key, np.nan) for s in styles]
            ax.bar(np.arange(len(styles)) + (i - (len(rows) - 1) / 2) * width, values, width, label=row,
                   color='0.75' if row == REFERENCE else None)
        ax.set_xticks(np.arange(len(styles)), styles)
        ax.set_title(title)
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc='outside right upper')
    fig.suptitle(f'{results["iterations"]} iterations per model, seed {results["seed"]}, {info["size"]} px: higher '
                 f'accuracy and IoU are better, lower warp error; the change ratio is best near the grey reference')
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add('--dataroot', default='datasets/benchmark', help='the benchmark (made here with the flags below if missing)')
    add('--out', default='results/compare', help='where checkpoints, results, the table and the chart go')
    add('--models', default=','.join(MODELS), help='comma-separated models to compare')
    add('--niter', type=int, default=4, help='epochs at the starting learning rate')
    add('--niter_decay', type=int, default=4, help='epochs of linear decay to zero (the last one trains at 0)')
    add('--seed', type=int, default=0, help='training seed (every model)')
    add('--which_model_netG', default='resnet_6blocks', help='generator of every model')
    add('--ngf', type=int, default=16, help='generator and predictor width')
    add('--ndf', type=int, default=16, help='discriminator width')
    add('--table', help='markdown table (default: <out>/compare.md)')
    add('--chart', help='bar chart PNG (default: <out>/compare.png)')
    add('--retrain', action='store_true', help='train again even where a finished run is there')
    add('--torch_threads', type=int, default=1,
        help='CPU threads of torch: on a CPU shared with other jobs, two threads that wait for each other '
             'are several times slower than one')
    add('--debug', action='store_true', help='show tracebacks instead of one-line errors')
    args = add_arguments(parser).parse_args(argv)
    models = args.models.split(',')
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise UserError(f'--models {args.models}: {unknown[0]!r} is not one of {", ".join(MODELS)}')
    threads = torch.get_num_threads()
    torch.set_num_threads(args.torch_threads)
    try:
        return run_comparison(args, models)
    finally:
        torch.set_num_threads(threads)


def run_comparison(args, models):
    info = prepare_benchmark(args)
    os.makedirs(args.out, exist_ok=True)
    results = {'seed': args.seed, 'iterations': (args.niter + args.niter_decay) * info['counts']['trainA'],
               'benchmark': info, 'args': vars(args), 'seconds': {}, 'scores': {}}
    for model in models:
        results['seconds'][model] = train_model(model, args)
        results['scores'][model] = score_both_ways(args, translate(model, args))
    results['scores'][REFERENCE] = score_both_ways(args)
    with open(os.path.join(args.out, 'compare.json'), 'w') as f:
        json.dump(results, f, indent=1)
    print(write_table(results, info, args.table or os.path.join(args.out, 'compare.md')))
    write_chart(results, info, args.chart or os.path.join(args.out, 'compare.png'))
    return results


if __name__ == '__main__':
    run_cli(main)
