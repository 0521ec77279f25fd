"""How the tests compare this project's numbers with the authors': Adam's first step judged against a
float64 run of the same step, and the margins every comparison kept.

With RECYCLEGAN_MARGINS=<file>, the session writes every recorded margin (value / limit; 1 would fail)
to that JSON file: scripts/check_numerics.py runs the numerical tests under other CPU kernels and
thread counts and reports the worst ones.
"""
import json
import os
import random

import numpy as np
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from models import create_model

MARGINS = []  # (test, quantity, value, limit)
NORMS = (nn.InstanceNorm2d, nn.BatchNorm2d, nn.SyncBatchNorm)
# every entry away from the near-zero-gradient cases: the authors' and this step agree to this
WEIGHT_ATOL = 1e-5


def record(test, quantity, value, limit):
    MARGINS.append((test, quantity, float(value), float(limit)))


def write_margins():
    path = os.environ.get('RECYCLEGAN_MARGINS')
    if path and MARGINS:
        with open(path, 'w') as f:
            json.dump([dict(zip(('test', 'quantity', 'value', 'limit'), m)) for m in MARGINS], f, indent=0)


def assert_losses_close(test, losses, expected, rel, renamed=None):
    """Every expected loss (the authors' names, renamed where this project's differ) to `rel` relative;
    a loss the authors report as exactly 0 (a term turned off) stays exactly 0."""
    renamed = renamed or {}
    assert set(losses) == {renamed.get(k, k) for k in expected}
    worst = 0.0
    for key, value in expected.items():
        mine = losses[renamed.get(key, key)]
        error = abs(mine) if value == 0 else abs(mine - value) / abs(value)
        assert (mine == 0) if value == 0 else error <= rel, (test, key, mine, value)
        worst = max(worst, error)
    record(test, 'loss relative error', worst, rel)


def seeded_model(opt, seed):
    """The model of `opt`, built after seeding Python, NumPy and torch with `seed` as the reference runs did."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    model = create_model(opt)
    model.setup(opt)
    return model


def fixture_model(opt, golden):
    """The model of a golden fixture (`golden`: its cfg and init weights) in the default dtype."""
    model = seeded_model(opt, golden['cfg']['seed'])
    for net, state in golden['init'].items():
        model.network(net).load_state_dict(state, strict=True)
    return model


# Initial weights are drawn with Box-Muller (normal_) and uniform_ on the CPU, whose vectorised and scalar kernels
# (chosen by ATEN_CPU_CAPABILITY) compute log, sqrt and cos with different roundings of the same uniforms. cos
# near its zeros is off by up to an ulp of its argument (2*pi*u: 4.8e-7) times a radius of up to about 5 (units
# of the std), so an entry may move by ~2.4e-6 std, about 6e-7 of the tensor's largest entry (a few std);
# allow 4e-6 of it, far below what another seed, init or layer order would change (whole std).
INIT_ATOL = 4e-6


def assert_initial_weights_match(test, model, init):
    """Every network of `model` holds the fixture's initial weights `init` ({net: state_dict}): the same keys
    and shapes, integers equal, floats within INIT_ATOL of each tensor's largest entry (equal on the kernels
    the fixture was recorded with)."""
    assert model.model_names == list(init)
    worst = 0.0
    for net, state in init.items():
        mine = model.network(net).state_dict()
        assert list(mine) == list(state), net
        for key, expected in state.items():
            assert mine[key].shape == expected.shape, (net, key)
            if not expected.is_floating_point():
                assert torch.equal(mine[key], expected), (net, key)
                continue
            scale = expected.abs().max().double().clamp_min(1e-30)
            error = ((mine[key].double() - expected.double()).abs().max() / scale).item()
            assert error <= INIT_ATOL, f'{net}.{key}: differs by {error:.2e} of its largest entry'
            worst = max(worst, error)
    record(test, 'initial weights: largest difference / largest entry', worst, INIT_ATOL)


def float64_step_gradients(make_opt, golden, before_step=None):
    """The gradients of the fixture's first step computed in float64: the float32 run's reference for
    assert_first_adam_step_matches. before_step(model) may inject what the step draws (flows, noises)."""
    torch.set_default_dtype(torch.float64)
    try:
        model = fixture_model(make_opt(), golden)
        model.set_input({k: v.double() if torch.is_tensor(v) else v for k, v in golden['batches'][0].items()})
        if before_step is not None:
            before_step(model)
        return step_gradients(model, model.optimize_parameters)
    finally:
        torch.set_default_dtype(torch.float32)


def step_gradients(model, run):
    """Run run() (say one optimize_parameters()) and return {(net, key): gradient} of every parameter, as
    its optimizer saw it when it stepped (also a parameter stepped early and freed before the others)."""
    names = {id(p): (name, key) for name in model.model_names for key, p in model.network(name).named_parameters()}
    grads = {}

    def keep(optimizer, args, kwargs):
        for group in optimizer.param_groups:
            for p in group['params']:
                if p.grad is not None and id(p) in names:
                    grads[names[id(p)]] = p.grad.detach().clone()

    handle = register_optimizer_step_pre_hook(keep)
    try:
        run()
    finally:
        handle.remove()
    return grads


def biases_before_norm(net):
    """Keys of the conv biases a normalisation layer follows: the norm subtracts their contribution again,
    so their true gradient is exactly 0."""
    keys = set()
    for prefix, module in net.named_modules():
        if isinstance(module, nn.Sequential):
            layers = list(module.named_children())
            for (name, layer), (_, following) in zip(layers, layers[1:]):
                if getattr(layer, 'bias', None) is not None and isinstance(following, NORMS):
                    keys.add(f'{prefix}.{name}.bias' if prefix else f'{name}.bias')
    return keys


# The authors' float32 rounding, as a multiple of this run's: no fixture holds their gradients, so this
# is an assumption. Measured on one machine under other kernel paths (ATEN_CPU_CAPABILITY,
# ONEDNN_MAX_CPU_ISA, OMP_NUM_THREADS): flips at |g64| up to 3.1x a tensor's own R and up to 2x the step's
# R; 3 leaves room for CPUs not tried. A bug in a term (a detached recycle loss) still moves ~180 entries
# of one tensor far beyond the bound.
THEIR_ROUNDING = 3


def float32_rounding(model, grads32, grads64):
    """The float32 rounding of the step's gradients, relative to each tensor's largest gradient: the largest
    |g32 - g64| / max|g64| over every tensor of every network in this run (but those whose true gradient is
    exactly 0). Rounding errors propagate through the whole backward pass, across the networks a loss
    chains, so the worst tensor says what any tensor may carry."""
    exact_zero = {(net, key) for net in {n for n, _ in grads64} for key in biases_before_norm(model.network(net))}
    return max([((grads32[k].double() - grads64[k].double()).abs().max() / grads64[k].double().abs().max()).item()
                for k in grads64 if k not in exact_zero], default=0.0)


def assert_first_adam_step_matches(test, model, expected, grads32, grads64, lr):
    """The weights after Adam's first step against the authors' (`expected`: {net: state_dict}).

    Adam's first step moves a weight by lr * g / (|g| + eps), about lr * sign(g): where the true gradient
    g is 0 up to float32 rounding, its sign, and so a step of +lr or -lr, depends on the CPU's summation
    order. The authors' float32 gradient and this run's are two such roundings of the float64 one
    (grads64): ours is off by up to the step's float32 rounding R (float32_rounding, measured in this run),
    theirs by what their CPU's summation order gave, which no fixture records; take it as up to
    THEIR_ROUNDING x R. The signs can then disagree only where |g64| <= (1 + THEIR_ROUNDING) x R x max|g64|:
    there an entry may differ by up to 2 * lr, and anywhere in a conv bias a normalisation layer follows
    (true gradient exactly 0); every other entry agrees to WEIGHT_ATOL."""
    worst_rest, worst_flip = 0.0, 0.0
    rounding = float32_rounding(model, grads32, grads64)
    for net, state in expected.items():
        mine = model.network(net).state_dict()
        assert list(mine) == list(state), net
        normed = biases_before_norm(model.network(net))
        for key, ref in state.items():
            diff = (mine[key].double() - ref.double()).abs()
            # two steps of at most lr each, apart; 1e-6 covers float32 rounding of weights of size < 1
            assert diff.max().item() <= 2 * lr + 1e-6, f'{net}.{key}: {diff.max().item():.3g} > 2 * lr'
            free = torch.zeros_like(diff, dtype=torch.bool)
            if (net, key) in grads64 and key in normed:
                free[...] = True
            elif (net, key) in grads64:
                g64 = grads64[net, key].double().abs()
                near_zero = (1 + THEIR_ROUNDING) * rounding * g64.max()
                free = g64 <= near_zero
                flipped = diff > WEIGHT_ATOL
                if flipped.any():  # how close the flipped entries came to the edge of "near zero"
                    worst_flip = max(worst_flip, (g64[flipped].max() / near_zero).item())
            rest = diff[~free]
            if rest.numel():
                worst = rest.max().item()
                worst_rest = max(worst_rest, worst)
                assert worst <= WEIGHT_ATOL, (f'{net}.{key}: {int((rest > WEIGHT_ATOL).sum())} entries whose '
                                              f'gradient is not near zero differ by up to {worst:.3g}')
    record(test, 'weights: largest difference where the gradient is not near zero', worst_rest, WEIGHT_ATOL)
    record(test, 'weights: largest |g64| / near-zero bound among flipped steps', worst_flip, 1.0)


def assert_close(test, quantity, actual, expected, rtol, atol, msg=''):
    """torch.testing.assert_close, also recording the worst |actual - expected| / (atol + rtol * |expected|)."""
    ratio = ((actual.double() - expected.double()).abs() / (atol + rtol * expected.double().abs())).max().item()
    record(test, quantity, ratio, 1.0)
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, msg=msg)
