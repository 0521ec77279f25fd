"""Time training steps on random inputs: seconds per step, images per second, peak memory, and
FLOPs counted by torch.utils.flop_counter.

    python scripts/benchmark.py --model recycle_gan --which_model_netG resnet_6blocks \
        --which_model_netP unet_128 --fineSize 128 --ngf 64 --pool_size 0 --gpu_ids -1 --steps 5

Every train.py flag is accepted (the speed flags --amp, --channels_last, --compile included); under
torchrun each process runs its own steps and images per second counts all of them.
--authors times the authors' step instead (scripts/authors_step.py: their calls and gradient
bookkeeping on the same networks); --against_authors times both, alternating, each in its own
process (peak memory is per process), and prints the ratios. With --json the last line printed is
one JSON object.
"""
import contextlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from models import create_model  # noqa: E402
from options.train_options import TrainOptions  # noqa: E402
from scripts.authors_step import AuthorsStep  # noqa: E402
from util import distributed  # noqa: E402
from util import checks  # noqa: E402
from util.errors import Parser, UserError, run_cli  # noqa: E402

AUTHORS_STEPS = {'CycleGANModel': 'cycle_gan', 'RecycleGANModel': 'recycle_gan', 'ReCycleGANModel': 'reCycle_gan'}


def parse(argv):
    parser = Parser(__file__, description=__doc__)
    parser.add_argument('--steps', type=int, default=10, help='timed steps')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps first')
    parser.add_argument('--authors', action='store_true', help="time the authors' step instead")
    parser.add_argument('--against_authors', action='store_true', help="time ours and the authors', alternating")
    parser.add_argument('--repeats', type=int, default=3, help='with --against_authors: runs of each')
    parser.add_argument('--json', action='store_true', help='end with one line of JSON')
    bench, rest = parser.parse_known_args(argv)
    for flag, low in (('--steps', 1), ('--warmup', 0), ('--repeats', 1)):
        checks.number(flag, getattr(bench, flag[2:]), low)
    return bench, rest, train_options(rest)


def train_options(argv):
    """train.py's options for argv, quietly (no data needed, opt.txt into a folder that is then removed)."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        return TrainOptions().parse(['--dataroot', 'unused', '--checkpoints_dir', tmp, '--display_id', '0', *argv])


def random_batch(opt):
    """A batch shaped like the dataset's, values in [-1, 1]."""
    triplets = opt.dataset_mode != 'unaligned'
    keys = [f'{d}{t}' for d in 'AB' for t in range(3)] if triplets else ['A', 'B']
    g = torch.Generator().manual_seed(0)
    batch = {k: torch.rand(opt.batchSize, opt.input_nc if k[0] == 'A' else opt.output_nc, opt.fineSize, opt.fineSize,
                           generator=g) * 2 - 1 for k in keys}
    batch.update(A_paths=['a.png'] * opt.batchSize, B_paths=['b.png'] * opt.batchSize)
    return batch, len(keys)


def make_step(opt, authors=False):
    """(step, device, images): one training step on a fixed random batch (ours, or the authors' step on
    copies of the same networks, our model then dropped so that it holds no memory), its device, and
    the images a step takes over all processes."""
    with contextlib.redirect_stdout(io.StringIO()):
        model = create_model(opt)
        model.setup(opt)
    batch, _ = random_batch(opt)
    model.set_input(batch)
    frames = len(model.real_A) + len(model.real_B)  # those a step uses: unsup_recycle_gan takes one of a triplet
    images = frames * opt.batchSize * distributed.world_size()  # under torchrun: all processes' images
    device = model.device
    if authors:
        if type(model).__name__ not in AUTHORS_STEPS:
            raise UserError(f'--authors and --against_authors time the authors\' step of '
                            f'{", ".join(AUTHORS_STEPS.values())} only, not --model {opt.model}')
        authors_step = AuthorsStep(model, opt)
        batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
        del model
        return (lambda: authors_step.step(batch)), device, images

    def step():
        model.set_input(batch)
        model.optimize_parameters()
    return step, device, images


def time_steps(step, device, steps, warmup=0, repeats=1):
    """Median over `repeats` runs of the seconds per step of `steps` steps, after `warmup` untimed ones
    (peak_memory_mb then counts from the end of the warm-up). On a GPU CUDA events time the device's
    work, which the host queues ahead of it; on the CPU perf_counter."""
    for _ in range(warmup):
        step()
    cuda = device.type == 'cuda'
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    runs = []
    for _ in range(repeats):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
        else:
            start = time.perf_counter()
        for _ in range(steps):
            step()
        if cuda:
            end.record()
            end.synchronize()
            runs.append(start.elapsed_time(end) / 1000 / steps)
        else:
            runs.append((time.perf_counter() - start) / steps)
    return statistics.median(runs)


def peak_memory_mb(device):
    """Peak allocated GPU memory since time_steps' warm-up; on the CPU the process's peak RSS (not resettable)."""
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2 ** 20


def measure(bench, opt):
    """{'s_per_step', 'img_per_s', 'peak_mem_mb', 'gflop_per_step', 'gflop_per_s'} of one configuration."""
    step, device, images = make_step(opt, bench.authors)
    seconds = time_steps(step, device, bench.steps, bench.warmup)
    peak_mb = peak_memory_mb(device)
    with FlopCounterMode(display=False) as counter:
        step()
    gflop = counter.get_total_flops() / 1e9
    return {'s_per_step': seconds, 'img_per_s': images / seconds, 'peak_mem_mb': peak_mb,
            'gflop_per_step': gflop, 'gflop_per_s': gflop / seconds}


def describe(opt):
    speed = [f'amp {opt.amp}' if opt.amp else 'fp32'] + [f for f in ('channels_last', 'compile') if getattr(opt, f)]
    device = torch.cuda.get_device_name(opt.gpu_ids[0]) if opt.gpu_ids else f'CPU ({torch.get_num_threads()} threads)'
    processes = f', {distributed.world_size()} processes' if distributed.world_size() > 1 else ''
    return (f'{opt.model}, G {opt.which_model_netG}, P {opt.which_model_netP}, ngf {opt.ngf}, {opt.fineSize} px, '
            f'batch {opt.batchSize}, {", ".join(speed)}, {device}{processes}')


def print_table(rows):
    print(f'{"":>10} {"s/step":>8} {"img/s":>8} {"peak MB":>9} {"GFLOP/step":>11} {"GFLOP/s":>8}')
    for name, r in rows.items():
        print(f'{name:>10} {r["s_per_step"]:8.3f} {r["img_per_s"]:8.2f} {r["peak_mem_mb"]:9.0f} '
              f'{r["gflop_per_step"]:11.1f} {r["gflop_per_s"]:8.1f}')


def against_authors(bench, rest):
    """Median of `repeats` runs of ours and of the authors' step, alternating, each in a fresh process."""
    runs = {'ours': [], 'authors': []}
    for _ in range(bench.repeats):
        for name in runs:
            argv = [sys.executable, os.path.abspath(__file__), *rest, '--steps', str(bench.steps), '--warmup',
                    str(bench.warmup), '--json'] + (['--authors'] if name == 'authors' else [])
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            runs[name].append(json.loads(out.strip().splitlines()[-1]))
    return {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}


def main(argv=None):
    bench, rest, opt = parse(sys.argv[1:] if argv is None else argv)
    distributed.setup(opt)  # under torchrun: one process per device, gradients averaged
    print(describe(opt))
    if bench.against_authors:
        rows = against_authors(bench, rest)
        print_table(rows)
        result = {**rows['ours'], 'speedup': rows['authors']['s_per_step'] / rows['ours']['s_per_step'],
                  'peak_mem_ratio': rows['ours']['peak_mem_mb'] / rows['authors']['peak_mem_mb'],
                  'authors': rows['authors']}
        print(f'speed-up over the authors\' step: {result["speedup"]:.2f}x, peak memory '
              f'{result["peak_mem_ratio"]:.2f}x theirs')
    else:
        result = measure(bench, opt)
        print_table({'authors' if bench.authors else 'ours': result})
    if bench.json:
        print(json.dumps(result))
    return result


if __name__ == '__main__':
    run_cli(main)
