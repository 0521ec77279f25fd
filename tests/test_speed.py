"""The speed flags train (losses finite, weights move), --compile falls back when unavailable, and
the benchmark script and the GPU check (run tiny on the CPU) report what they promise."""
import json
import os
import subprocess
import sys

import pytest
import torch

import models.base_model as base_model
import scripts.gpu_check as gpu_check_module
from conftest import ROOT, run_script, train_options
from models import create_model
from scripts.benchmark import random_batch
from util.errors import UserError


def train_steps(tmp_path, *flags, steps=2):
    opt = train_options(tmp_path, '--model', 'recycle_gan', '--identity', '0.5', *flags)
    model = create_model(opt)
    model.setup(opt)
    before = {k: v.clone() for k, v in model.netG_A.state_dict().items()}
    batch, _ = random_batch(opt)
    for _ in range(steps):
        model.set_input(batch)
        model.optimize_parameters()
    return model, before


@pytest.mark.parametrize('flags', [['--amp', 'bf16'], ['--amp', 'fp16'], ['--channels_last'],
                                   ['--amp', 'bf16', '--channels_last']], ids=' '.join)
def test_speed_flags_train(tmp_path, flags):
    # fp16's gradient scaler starts at 2**16 and halves after each step that overflows, skipping it
    model, before = train_steps(tmp_path, *flags, steps=12 if 'fp16' in flags else 2)
    losses = model.get_current_losses()
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values()), losses
    assert any(not torch.equal(before[k], v) for k, v in model.netG_A.state_dict().items())
    assert all(p.dtype == torch.float32 for p in model.netG_A.parameters())  # weights stay fp32 under autocast
    if '--amp' in flags:
        assert model.fake_B[0].dtype == {'bf16': torch.bfloat16, 'fp16': torch.float16}[flags[1]]
        assert model.scaler.is_enabled() == (flags[1] == 'fp16')
        if flags[1] == 'fp16':
            assert model.scaler.get_scale() < 2 ** 16
    if '--channels_last' in flags:
        assert model.netG_A.model[1].weight.is_contiguous(memory_format=torch.channels_last)


def test_amp_bf16_stays_close_to_fp32(tmp_path):
    torch.manual_seed(0)
    fp32, _ = train_steps(tmp_path, steps=1)
    torch.manual_seed(0)
    bf16, _ = train_steps(tmp_path, '--amp', 'bf16', steps=1)
    for name, value in fp32.get_current_losses().items():
        assert bf16.get_current_losses()[name] == pytest.approx(value, rel=0.05), name


# Inductor writes vectorised C++ for the CPU it detects, but under ATEN_CPU_CAPABILITY=default ATen's headers
# leave at::vec undeclared, so its code does not compile (measured: CppCompileError, 'at::vec has not been
# declared'); a CPU that really lacks AVX2 gets scalar code and no such mismatch.
@pytest.mark.skipif(os.environ.get('ATEN_CPU_CAPABILITY') == 'default',
                    reason="inductor's C++ does not build under ATEN_CPU_CAPABILITY=default (a forced, not a real, CPU)")
def test_compile_trains(tmp_path):
    model, before = train_steps(tmp_path, '--compile', '--which_model_netD', 'pixel', steps=1)
    assert all(torch.isfinite(torch.tensor(v)) for v in model.get_current_losses().values())
    assert list(model.netG_A.state_dict()) == list(before)  # compiled in place: the authors' keys


def test_compile_falls_back_with_a_warning(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError('no C++ compiler')
    monkeypatch.setattr(torch, 'compile', broken)
    base_model.compile_available.cache_clear()
    model, _ = train_steps(tmp_path, '--compile', steps=1)
    base_model.compile_available.cache_clear()  # the next test may compile for real
    assert all(torch.isfinite(torch.tensor(v)) for v in model.get_current_losses().values())
    warnings = [line for line in capsys.readouterr().err.splitlines() if '--compile' in line]
    assert warnings == ['warning: --compile is unavailable here (RuntimeError: no C++ compiler); running eagerly']


def test_benchmark_prints_a_table_and_json(tmp_path):
    result = run_script('scripts/benchmark.py', '--model', 'recycle_gan', '--which_model_netG', 'resnet_6blocks',
                        '--which_model_netP', 'unet_32', '--fineSize', '32', '--loadSize', '32', '--ngf', '8',
                        '--ndf', '8', '--gpu_ids', '-1', '--no_dropout', '--steps', '2', '--warmup', '1', '--json')
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith('recycle_gan, G resnet_6blocks, P unet_32, ngf 8, 32 px, batch 1, fp32, CPU')
    assert lines[1].split() == ['s/step', 'img/s', 'peak', 'MB', 'GFLOP/step', 'GFLOP/s']
    numbers = json.loads(lines[-1])
    assert {'s_per_step', 'img_per_s', 'peak_mem_mb', 'gflop_per_step'} <= set(numbers)
    assert numbers['img_per_s'] == pytest.approx(6 / numbers['s_per_step'])
    # the FLOPs of one step: G, P and D over the six frames, forward and backward, a fraction of a GFLOP here
    assert 0.2 < numbers['gflop_per_step'] < 2


def test_benchmark_counts_the_frames_a_step_uses():
    """unsup_recycle_gan takes the middle frame of a triplet: 2 images a step, not 6."""
    from scripts.benchmark import main
    result = main(['--model', 'unsup_recycle_gan', '--dataset_mode', 'unaligned_triplet', '--which_model_netG',
                   'resnet_6blocks', '--fineSize', '32', '--loadSize', '32', '--ngf', '8', '--ndf', '8', '--gpu_ids',
                   '-1', '--no_dropout', '--steps', '1', '--warmup', '0'])
    assert result['img_per_s'] == pytest.approx(2 / result['s_per_step'])
    with pytest.raises(UserError, match="--authors and --against_authors time the authors' step of cycle_gan, "
                                        "recycle_gan, reCycle_gan only, not --model unsup_recycle_gan"):
        main(['--model', 'unsup_recycle_gan', '--authors', '--fineSize', '32', '--loadSize', '32', '--ngf', '8',
              '--gpu_ids', '-1'])


def test_first_halfs_predictor_steps_before_the_second_backward(tmp_path):
    """P_B serves only the A -> B half: it is updated and its gradients freed before the B -> A half
    backpropagates (the peak memory of a step then holds one predictor's gradients, not two)."""
    opt = train_options(tmp_path, '--model', 'recycle_gan')
    model = create_model(opt)
    model.setup(opt)
    before = [p.detach().clone() for p in model.netP_B.parameters()]
    seen = []

    def during_second_backward(_):
        seen.append((all(p.grad is None for p in model.netP_B.parameters()),
                     any(not torch.equal(p, q) for p, q in zip(model.netP_B.parameters(), before))))
    next(model.netP_A.parameters()).register_post_accumulate_grad_hook(during_second_backward)
    batch, _ = random_batch(opt)
    model.set_input(batch)
    model.optimize_parameters()
    assert seen == [(True, True)]
    assert all(p.grad is not None for p in model.netP_A.parameters())  # the second half's stay for its step


def gpu_check(tmp_path, *flags):
    """scripts/gpu_check.py, tiny on the CPU, in a Python where dominate, visdom, av, tqdm and matplotlib
    cannot be imported (the GPU machine may lack them); returns its JSON and its markdown lines."""
    block = ("import runpy, sys; sys.modules.update(dict.fromkeys(['dominate', 'visdom', 'av', 'tqdm', 'matplotlib']));"
             " sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
    result = subprocess.run([sys.executable, '-c', block, 'scripts/gpu_check.py', '--gpu_ids', '-1', '--sizes', '32',
                             '--ngf', '8', '--ndf', '8', '--npf', '2', '--steps', '1', '--warmup', '1', '--repeats',
                             '2', '--out', str(tmp_path), *flags],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / 'gpu_check.json') as f:
        summary = json.load(f)
    return summary, (tmp_path / 'gpu_check.md').read_text().splitlines()


def markdown_table(lines, header):
    """The rows of the markdown table starting at `header`, as lists of cells."""
    start = lines.index(header)
    assert lines[start + 1].startswith('| --- |')
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith('|'):
            break
        rows.append([cell.strip() for cell in line.strip('|').split('|')])
    return rows


def test_gpu_check_runs_on_the_cpu(tmp_path):
    summary, lines = gpu_check(tmp_path, '--no_compile')
    assert summary['device'].startswith('CPU') and 'unet_SIZE' in summary['configuration']
    steps = [v.name for v in gpu_check_module.VARIANTS]
    rows = {r['step']: r for r in summary['rows']}
    assert [r['step'] for r in summary['rows']] == steps and {r['size'] for r in summary['rows']} == {32}
    authors = {True: rows["authors', fp32, TF32 on"], False: rows["authors', fp32, TF32 off"]}
    table = markdown_table(lines, '| size | step | s/step | img/s | peak MB | speed-up | note |')
    assert [cells[:2] for cells in table] == [['32', step] for step in steps]
    for variant, cells in zip(gpu_check_module.VARIANTS, table):
        row = rows[variant.name]
        if '--compile' in variant.flags:
            assert row['status'] == 'skipped' and row['note'] == '--no_compile'
            assert cells[2:] == ['', '', '', '', 'skipped: --no_compile']
            continue
        assert row['status'] == 'ok' and row['s_per_step'] > 0 and row['peak_mem_mb'] > 0
        assert row['img_per_s'] == pytest.approx(6 / row['s_per_step'])  # six frames a step
        # against the authors' step with the same TF32 setting (1 for the authors' rows themselves)
        assert row['speedup'] == pytest.approx(authors[variant.tf32]['s_per_step'] / row['s_per_step'])
        assert cells[2:] == [f'{row["s_per_step"]:.4f}', f'{row["img_per_s"]:.1f}', f'{row["peak_mem_mb"]:.0f}',
                             f'{row["speedup"]:.2f}x', '']
    tests = {t['name']: t for t in summary['tests']}
    assert [t['status'] for t in summary['tests']] == ['pass', 'skipped', 'skipped', 'skipped']
    assert tests['fp16 with its gradient scaler']['detail'].startswith('12 steps at 32 px: losses finite, G_A changed')
    assert all('CUDA device' in t['detail'] for t in summary['tests'][1:])
    table = markdown_table(lines, '| test | result | detail |')
    assert table == [[t['name'], t['status'], t['detail']] for t in summary['tests']]


def test_gpu_check_skips_what_its_time_budget_leaves_no_time_for(tmp_path):
    summary, lines = gpu_check(tmp_path, '--budget_s', '0', '--no_compile')  # the budget comes first
    assert all(r['status'] == 'skipped' and r['note'] == 'time budget: 0 s of --budget_s 0 left'
               for r in summary['rows'] + [{'status': t['status'], 'note': t['detail']} for t in summary['tests']])
    table = markdown_table(lines, '| size | step | s/step | img/s | peak MB | speed-up | note |')
    assert len(table) == len(gpu_check_module.VARIANTS)
    assert all(cells[-1] == 'skipped: time budget: 0 s of --budget_s 0 left' for cells in table)
