"""The training step as the device sees it: no host synchronisation inside an iteration, and the
divergence guard, which keeps a non-finite loss from changing any weight without waiting for the device."""
import collections
import math
import traceback

import pytest
import torch
from torch.overrides import TorchFunctionMode

import train
from conftest import ROOT, TINY, train_options
from models import create_model
from models.divergence_guard import NonFiniteLoss
from models.recycle_gan_model import RecycleGANModel
from scripts.benchmark import random_batch
from util.errors import UserError

NETS = ['G_A', 'G_B', 'P_A', 'P_B', 'D_A', 'D_B']
# calls that make the host wait for the device (on a GPU); a move to the CPU counts when it is one
SYNCS = {torch.Tensor.item, torch.Tensor.__bool__, torch.Tensor.__float__, torch.Tensor.__int__,
         torch.Tensor.__index__, torch.Tensor.tolist, torch.Tensor.cpu, torch.Tensor.numpy}


class HostSyncs(TorchFunctionMode):
    """Records every call that synchronises the host with the device, with the project's line that led to it.
    On a CPU-only machine a tensor is on the CPU already, so .to('cpu') counts when the project asks for it."""

    def __init__(self):
        super().__init__()
        self.calls = collections.Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        stack = traceback.extract_stack()[:-1]
        ours = [f for f in stack if f.filename.startswith(ROOT) and '/.venv/' not in f.filename]
        to_cpu = func in (torch.Tensor.to, torch.Tensor.cpu) and (
            func is torch.Tensor.cpu or any(str(a) == 'cpu' for a in (*args[1:], *kwargs.values())))
        moved = to_cpu and (args[0].device.type != 'cpu' or stack[-1] in ours)
        if (func in SYNCS and func is not torch.Tensor.cpu) or moved:
            where = f'{ours[-1].filename[len(ROOT) + 1:]}:{ours[-1].lineno}' if ours else '?'
            self.calls[f'{func.__name__} at {where}'] += 1
        return func(*args, **kwargs)


def model_for(tmp_path, *flags):
    opt = train_options(tmp_path, *flags)
    model = create_model(opt)
    model.setup(opt)
    return model


@pytest.mark.parametrize('flags', [
    ['--model', 'recycle_gan'],
    ['--model', 'recycle_gan', '--nan_policy', 'skip'],
    ['--model', 'reCycle_gan', '--pool_size', '3', '--amp', 'bf16'],
    ['--model', 'recycle_gan', '--amp', 'fp16'],
    ['--model', 'recycle_gan', '--norm', 'batch'],
    ['--model', 'cycle_gan', '--pool_size', '2'],
    ['--model', 'unsup_recycle_gan', '--identity', '0.5'],
    ['--model', 'unsup_recycle_gan', '--amp', 'bf16', '--pool_size', '3'],
], ids=' '.join)
def test_no_host_sync_inside_a_training_iteration(tmp_path, flags):
    model = model_for(tmp_path, *flags)
    batch, _ = random_batch(model.opt)
    for _ in range(2):  # the first step creates Adam's state
        model.set_input(batch)
        with HostSyncs() as syncs:
            model.optimize_parameters()
    assert not syncs.calls, dict(syncs.calls)


def test_the_sync_counter_sees_syncs(tmp_path):
    """The counter above is not blind: a loss read on the host inside the step is seen."""
    model = model_for(tmp_path, '--model', 'recycle_gan')
    batch, _ = random_batch(model.opt)
    model.set_input(batch)
    with HostSyncs() as syncs:
        model.optimize_parameters()
        float(model.loss_G)
        model.loss_G.detach().to('cpu')
    assert sum(syncs.calls.values()) == 2, dict(syncs.calls)


def make_loss_non_finite(model, name, value):
    """From now on the loss `name` of the batched Recycle-GAN step (half_losses) is `value`."""
    half_losses = model.half_losses

    def losses(X, Y):
        found = half_losses(X, Y)
        if name in found:
            found[name] = found[name] * value
        return found
    model.half_losses = losses


def snapshot(model):
    weights = {n: {k: v.clone() for k, v in model.network(n).state_dict().items()} for n in NETS}
    adam = [[s['step'].clone() for s in o.state.values()] for o in model.optimizers]
    return weights, adam


def changed(model, before):
    weights, adam = snapshot(model)
    nets = {n for n in NETS if any(not torch.equal(v, before[0][n][k]) for k, v in weights[n].items())}
    return nets, adam != before[1]


# G_A is a loss of the first half (A -> B), Recyc_B of the second: the first half's predictor P_B takes its
# step early, after the second half's losses are known, and must skip it for either
@pytest.mark.parametrize('name', ['G_A', 'Recyc_B'])
@pytest.mark.parametrize('value', [math.inf, math.nan])
def test_a_non_finite_loss_changes_no_weight_on_the_default_path(tmp_path, name, value):
    model = model_for(tmp_path, '--model', 'recycle_gan')
    assert model.batch_frames  # the default configuration: batched frames, the predictor's early step
    batch, _ = random_batch(model.opt)
    model.set_input(batch)
    model.optimize_parameters()  # Adam's state exists
    before = snapshot(model)
    make_loss_non_finite(model, name, value)
    for _ in range(2):  # --nan_policy stop: nothing moves until the loop reads the guard
        model.set_input(batch)
        model.optimize_parameters()
    assert changed(model, before) == (set(), False)
    with pytest.raises(NonFiniteLoss) as err:
        model.guard.report()
    assert (err.value.name, err.value.iteration) == (name, 2)
    assert str(err.value.value) == str(value)


def test_nan_policy_skip_leaves_out_only_the_non_finite_steps(tmp_path):
    model = model_for(tmp_path, '--model', 'recycle_gan', '--nan_policy', 'skip')
    batch, _ = random_batch(model.opt)
    model.set_input(batch)
    model.optimize_parameters()
    before = snapshot(model)
    make_loss_non_finite(model, 'Recyc_B', math.nan)
    model.set_input(batch)
    model.optimize_parameters()
    # the generators' step is skipped; the discriminators' losses are finite, so they learn
    assert changed(model, before) == ({'D_A', 'D_B'}, True)
    assert model.guard.report() == 1 and model.skipped_steps == 1
    assert model.guard.report() == 0  # reported once


def test_the_default_path_stops_naming_the_loss_and_iteration(tiny_data, tmp_path, monkeypatch):
    """train.py reads the guard where it prints anyway, and stops naming where the loss went wrong."""
    original = RecycleGANModel.optimize_parameters

    def optimize(self):
        if self.guard.iteration == 5:  # the 6th iteration on
            make_loss_non_finite(self, 'Pred_A', math.inf)
        original(self)
    monkeypatch.setattr(RecycleGANModel, 'optimize_parameters', optimize)
    args = ['--dataroot', tiny_data, '--checkpoints_dir', str(tmp_path), '--name', 'inf', *TINY,
            '--model', 'recycle_gan', '--print_freq', '4', '--save_latest_freq', '4', '--niter', '2',
            '--niter_decay', '0']
    with pytest.raises(UserError, match=r'loss Pred_A is inf at epoch 1, iteration 6: training stopped; no weight '
                                        r'changed since'):
        train.main(args)
    state = torch.load(tmp_path / 'inf' / 'latest_train_state.pth', weights_only=True)
    assert state['progress']['total_steps'] == 4


@pytest.mark.parametrize('flags', [[], ['--amp', 'bf16']], ids=['fp32', 'bf16'])
def test_the_step_compiles_without_graph_breaks(tmp_path, flags):
    """Every network and every forward-and-loss region of the default step traces as one graph each
    (torch._dynamo.explain), so that --compile, and CUDA graphs, see whole regions."""
    import torch._dynamo
    model = model_for(tmp_path, '--model', 'recycle_gan', *flags)
    batch, _ = random_batch(model.opt)
    model.set_input(batch)
    a, b = model.real_A, model.real_B
    calls = {'G_A': (model.netG_A, a[0]), 'P_B': (model.netP_B, b[0], b[1]), 'D_A': (model.netD_A, b[0]),
             'A -> B': (model.half_forward, 'A', 'B'), 'B -> A': (model.half_forward, 'B', 'A')}
    with torch.no_grad():
        fakes = [model.netG_A(x) for x in a]
    calls['D_A loss'] = (model.discriminator_loss, model.netD_A, b, [(0, 0), (1, 1), (2, 2)], fakes)
    for name, (fn, *args) in calls.items():
        explained = torch._dynamo.explain(fn)(*args)
        assert (explained.graph_count, explained.graph_break_count) == (1, 0), (name, explained.break_reasons)


@pytest.mark.parametrize('flags', [[], ['--amp', 'bf16']], ids=['fp32', 'bf16'])
def test_the_unsupervised_step_compiles_without_graph_breaks(tmp_path, flags):
    """Unsupervised Recycle-GAN's generator region (translation, cycle, warps, unsupervised losses) and its
    discriminator region each trace as one graph; the flows and noises are drawn before, on the device."""
    import torch._dynamo
    model = model_for(tmp_path, '--model', 'unsup_recycle_gan', '--identity', '0.5', *flags)
    batch, _ = random_batch(model.opt)
    model.set_input(batch)
    model.synthetic = {term: model.draw(term) for term in ('UnCyc_A', 'UnCyc_B', 'Unsup_A', 'Unsup_B')}
    with torch.no_grad():
        fakes = [model.netG_A(model.real_A[0])]
    regions = {'generators': (model.generator_forward,),
               'D_A loss': (model.discriminator_loss, model.netD_A, model.real_B, [(0, 0)], fakes)}
    for name, (fn, *args) in regions.items():
        explained = torch._dynamo.explain(fn)(*args)
        assert (explained.graph_count, explained.graph_break_count) == (1, 0), (name, explained.break_reasons)
