"""Training steps of the authors' code (../shared/reference/golden), reproduced: same initial weights
from the same seed, same losses, same updated weights."""
import os

import pytest
import torch

from conftest import REFERENCE, train_options
from numerics import (assert_first_adam_step_matches, assert_initial_weights_match, assert_losses_close,
                      fixture_model, float64_step_gradients, seeded_model, step_gradients)

FIXTURES = ['recycle_gan', 'reCycle_gan', 'cycle_gan']
# the authors' recycle_gan reports its recycle loss as Cyc_*
RENAMED = {'recycle_gan': {'Cyc_A': 'Recyc_A', 'Cyc_B': 'Recyc_B'}}


def load(name):
    return torch.load(os.path.join(REFERENCE, 'golden', f'{name}.pt'), weights_only=True)


def options_from(cfg, checkpoints_dir):
    """Our flags for a fixture's cfg (the authors' option names)."""
    args = ['--model', cfg['model'], '--gpu_ids', '-1', '--display_id', '0']
    for key in ('batchSize', 'fineSize', 'input_nc', 'output_nc', 'ngf', 'npf', 'ndf', 'which_model_netG',
                'which_model_netD', 'which_model_netP', 'n_layers_D', 'norm', 'init_type', 'pool_size', 'lr',
                'beta1', 'lr_policy', 'epoch_count', 'niter', 'niter_decay', 'lr_decay_iters', 'identity',
                'lambda_A', 'lambda_B', 'which_direction'):
        args += [f'--{key}', str(cfg[key])]
    args += ['--loadSize', str(cfg['fineSize'])]
    args += [f'--{flag}' for flag in ('no_dropout', 'no_lsgan', 'adversarial_loss_p') if cfg[flag]]
    return train_options(checkpoints_dir, *args, tiny=False)


@pytest.mark.parametrize('name', FIXTURES)
def test_seed_gives_the_authors_initial_weights(name, tmp_path):
    golden = load(name)
    model = seeded_model(options_from(golden['cfg'], tmp_path), golden['cfg']['seed'])
    assert_initial_weights_match(f'golden {name}', model, golden['init'])


@pytest.mark.parametrize('name', FIXTURES)
def test_two_training_steps_match_the_authors(name, tmp_path):
    golden = load(name)
    model = fixture_model(options_from(golden['cfg'], tmp_path), golden)
    for step, (batch, expected, rel) in enumerate(zip(golden['batches'], golden['losses'], (1e-4, 1e-3))):
        model.set_input(batch)
        grads32 = step_gradients(model, model.optimize_parameters)
        assert_losses_close(f'golden {name} step {step + 1}', model.get_current_losses(), expected, rel,
                            RENAMED.get(name))
        if step == 0:
            grads64 = float64_step_gradients(lambda: options_from(golden['cfg'], tmp_path), golden)
            assert set(grads64) == set(grads32)
            assert_first_adam_step_matches(f'golden {name}', model, golden['after1'], grads32, grads64,
                                           golden['cfg']['lr'])
