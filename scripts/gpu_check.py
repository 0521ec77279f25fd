"""The GPU check: this project's training step against the authors', with every speed flag, and the
tests that need a GPU, in one command that writes OUT/gpu_check.md (a table) and OUT/gpu_check.json.

    bash scripts/gpu_check.sh                          # one GPU: at most 8 minutes, no network
    bash scripts/gpu_check.sh --gpu_ids -1 --sizes 32 --ngf 8 --ndf 8 --npf 2 --steps 1 --warmup 1 --repeats 2 \\
        --no_compile                                   # the CPU, tiny: what CI runs so that it does not rot

Configurations: the authors' Recycle-GAN command (README: recycle_gan, G resnet_6blocks, P unet_<size>,
--no_dropout --identity 0 --pool_size 0, batch 1) at each of --sizes; other train.py flags are
passed on (e.g. --which_model_netG resnet_9blocks). Rows run eager first, then the GPU tests, then
the --compile rows (their compiling takes minutes); a row that fails is reported and the next one
runs; once --budget_s is spent the remaining rows are skipped and say so. Both files are rewritten
after every row, so a run stopped from outside keeps what it measured.
"""
import collections
import contextlib
import functools
import gc
import importlib.util
import io
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

START = time.monotonic()
# torch is on the GPU machine; what else the check imports must be there too: say so in one line
MISSING = [wheel for module, wheel in (('torch', 'torch'), ('numpy', 'numpy'), ('PIL', 'pillow'))
           if importlib.util.find_spec(module) is None]
if MISSING:
    print(f'error: scripts/gpu_check.py needs {", ".join(MISSING)}, not installed for {sys.executable}: '
          f'pip install them (or carry their wheels with the project)', file=sys.stderr)
    sys.exit(2)

import torch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from models import create_model  # noqa: E402
from models.base_model import compile_available  # noqa: E402
from scripts.benchmark import make_step, peak_memory_mb, random_batch, time_steps, train_options  # noqa: E402
from util import checks  # noqa: E402
from util.errors import Parser, UserError, run_cli  # noqa: E402

AUTHORS_COMMAND = ['--model', 'recycle_gan', '--which_model_netG', 'resnet_6blocks', '--no_dropout', '--identity', '0',
                   '--pool_size', '0', '--batchSize', '1']
Variant = collections.namedtuple('Variant', 'name authors tf32 flags')
VARIANTS = [
    Variant("authors', fp32, TF32 off", True, False, []),
    Variant("authors', fp32, TF32 on", True, True, []),
    Variant('fp32, TF32 off', False, False, []),
    Variant('fp32, TF32 on', False, True, []),
    Variant('--amp bf16', False, True, ['--amp', 'bf16']),
    Variant('--amp fp16', False, True, ['--amp', 'fp16']),
    Variant('--channels_last', False, True, ['--channels_last']),
    Variant('--compile', False, True, ['--compile']),
    Variant('--compile reduce-overhead (CUDA graphs)', False, True, ['--compile', 'reduce-overhead']),
]
COMPILE_NEEDS_S = 90  # a --compile row is not started with less of the budget left: compiling takes about that
FP16_STEPS = 12  # the scaler starts at 2**16 and halves after each step whose gradients overflow, skipping it
# train.py at 256 px with resnet_9blocks: the activations one direction saves for its backward come to about
# 1 GB an example (saved_tensors_hooks on the CPU at 64 px, x16), so 200 need some 200 GB, well over an H200's
# 139; the largest tensor holds 1.9e9 elements, under 2**31, so no kernel meets a 32-bit index limit first
OOM_BATCH = 200


class Skip(Exception):
    """A row or test that cannot run here; the message says why."""


def parse(argv):
    parser = Parser(__file__, description=__doc__)
    parser.add_argument('--out', default='results/gpu_check', help='folder for gpu_check.md and gpu_check.json')
    parser.add_argument('--sizes', default='256,128', help='image sizes (px), comma-separated')
    parser.add_argument('--steps', type=int, default=10, help='timed steps in each repeat')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps first (compiling, CUDA graphs, cuDNN)')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs of --steps; the median is reported')
    parser.add_argument('--budget_s', type=float, default=420, help='seconds after which the remaining rows skip')
    parser.add_argument('--no_compile', action='store_true', help='skip the --compile rows (minutes on a CPU)')
    args, rest = parser.parse_known_args(argv)
    try:
        args.sizes = [checks.number('--sizes', int(s), 32, 4096) for s in args.sizes.split(',')]
    except ValueError:
        raise UserError(f'--sizes {args.sizes}: give comma-separated sizes in pixels, e.g. 256,128') from None
    for flag, low in (('--steps', 1), ('--warmup', 0), ('--repeats', 1)):
        checks.number(flag, getattr(args, flag[2:]), low)
    checks.number('--budget_s', args.budget_s, 0)  # 0: every row skipped (tests)
    checks.writable_folder('--out', args.out)
    return args, rest


def compiles(variant):
    return '--compile' in variant.flags


def config(size, *flags):
    return AUTHORS_COMMAND + ['--fineSize', str(size), '--loadSize', str(size), '--which_model_netP',
                              f'unet_{size}', *flags]


def set_tf32(on):
    """TF32 for cuDNN and cuBLAS (PyTorch >= 2.9 API, else the older one). While they are 'ieee' the older
    getter torch.backends.cudnn.allow_tf32 raises (PyTorch 2.14): the --compile rows, whose compiler
    might read it, run with TF32 on."""
    if hasattr(torch.backends, 'fp32_precision'):
        precision = 'tf32' if on else 'ieee'
        torch.backends.cudnn.conv.fp32_precision = torch.backends.cudnn.rnn.fp32_precision = precision
        torch.backends.cuda.matmul.fp32_precision = precision
    else:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = on


def compile_problem():
    """Why torch.compile cannot run here (the warning compile_available prints), or None."""
    with contextlib.redirect_stderr(io.StringIO()) as err:
        if compile_available():
            return None
    return err.getvalue().strip().removeprefix('warning: ') or 'torch.compile is unavailable here'


# -- the timed rows ------------------------------------------------------------------------------------
def time_row(args, rest, size, variant):
    if compiles(variant) and args.no_compile:
        raise Skip('--no_compile')
    if compiles(variant) and compile_problem():
        raise Skip(compile_problem())
    set_tf32(variant.tf32)
    step, device, images = make_step(train_options(config(size, *variant.flags, *rest)), variant.authors)
    seconds = time_steps(step, device, args.steps, args.warmup, args.repeats)
    return {'s_per_step': seconds, 'img_per_s': images / seconds, 'peak_mem_mb': peak_memory_mb(device)}


# -- the tests the CPU suite cannot run ------------------------------------------------------------------
def fp16_scaler(args, rest):
    opt = train_options(config(args.sizes[-1], '--amp', 'fp16', *rest))
    with contextlib.redirect_stdout(io.StringIO()):
        model = create_model(opt)
        model.setup(opt)
    before = [p.detach().clone() for p in model.netG_A.parameters()]
    batch, _ = random_batch(opt)
    for _ in range(FP16_STEPS):
        model.set_input(batch)
        model.optimize_parameters()
    losses, scale = model.get_current_losses(), model.scaler.get_scale()
    assert model.scaler.is_enabled(), 'the gradient scaler is off'
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values()), f'non-finite losses: {losses}'
    assert any(not torch.equal(p, q) for p, q in zip(model.netG_A.parameters(), before)), 'no weight of G_A changed'
    # 12 steps can only halve the initial 2**16 (it grows after 2000 good ones); under 1, every step overflowed
    assert 1 <= scale <= 2 ** 16, f'gradient scale {scale}'
    return f'{FP16_STEPS} steps at {opt.fineSize} px: losses finite, G_A changed, scale {scale:g}'


def cudnn_benchmark(args, rest):
    if not args.cuda:
        raise Skip('needs a CUDA device')
    torch.backends.cudnn.benchmark = False
    step, device, _ = make_step(train_options(config(args.sizes[-1], *rest)))
    assert torch.backends.cudnn.benchmark, 'building a model on a GPU left cudnn.benchmark off'
    time_steps(step, device, 2)
    return f'on after building a model; 2 steps ran (cuDNN {torch.backends.cudnn.version()})'


def out_of_memory(args, rest):
    """train.py at an absurd batch: one line on stderr naming the flags to lower, exit status 2."""
    if not args.cuda:
        raise Skip('needs a CUDA device (on the CPU an absurd size exhausts the host instead)')
    if importlib.util.find_spec('tqdm') is None:
        raise Skip('train.py needs tqdm, not installed here')
    from PIL import Image
    with tempfile.TemporaryDirectory() as data:
        for domain, count in (('A', OOM_BATCH), ('B', 1)):  # an epoch of OOM_BATCH examples: one batch
            os.makedirs(os.path.join(data, f'train{domain}'))
            for i in range(count):
                Image.new('RGB', (96, 32), (i % 256, 80, 160)).save(os.path.join(data, f'train{domain}', f'{i}.png'))
        command = [sys.executable, os.path.join(ROOT, 'train.py'), '--dataroot', data, '--checkpoints_dir', data,
                   *config(256, *rest), '--which_model_netG', 'resnet_9blocks', '--batchSize', str(OOM_BATCH),
                   '--nThreads', '0', '--display_id', '0', '--no_html', '--niter', '1', '--niter_decay', '0']
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    last = (result.stderr.strip().splitlines() or [''])[-1]
    assert result.returncode == 2 and last.startswith('error: out of GPU memory') and \
        'Traceback' not in result.stderr, f'exit status {result.returncode}, stderr ends: {last[-300:]}'
    return f'--batchSize {OOM_BATCH} at 256 px, resnet_9blocks: exit status 2, "{last[:90]}..."'


def nccl(args, rest):
    """Two processes, one GPU each: after 3 steps every replica holds the same weights."""
    if not args.cuda or torch.cuda.device_count() < 2:
        raise Skip(f'{torch.cuda.device_count()} CUDA device(s): NCCL needs 2 (the 2-process gloo path is '
                   f'tested on the CPU by tests/test_distributed.py)')
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'out.pt')
        # the processes meet on 127.0.0.1: torchrun's default, the hostname, may not resolve in a container
        command = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--local-addr', '127.0.0.1',
                   '--nproc_per_node', '2',
                   os.path.join(ROOT, 'tests', 'ddp_worker.py'), out, '3', *config(32), '--ngf', '8', '--ndf', '8',
                   '--gpu_ids', '0,1', '--seed', '5', '--checkpoints_dir', tmp, '--dataroot', 'unused',
                   '--display_id', '0']
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, f'torchrun exit status {result.returncode}: {result.stderr[-300:]}'
        checksums = torch.load(out, weights_only=True)['checksums']
    assert len(set(checksums)) == 1, f'the replicas differ after 3 steps: {checksums}'
    return '2 processes, 3 steps at 32 px: identical weights'


TESTS = [('fp16 with its gradient scaler', fp16_scaler), ('cudnn.benchmark', cudnn_benchmark),
         ('CUDA out of memory: a one-line error', out_of_memory), ('NCCL, 2 processes', nccl)]


# -- running and reporting ----------------------------------------------------------------------------
def run_job(job, args, needs_s):
    """job() -> ('ok', its result), ('skipped', why) or ('failed', the error in one line)."""
    left = args.budget_s - (time.monotonic() - START)
    if left <= needs_s:
        return 'skipped', f'time budget: {max(left, 0):.0f} s of --budget_s {args.budget_s:g} left'
    try:
        return 'ok', job()
    except Skip as err:
        return 'skipped', str(err)
    except Exception as err:
        return 'failed', f'{type(err).__name__}: {(str(err).strip().splitlines() or [""])[-1][:300]}'
    finally:  # free the row's model: compiled regions (and their CUDA graphs) hold it until dynamo resets
        torch._dynamo.reset()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def device_name(args):
    if not args.cuda:
        return f'CPU ({torch.get_num_threads()} threads)'
    return f'{torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}'


def report(args, rest, rows, tests):
    """Write OUT/gpu_check.json and OUT/gpu_check.md (rows: {(size, variant name): (status, result)})."""
    table = []
    for size in args.sizes:
        for v in VARIANTS:
            status, result = rows.get((size, v.name), ('not reached', 'the run stopped before this row'))
            row = {'size': size, 'step': v.name, 'status': status}
            if status == 'ok':
                authors = rows.get((size, VARIANTS[0 if not v.tf32 else 1].name), (None, None))
                speedup = authors[1]['s_per_step'] / result['s_per_step'] if authors[0] == 'ok' else None
                row.update(result, speedup=speedup)
            else:
                row['note'] = result
            table.append(row)
    results, tests = tests, []
    for name, _ in TESTS:
        status, detail = results.get(name, ('not reached', 'the run stopped before this test'))
        tests.append({'name': name, 'status': {'ok': 'pass', 'failed': 'fail'}.get(status, status), 'detail': detail})
    command = 'python scripts/gpu_check.py ' + shlex.join(sys.argv[1:])
    summary = {'device': device_name(args), 'torch': torch.__version__, 'command': command,
               'configuration': ' '.join(config('SIZE', *rest)), 'steps': args.steps, 'warmup': args.warmup,
               'repeats': args.repeats, 'budget_s': args.budget_s, 'elapsed_s': time.monotonic() - START,
               'rows': table, 'tests': tests}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'gpu_check.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    timing = 'CUDA events' if 'CPU' not in summary['device'] else 'perf_counter'
    peak = 'torch.cuda.max_memory_allocated during the timed steps' if timing == 'CUDA events' else \
        "the process's peak RSS so far (on the CPU, not per row)"
    lines = [f'GPU check on {summary["device"]}, PyTorch {torch.__version__}: `{command}`, '
             f'{summary["elapsed_s"]:.0f} s.', '',
             f'Configuration: `{summary["configuration"]}`. Each time: median of {args.repeats} runs of {args.steps} '
             f'steps after {args.warmup} warm-up steps ({timing}). Peak MB: {peak}. Speed-up: over the authors\' '
             f'step at the same size and TF32 setting; TF32 (GPU only) is on unless a row says off.', '',
             '| size | step | s/step | img/s | peak MB | speed-up | note |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    for r in table:
        if r['status'] == 'ok':
            speedup = f'{r["speedup"]:.2f}x' if r['speedup'] else ''
            lines.append(f'| {r["size"]} | {r["step"]} | {r["s_per_step"]:.4f} | {r["img_per_s"]:.1f} | '
                         f'{r["peak_mem_mb"]:.0f} | {speedup} | |')
        else:
            lines.append(f'| {r["size"]} | {r["step"]} | | | | | {r["status"]}: {r["note"]} |')
    lines += ['', '| test | result | detail |', '| --- | --- | --- |']
    lines += [f'| {t["name"]} | {t["status"]} | {t["detail"]} |' for t in tests]
    with open(os.path.join(args.out, 'gpu_check.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return lines


def main(argv=None):
    args, rest = parse(sys.argv[1:] if argv is None else argv)
    args.cuda = bool(train_options(config(args.sizes[0], *rest)).gpu_ids)  # bad flags: one line now
    rows, tests = {}, {}

    def row(size, v):
        needs_s = COMPILE_NEEDS_S if compiles(v) else 0
        return rows, (size, v.name), functools.partial(time_row, args, rest, size, v), needs_s
    timed = [(size, v) for size in args.sizes for v in VARIANTS]
    jobs = ([row(size, v) for size, v in timed if not compiles(v)]
            + [(tests, name, functools.partial(test, args, rest), 0) for name, test in TESTS]
            + [row(size, v) for size, v in timed if compiles(v)])
    for results, key, job, needs_s in jobs:
        results[key] = run_job(job, args, needs_s)
        print(f'{key}: {results[key][0]} {results[key][1]}', flush=True)
        lines = report(args, rest, rows, tests)
    print('\n'.join(lines))
    print(f'wrote {os.path.join(args.out, "gpu_check.md")} and gpu_check.json')


if __name__ == '__main__':
    run_cli(main)
