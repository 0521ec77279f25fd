"""Unsupervised Recycle-GAN's synthetic flow and warp against the reference code (tests/reference/README.md):
the deterministic part of a flow and the warp to float32 rounding, the random part in distribution."""
import json
import math
import os

import pytest
import torch

from conftest import REFERENCE
from models.synthetic_flow import flow_from_grid, grid_shape, random_flow, random_noise, warp
from numerics import assert_close

MOTION, SHIFT = 8.0, 10.0  # the reference's defaults, with which its statistics were drawn
SHIFT_VAR = ((2 * SHIFT + 1) ** 2 - 1) / 12  # variance of an integer uniform on -SHIFT..SHIFT


def golden(name):
    return torch.load(os.path.join(REFERENCE, 'golden', name), weights_only=True)


def reference_stats(size):
    with open(os.path.join(REFERENCE, 'golden', 'unsup_flow_stats.json')) as f:
        return json.load(f)['sizes'][f'{size}x{size}']


def pixel_std(height, width):
    """The exact per-pixel std of a random flow channel: the flow is linear in the grid, so its variance at p
    is MOTION^2 * sum over cells k of (the flow of a unit grid at cell k)(p)^2, plus the shift's variance."""
    rows, cols = grid_shape(height, width)
    var = torch.full((height, width), SHIFT_VAR, dtype=torch.float64)
    for k in range(rows * cols):
        unit = torch.zeros(rows * cols, 2, dtype=torch.float64)
        unit[k, 0] = 1
        var += MOTION ** 2 * flow_from_grid(unit.view(rows, cols, 2), [0, 0], height, width)[0].double() ** 2
    return var.sqrt()


def draws(n, size, motion=MOTION, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([random_flow(size, size, motion, SHIFT, generator=g) for _ in range(n)])


@pytest.mark.parametrize('index', range(4))
def test_flow_from_grid_reproduces_the_reference(index):
    example = golden('unsup_flow_examples.pt')['examples'][index]
    flow = flow_from_grid(example['base'], example['shift'], example['height'], example['width'])
    # the reference computes in float64 and casts to float32, as here: only summation order differs
    assert_close(f'flow example {index}', 'flow', flow, example['flow'], rtol=0, atol=1e-5)


def test_warp_reproduces_the_reference_including_its_zero_flow():
    case = golden('unsup_recycle.pt')
    images, flow = case['batches'][0]['A1'], case['draws'][0][0]['flow']
    check = case['warp_check']
    assert_close('warp', 'warped', warp(images, flow), check['out'], rtol=0, atol=1e-5)
    still = warp(images, torch.zeros_like(flow))
    assert_close('warp', 'zero flow', still, check['out_zero_flow'], rtol=0, atol=1e-5)
    assert (still - images).abs().mean() > 0.2  # their (size - 1) normalisation: not the identity


@pytest.mark.parametrize('height, width', [(64, 64), (99, 128), (32, 200)])
def test_sides_under_100_px_get_one_cell(height, width):
    """The reference crashes there (an empty grid); one cell gives a constant translation."""
    assert grid_shape(height, width) == (1, max(width // 100, 1))
    flow = random_flow(height, width, MOTION, SHIFT, generator=torch.Generator().manual_seed(0))
    assert flow.shape == (2, height, width) and flow.dtype == torch.float32
    if width < 200:
        assert torch.equal(flow, flow[:, :1, :1].expand_as(flow))


def test_flows_at_128_px_are_constant_with_the_reference_spread():
    n = 2000
    flows = draws(n, 128)
    assert torch.equal(flows, flows[:, :, :1, :1].expand_as(flows))
    values = flows[:, :, 0, 0].double()
    expected = math.sqrt(MOTION ** 2 + SHIFT_VAR)  # 10.03: N(0, 8^2) plus the shift
    for c, channel in enumerate('xy'):
        ref = reference_stats(128)['channels'][channel]
        # a std estimated from n Gaussian-like draws has a relative standard error of 1 / sqrt(2n):
        # 4 of those (6 % here, 9 % for the reference's 1,000 draws) against the exact value
        assert abs(values[:, c].std() / expected - 1) < 4 / math.sqrt(2 * n)
        assert abs(ref['std'] / expected - 1) < 4 / math.sqrt(2 * 1000)
        assert abs(values[:, c].mean()) < 3 * expected / math.sqrt(n)  # zero-mean, as the README's bound


def test_the_shift_is_uniform_on_the_integers_within_shift_level():
    flows = draws(2000, 32, motion=0.0)  # no random motion: the flow is the shift alone
    shifts = flows[:, :, 0, 0]
    assert torch.equal(shifts, shifts.round())
    values, counts = shifts.unique(return_counts=True)
    assert values.tolist() == list(range(-10, 11))
    # each of the 21 values has probability 1/21 of 4000 draws (190 expected, binomial std 13.5): within 5 std
    assert counts.min() > 190 - 5 * 13.5 and counts.max() < 190 + 5 * 13.5


def test_flows_at_256_px_vary_smoothly_like_the_reference():
    n = 500
    flows = draws(n, 256, seed=1).double()
    exact = pixel_std(256, 256)
    stats = reference_stats(256)
    # the reference's per-pixel spread is the exact one (its 1,000 draws: relative error 1 / sqrt(2000) each)
    assert abs(stats['channels']['x']['pixel_std']['top_left'] / exact[0, 0].item() - 1) < 4 / math.sqrt(2000)
    assert abs(stats['channels']['x']['pixel_std']['center'] / exact[128, 128].item() - 1) < 4 / math.sqrt(2000)
    overall = exact.pow(2).mean().sqrt().item()  # 8.76: lower than at 128 px, the filter averages cells
    for c, channel in enumerate('xy'):
        ref = stats['channels'][channel]
        values = flows[:, c]
        # the values within a draw are correlated: the error of the std is at most that of n draws, 1 / sqrt(2n)
        assert abs(values.std() / overall - 1) < 4 / math.sqrt(2 * n)
        assert abs(ref['std'] / overall - 1) < 4 / math.sqrt(2 * 1000)
        # smoothness: the mean |difference of neighbours| of n draws is within 10 % of the reference's (the
        # draws' spread of it gives a relative error of about 2.5 % for 500 draws, 2 % for its 1,000)
        for axis, dim in (('x', -1), ('y', -2)):
            mine = values.diff(dim=dim).abs().mean().item()
            assert abs(mine / ref[f'mean_abs_grad_along_{axis}'] - 1) < 0.10, (channel, axis, mine)


def test_noise_std_is_between_one_and_two_noise_levels():
    g = torch.Generator().manual_seed(0)
    stds = torch.stack([random_noise((2, 3, 64, 64), 0.001, generator=g).std() for _ in range(200)])
    # 24,576 values a draw: each std is within 1 % of its s, and s is uniform on [0.001, 0.002)
    assert stds.min() > 0.001 * 0.99 and stds.max() < 0.002 * 1.01
    assert stds.max() - stds.min() > 0.0008


def test_warp_samples_in_float32_under_bf16_autocast():
    """Under --amp bf16 the warped image keeps float32 coordinates: the same as warping in float32."""
    case = golden('unsup_recycle.pt')
    images, flow = case['batches'][0]['A1'][:1, :, :64, :64], case['draws'][0][0]['flow'][:, :64, :64] + 0.3
    with torch.autocast('cpu', dtype=torch.bfloat16):
        warped = warp(images.bfloat16(), flow)
    # only the input's bf16 rounding remains (relative 2^-9 of values in [-1, 1])
    assert (warped.float() - warp(images.bfloat16().float(), flow)).abs().max() < 1e-6
