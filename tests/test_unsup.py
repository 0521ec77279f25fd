"""Unsupervised Recycle-GAN: two training steps of the reference code reproduced with its recorded flows and
noises (tests/reference/README.md), its flags, the content loss's file, every dataset mode, exact resume,
bf16 and torchrun."""
import os
import random

import numpy as np
import pytest
import torch

import train
from conftest import REFERENCE, TINY, run_script, train_options
from models import create_model
from numerics import assert_first_adam_step_matches, assert_losses_close, step_gradients
from test_reliability import loss_lines
from util.errors import UserError

FIXTURES = ['unsup_recycle', 'unsup_recycle_v2c']
UNSUP = ['--model', 'unsup_recycle_gan']


def load(name):
    return torch.load(os.path.join(REFERENCE, 'golden', f'{name}.pt'), weights_only=True)


def options_from(cfg, checkpoints_dir):
    """Our flags for a fixture's cfg (the reference's option names, and its model name unsup_single)."""
    args = ['--model', cfg['model'], '--gpu_ids', '-1', '--display_id', '0', '--loadSize', str(cfg['fineSize']),
            '--identity', str(cfg['lambda_identity'])]
    for key in ('batchSize', 'fineSize', 'input_nc', 'output_nc', 'ngf', 'ndf', 'which_model_netG', 'which_model_netD',
                'n_layers_D', 'norm', 'init_type', 'pool_size', 'lr', 'beta1', 'lr_policy', 'niter', 'niter_decay',
                'which_direction', 'motion_level', 'shift_level', 'scale_level', 'noise_level',
                *(f'lambda_{kind}_{d}' for kind in ('cycle', 'unsup_cycle', 'spa_unsup', 'content') for d in 'AB')):
        args += [f'--{key}', str(cfg[key])]
    args += ['--no_dropout'] * cfg['no_dropout'] + ['--no_lsgan'] * cfg['no_lsgan']
    return train_options(checkpoints_dir, *args, tiny=False)


def seeded_model(cfg, checkpoints_dir):
    opt = options_from(cfg, checkpoints_dir)
    random.seed(cfg['seed'])
    np.random.seed(cfg['seed'])
    torch.manual_seed(cfg['seed'])
    model = create_model(opt)
    model.setup(opt)
    return model


def replay(model, draws):
    """From now on the model's synthetic flows and noises are the recorded `draws`, in the recorded order."""
    queue = list(draws)

    def draw(term):
        recorded = queue.pop(0)
        assert recorded['loss'] == term  # the same terms, in the same order
        dtype = torch.get_default_dtype()
        return recorded['flow'].to(dtype), recorded['noise'].to(dtype)
    model.draw = draw
    return queue


def fixture_model(golden, checkpoints_dir):
    model = seeded_model(golden['cfg'], checkpoints_dir)
    for net, state in golden['init'].items():
        model.network(net).load_state_dict(state, strict=True)
    return model


def float64_step_gradients(golden, checkpoints_dir):
    """The gradients of the fixture's first step, computed in float64."""
    torch.set_default_dtype(torch.float64)
    try:
        model = fixture_model(golden, checkpoints_dir)
        model.set_input({k: v.double() if torch.is_tensor(v) else v for k, v in golden['batches'][0].items()})
        replay(model, golden['draws'][0])
        return step_gradients(model, model.optimize_parameters)
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize('name', FIXTURES)
def test_the_seed_gives_the_reference_initial_weights(name, tmp_path):
    golden = load(name)
    model = seeded_model(golden['cfg'], tmp_path)
    assert model.model_names == list(golden['init'])
    for net, state in golden['init'].items():
        mine = model.network(net).state_dict()
        assert list(mine) == list(state) and all(torch.equal(mine[k], v) for k, v in state.items()), net


@pytest.mark.parametrize('name', FIXTURES)
def test_two_training_steps_match_the_reference(name, tmp_path):
    golden = load(name)
    model = fixture_model(golden, tmp_path)
    for step, (batch, expected, rel) in enumerate(zip(golden['batches'], golden['losses'], (1e-4, 1e-3))):
        model.set_input(batch)
        left = replay(model, golden['draws'][step])
        grads32 = step_gradients(model, model.optimize_parameters)
        assert not left  # every recorded flow was used
        assert_losses_close(f'golden {name} step {step + 1}', model.get_current_losses(), expected, rel)
        if step == 0:
            grads64 = float64_step_gradients(golden, tmp_path)
            assert set(grads64) == set(grads32)
            assert_first_adam_step_matches(f'golden {name}', model, golden['after1'], grads32, grads64,
                                           golden['cfg']['lr'])
