"""Faithfulness beyond the golden fixtures: training steps of the models against a plain,
frame-by-frame transcription of the authors' algorithm (SPEC §4-5: every network called once per
frame in their order, each loss term spelled out), for norms, predictors, GAN losses and flags the
fixtures do not cover. Same weights and RNG state in, same losses and weights out.

In float64, so that equal math gives equal numbers to 1e-9: in float32 a pre-activation within
rounding of 0 can switch a ReLU and move a few gradients far enough to flip Adam's first step."""
import random

import pytest
import torch

from conftest import train_options
from models import create_model
from numerics import assert_close, assert_losses_close
from scripts.authors_step import AuthorsStep


def batch_for(opt, seed):
    g = torch.Generator().manual_seed(seed)
    shape = (opt.batchSize, 3, opt.fineSize, opt.fineSize)
    keys = ['A', 'B'] if opt.model == 'cycle_gan' else ['A0', 'A1', 'A2', 'B0', 'B1', 'B2']
    batch = {k: torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1 for k in keys}
    batch.update(A_paths=['a.png'] * opt.batchSize, B_paths=['b.png'] * opt.batchSize)
    return batch


CONFIGS = {
    'recycle, batch norm': ['--model', 'recycle_gan', '--norm', 'batch', '--batchSize', '2'],
    'recycle, dropout': ['--model', 'recycle_gan', '--which_model_netG', 'unet_32'],
    'recycle, vanilla GAN, adversarial P': ['--model', 'recycle_gan', '--no_lsgan', '--adversarial_loss_p'],
    'recycle, identity, pixel D': ['--model', 'recycle_gan', '--identity', '0.3', '--which_model_netD', 'pixel'],
    'reCycle, prediction P': ['--model', 'reCycle_gan', '--which_model_netP', 'prediction', '--npf', '2',
                              '--fineSize', '64', '--loadSize', '64'],
    'reCycle, pool, norm none, n_layers D': ['--model', 'reCycle_gan', '--pool_size', '3', '--batchSize', '2',
                                             '--norm', 'none', '--which_model_netD', 'n_layers', '--n_layers_D', '2'],
    'reCycle, batch norm, dropout, xavier': ['--model', 'reCycle_gan', '--norm', 'batch', '--init_type', 'xavier',
                                             '--which_model_netP', 'unet_64', '--fineSize', '64',
                                             '--loadSize', '64'],
    'cycle_gan, batch norm, dropout': ['--model', 'cycle_gan', '--norm', 'batch', '--batchSize', '2'],
}
DROPOUT = {'recycle, dropout', 'reCycle, batch norm, dropout, xavier', 'cycle_gan, batch norm, dropout'}


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize('config', list(CONFIGS))
def test_steps_match_the_authors_algorithm(config, tmp_path, float64):
    opt = train_options(tmp_path, *CONFIGS[config])
    opt.no_dropout = config not in DROPOUT
    torch.manual_seed(0)
    model = create_model(opt)
    model.setup(opt)
    reference = AuthorsStep(model, opt)
    for step in range(3):  # later steps see moved weights, Adam's moments and a filling pool
        batch = batch_for(opt, seed=step)
        rng_torch, rng_py = torch.get_rng_state(), random.getstate()
        expected = reference.step(batch)
        torch.set_rng_state(rng_torch)  # the same dropout masks and pool draws
        random.setstate(rng_py)
        model.set_input(batch)
        model.optimize_parameters()
        assert_losses_close(f'faithful {config}', model.get_current_losses(), expected, 1e-9)
        for name, net in reference.nets.items():
            for key, value in net.state_dict().items():
                # a conv bias in front of a norm layer has a true gradient of 0: Adam turns its noise
                # (~1e-17) into steps of ~1e-10 that add up; every other number agrees to 1e-9
                atol = 1e-7 if key.endswith('bias') else 1e-9
                assert_close(f'faithful {config}', 'float64 weights, steps 1-3', model.network(name).state_dict()[key],
                             value, rtol=1e-9, atol=atol, msg=f'{config}, step {step}: {name}.{key}')
