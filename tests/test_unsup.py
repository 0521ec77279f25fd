"""Unsupervised Recycle-GAN: two training steps of the reference code reproduced with its recorded flows and
noises (tests/reference/README.md), its flags, the content loss's file, every dataset mode, exact resume,
bf16 and torchrun."""
import os
import signal

import numpy as np
import pytest
import torch

import train
from conftest import REFERENCE, TINY, run_script, train_options
from models import create_model
from numerics import (assert_first_adam_step_matches, assert_initial_weights_match, assert_losses_close,
                      fixture_model, float64_step_gradients, seeded_model, step_gradients)
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


@pytest.mark.parametrize('name', FIXTURES)
def test_the_seed_gives_the_reference_initial_weights(name, tmp_path):
    golden = load(name)
    model = seeded_model(options_from(golden['cfg'], tmp_path), golden['cfg']['seed'])
    assert_initial_weights_match(f'golden {name}', model, golden['init'])


@pytest.mark.parametrize('name', FIXTURES)
def test_two_training_steps_match_the_reference(name, tmp_path):
    golden = load(name)
    model = fixture_model(options_from(golden['cfg'], tmp_path), golden)
    for step, (batch, expected, rel) in enumerate(zip(golden['batches'], golden['losses'], (1e-4, 1e-3))):
        model.set_input(batch)
        left = replay(model, golden['draws'][step])
        grads32 = step_gradients(model, model.optimize_parameters)
        assert not left  # every recorded flow was used
        assert_losses_close(f'golden {name} step {step + 1}', model.get_current_losses(), expected, rel)
        if step == 0:
            grads64 = float64_step_gradients(lambda: options_from(golden['cfg'], tmp_path), golden,
                                             lambda model: replay(model, golden['draws'][0]))
            assert set(grads64) == set(grads32)
            assert_first_adam_step_matches(f'golden {name}', model, golden['after1'], grads32, grads64,
                                           golden['cfg']['lr'])


# -- flags, the content loss's file, data ---------------------------------------------------------
def test_the_reference_flags_and_defaults(tmp_path):
    opt = train_options(tmp_path, '--model', 'unsup_single', '--lambda_cycle_B', '3')
    assert (opt.noise_level, opt.motion_level, opt.shift_level, opt.scale_level) == (0.001, 8, 10, 0)
    assert [getattr(opt, f'lambda_{k}_{d}') for k in ('unsup_cycle', 'spa_unsup', 'content') for d in 'AB'] == \
        [10, 10, 10, 10, 0, 0]
    assert (opt.lambda_A, opt.lambda_B, opt.identity, opt.vgg_path) == (10, 3, 0, '')  # --lambda_cycle_X = --lambda_X
    model = create_model(opt)
    assert type(model).__name__ == 'UnsupRecycleGANModel' and model.model_names == ['G_A', 'G_B', 'D_A', 'D_B']
    assert model.loss_names == [f'{n}_{d}' for d in 'AB' for n in ('D', 'G', 'Cyc', 'UnCyc', 'Unsup', 'Cont', 'Idt')]
    with pytest.raises(UserError, match='--scale_level 0.5: only 0 is supported'):
        create_model(train_options(tmp_path, *UNSUP, '--scale_level', '0.5'))


def vgg_file(tmp_path):
    from models.vgg import normalised_vgg19
    path = tmp_path / 'vgg_normalised.pth'
    torch.save(normalised_vgg19().state_dict(), path)
    return str(path)


def test_the_content_loss_takes_its_encoder_from_a_file_only(tmp_path):
    with pytest.raises(UserError, match=r'^--lambda_content_B > 0 needs the VGG encoder\'s weights: pass --vgg_path'):
        create_model(train_options(tmp_path, *UNSUP, '--lambda_content_B', '1'))
    with pytest.raises(UserError, match='--vgg_path .*nowhere.pth does not exist'):
        create_model(train_options(tmp_path, *UNSUP, '--lambda_content_A', '1', '--vgg_path',
                                   str(tmp_path / 'nowhere.pth')))
    with pytest.raises(UserError, match='--lambda_content_A > 0 compares VGG features of colour images: it needs '
                                        '--input_nc 3 and --output_nc 3'):
        create_model(train_options(tmp_path, *UNSUP, '--lambda_content_A', '1', '--output_nc', '1'))
    corrupt = tmp_path / 'corrupt.pth'  # not "would run arbitrary code", as it was called
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(UserError, match=r'corrupt.pth is not a readable checkpoint \(UnpicklingError: Unsupported '
                                        r'operand 95\)$'):
        create_model(train_options(tmp_path, *UNSUP, '--lambda_content_A', '1', '--vgg_path', str(corrupt)))
    wrong = tmp_path / 'wrong.pth'
    torch.save({'0.weight': torch.zeros(1)}, wrong)
    with pytest.raises(UserError, match='wrong.pth is from another architecture'):
        create_model(train_options(tmp_path, *UNSUP, '--lambda_content_A', '1', '--vgg_path', str(wrong)))

    path = vgg_file(tmp_path)
    opt = train_options(tmp_path, *UNSUP, '--lambda_content_A', '2', '--vgg_path', path)
    model = create_model(opt)
    model.setup(opt)
    model.set_input(batch_of(opt, triplets=False))
    model.optimize_parameters()
    losses = model.get_current_losses()
    assert losses['Cont_A'] > 0 and losses['Cont_B'] == 0
    # the encoder is the file's, frozen, and no network of the model (not in its checkpoints)
    saved = torch.load(path, weights_only=True)
    assert all(torch.equal(v, saved[k]) for k, v in model.encoder.state_dict().items())
    assert 'encoder' not in ''.join(model.model_names) and not model.encoder.training


def batch_of(opt, triplets, n=2):
    g = torch.Generator().manual_seed(0)
    keys = [f'{d}{t}' for d in 'AB' for t in range(3)] if triplets else ['A', 'B']
    batch = {k: torch.rand(n, 3, opt.fineSize, opt.fineSize, generator=g) * 2 - 1 for k in keys}
    return {**batch, 'A_paths': ['a.png'] * n, 'B_paths': ['b.png'] * n}


@pytest.mark.parametrize('triplets', [False, True], ids=['frames', 'triplets or video'])
def test_one_frame_of_each_example(tmp_path, triplets):
    """Single frames, and the middle frame of a triplet (--dataset_mode unaligned_triplet and video give A0 A1 A2),
    as the reference reads A1 and B1."""
    opt = train_options(tmp_path, *UNSUP, '--identity', '0.5')
    model = create_model(opt)
    model.setup(opt)
    batch = batch_of(opt, triplets)
    model.set_input(batch)
    assert len(model.real_A) == 1 and torch.equal(model.real_A[0], batch['A1' if triplets else 'A'])
    before = {k: v.clone() for k, v in model.netG_B.state_dict().items()}
    model.optimize_parameters()
    losses = model.get_current_losses()
    assert all(v > 0 for k, v in losses.items() if not k.startswith('Cont')), losses
    assert any(not torch.equal(before[k], v) for k, v in model.netG_B.state_dict().items())
    assert list(model.get_current_visuals()) == ['real_A', 'fake_B', 'rec_A', 'real_B', 'fake_A', 'rec_B',
                                                 'idt_A', 'idt_B']


# -- train.py, test.py, resume --------------------------------------------------------------------
def train_args(data, checkpoints, name, *extra):
    return ['--dataroot', data, '--checkpoints_dir', str(checkpoints), '--name', name, *TINY, *UNSUP,
            '--dataset_mode', 'unaligned_triplet', '--pool_size', '3', '--seed', '3', '--print_freq', '1',
            '--niter', '2', '--niter_decay', '1', '--save_latest_freq', '100', *extra]


def test_train_resume_and_test(tiny_data, tmp_path, monkeypatch):
    """Trained in one go, or stopped by SIGTERM in the middle of epoch 2 and resumed: the same losses and weights,
    bit for bit (flows and noises come from torch's generator, whose state the checkpoint keeps). Then test.py
    on frames and on a video (a folder of frames)."""
    train.main(train_args(tiny_data, tmp_path, 'whole'))
    (whole,) = loss_lines(tmp_path / 'whole' / 'loss_log.txt')
    assert len(whole) == 24 and 'UnCyc_A' in whole[1, 1] and 'Unsup_B' in whole[1, 1]

    model_class = type(create_model(train_options(tmp_path, *UNSUP)))
    step = model_class.optimize_parameters

    def stop_at_11(self):
        step(self)
        if self.guard.iteration == 11:  # a signal as from a scheduler: train.py saves and stops after this step
            os.kill(os.getpid(), signal.SIGTERM)
    monkeypatch.setattr(model_class, 'optimize_parameters', stop_at_11)
    with pytest.raises(SystemExit):
        train.main(train_args(tiny_data, tmp_path, 'resumed'))
    monkeypatch.setattr(model_class, 'optimize_parameters', step)
    train.main(train_args(tiny_data, tmp_path, 'resumed', '--continue_train'))
    first, second = loss_lines(tmp_path / 'resumed' / 'loss_log.txt')
    assert len(first) == 11 and {**first, **second} == whole
    for name in ('G_A', 'G_B', 'D_A', 'D_B'):
        a = torch.load(tmp_path / 'whole' / f'latest_net_{name}.pth', weights_only=True)
        b = torch.load(tmp_path / 'resumed' / f'latest_net_{name}.pth', weights_only=True)
        assert all(torch.equal(a[k], b[k]) for k in a), name

    common = ['--name', 'whole', '--checkpoints_dir', str(tmp_path), '--model', 'unsup_single', *TINY]
    result = run_script('test.py', '--dataroot', tiny_data, '--dataset_mode', 'single', '--results_dir',
                        str(tmp_path / 'r1'), *common)
    images = os.listdir(tmp_path / 'r1' / 'whole' / 'test_latest' / 'images')
    assert len([i for i in images if i.endswith('_fake_B.png')]) == 6, result.stdout[-500:]
    assert len([i for i in images if i.endswith('_fake_A.png')]) == 6
    run_script('test.py', '--video', os.path.join(tiny_data, 'testA'), '--results_dir', str(tmp_path / 'r2'), *common)
    assert os.listdir(tmp_path / 'r2' / 'whole' / 'test_latest' / 'videos') == ['testA_fake_B.mp4']


# -- bf16, torchrun ---------------------------------------------------------------------------------
def test_bf16_step_is_the_float32_step_to_bf16_precision(tmp_path):
    golden = load('unsup_recycle')
    losses = {}
    for amp in ([], ['--amp', 'bf16']):
        cfg = golden['cfg']
        opt = options_from(cfg, tmp_path)
        opt.amp = amp[1] if amp else None
        model = create_model(opt)
        model.setup(opt)
        for net, state in golden['init'].items():
            model.network(net).load_state_dict(state, strict=True)
        model.set_input(golden['batches'][0])
        replay(model, golden['draws'][0])
        model.optimize_parameters()
        losses[bool(amp)] = model.get_current_losses()
    assert losses[True] != losses[False]  # autocast did run in bf16
    for name, value in losses[False].items():
        # bf16 keeps 8 bits of mantissa (relative rounding 2^-9 = 0.2 %) through 20-odd layers, and the unsupervised
        # losses are means of differences of two such outputs: 2 % bounds that (0.4 % seen); off terms stay 0
        assert losses[True][name] == pytest.approx(value, rel=0.02, abs=0), name


def test_two_processes_of_batch_1_equal_one_of_batch_2(tmp_path):
    """Under torchrun the unsupervised losses' gradients are averaged like the others. With the same seed in
    every process each draws the same flows (train.py seeds each process on its own); noise 0 draws nothing."""
    from options.train_options import TrainOptions
    from test_distributed import torchrun
    from ddp_worker import batch, example
    flags = [*TINY, *UNSUP, '--pool_size', '0', '--seed', '5', '--noise_level', '0', '--identity', '0.5',
             '--checkpoints_dir', str(tmp_path), '--dataroot', 'x']
    out = tmp_path / 'out.pt'
    torchrun('tests/ddp_worker.py', str(out), '1', '--float64', *flags)
    distributed = torch.load(out, weights_only=True)
    torch.set_default_dtype(torch.float64)
    try:
        opt = TrainOptions().parse([*flags, '--batchSize', '2'])
        torch.manual_seed(opt.seed)
        model = create_model(opt)
        model.setup(opt)
        model.set_input(batch([example(0, opt), example(1, opt)]))
        model.optimize_parameters()
    finally:
        torch.set_default_dtype(torch.float32)
    assert set(distributed['weights']) == {'G_A', 'G_B', 'D_A', 'D_B'}
    for name, weights in distributed['weights'].items():
        for key, value in weights.items():
            # a conv bias before a norm layer has a true gradient of 0, so Adam moves it by noise
            atol = 1e-7 if key.endswith('bias') else 1e-9
            torch.testing.assert_close(model.network(name).state_dict()[key], value, rtol=1e-7, atol=atol,
                                       msg=f'{name}.{key}')


def test_each_term_draws_noise_shaped_as_the_image_it_warps(tmp_path):
    """Gray A frames, colour B frames: UnCyc_A warps G_A(a) (colour), Unsup_A warps a (gray); a wrong shape
    would broadcast silently."""
    opt = train_options(tmp_path, *UNSUP, '--input_nc', '1')
    model = create_model(opt)
    model.setup(opt)
    batch = batch_of(opt, triplets=False, n=3)
    batch['A'] = batch['A'][:, :1]
    model.set_input(batch)
    shapes = {term: tuple(model.draw(term)[1].shape) for term in ('UnCyc_A', 'UnCyc_B', 'Unsup_A', 'Unsup_B')}
    assert shapes == {'UnCyc_A': (3, 3, 32, 32), 'UnCyc_B': (3, 1, 32, 32), 'Unsup_A': (3, 1, 32, 32),
                      'Unsup_B': (3, 3, 32, 32)}
    assert model.draw('Unsup_A')[0].shape == (2, 32, 32)  # one flow for the batch
    model.optimize_parameters()


def test_the_noise_std_of_a_draw_is_between_one_and_two_noise_levels(tmp_path):
    """The golden steps inject the reference's draws, so the model's own draw is tested here: over many draws
    the noise's std stays in [noise_level, 2 x noise_level) and spreads over that interval."""
    opt = train_options(tmp_path, *UNSUP, '--noise_level', '0.01')
    model = create_model(opt)
    model.set_input(batch_of(opt, triplets=False, n=8))
    torch.manual_seed(0)
    stds = torch.stack([model.draw('Unsup_A')[1].std() for _ in range(300)])
    # 24,576 values a draw: each std is within 2 % of its s (4 standard errors)
    assert stds.min() > 0.01 * 0.98 and stds.max() < 0.02 * 1.02
    assert stds.max() - stds.min() > 0.008
