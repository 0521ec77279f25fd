"""Models: the registry, loss and visual names, one training step on the CPU, test-time translation."""
import pytest
import torch

from conftest import train_options
from models import create_model, find_model_using_name
from util.errors import UserError


def tiny_batch(triplets, n=1, size=32):
    g = torch.Generator().manual_seed(0)
    keys = ['A0', 'A1', 'A2', 'B0', 'B1', 'B2'] if triplets else ['A', 'B']
    batch = {k: torch.rand(n, 3, size, size, generator=g) * 2 - 1 for k in keys}
    batch.update(A_paths=['a.png'] * n, B_paths=['b.png'] * n)
    return batch


def test_registry_finds_models_by_name():
    names = ('recycle_gan', 'reCycle_gan', 'cycle_gan', 'test', 'unsup_recycle_gan', 'unsup_single')
    assert [find_model_using_name(n).__name__ for n in names] == \
        ['RecycleGANModel', 'ReCycleGANModel', 'CycleGANModel', 'TestModel'] + ['UnsupRecycleGANModel'] * 2
    with pytest.raises(UserError, match="--model 'Recycle_GAN' is not one of: cycle_gan, reCycle_gan, recycle_gan, "
                                        "test, unsup_recycle_gan$"):
        find_model_using_name('Recycle_GAN')


@pytest.mark.parametrize('args, losses', [
    (['--model', 'recycle_gan'], 'D_A G_A Recyc_A Pred_A D_B G_B Recyc_B Pred_B'),
    (['--model', 'recycle_gan', '--identity', '0.5', '--adversarial_loss_p'],
     'D_A G_A Recyc_A Pred_A D_B G_B Recyc_B Pred_B idt_A idt_B Pred_A_GAN Pred_B_GAN'),
    (['--model', 'reCycle_gan'], 'D_A G_A Recyc_A Pred_A Cyc_A D_B G_B Recyc_B Pred_B Cyc_B idt_A idt_B'),
    (['--model', 'reCycle_gan', '--identity', '0'], 'D_A G_A Recyc_A Pred_A Cyc_A D_B G_B Recyc_B Pred_B Cyc_B'),
    (['--model', 'cycle_gan'], 'D_A G_A Cyc_A D_B G_B Cyc_B idt_A idt_B'),
])
def test_a_training_step_reports_its_losses(tmp_path, args, losses):
    opt = train_options(tmp_path, *args)
    model = create_model(opt)
    model.setup(opt)
    assert [n for n in ('G_A', 'G_B', 'P_A', 'P_B', 'D_A', 'D_B') if hasattr(model, 'net' + n)] == \
        model.model_names
    before = {k: v.clone() for k, v in model.netG_A.state_dict().items()}
    model.set_input(tiny_batch(opt.model != 'cycle_gan', n=2))
    model.optimize_parameters()
    current = model.get_current_losses()
    assert ' '.join(current) == losses
    assert all(isinstance(v, float) and v == v and v >= 0 for v in current.values())
    assert any(not torch.equal(before[k], v) for k, v in model.netG_A.state_dict().items())
    for label, image in model.get_current_visuals().items():
        assert image.shape == (2, 3, 32, 32), label


def test_recycle_visuals_are_frames(tmp_path):
    opt = train_options(tmp_path, '--model', 'recycle_gan')
    model = create_model(opt)
    model.setup(opt)
    model.set_input(tiny_batch(True))
    model.optimize_parameters()
    assert list(model.get_current_visuals()) == [
        'real_A0', 'real_A1', 'real_A2', 'fake_B0', 'fake_B1', 'fake_B2', 'rec_A', 'pred_A',
        'real_B0', 'real_B1', 'real_B2', 'fake_A0', 'fake_A1', 'fake_A2', 'rec_B', 'pred_B']


def test_frames_share_network_calls_only_where_exact(tmp_path):
    assert create_model(train_options(tmp_path, '--model', 'recycle_gan')).batch_frames
    assert not create_model(train_options(tmp_path, '--model', 'recycle_gan', '--norm', 'batch')).batch_frames
    opt = train_options(tmp_path, '--model', 'recycle_gan')
    opt.no_dropout = False
    assert not create_model(opt).batch_frames


def test_run_batches_frames_into_one_call(tmp_path):
    model = create_model(train_options(tmp_path, '--model', 'recycle_gan'))
    calls = []
    net = lambda x: calls.append(x.shape[0]) or x * 2
    frames = [torch.ones(2, 3, 4, 4) * t for t in range(3)]
    out = model.run(net, *frames)
    assert calls == [6] and all(torch.equal(o, f * 2) for o, f in zip(out, frames))
    model.batch_frames = False
    calls.clear()
    model.run(net, *frames)
    assert calls == [2, 2, 2]


@pytest.mark.parametrize('model_name', ['recycle_gan', 'reCycle_gan', 'cycle_gan', 'unsup_recycle_gan'])
def test_test_time_translation_of_single_frames(tmp_path, model_name):
    from options.test_options import TestOptions
    from conftest import TINY
    opt = TestOptions().parse(['--dataroot', 'x', '--model', model_name, '--results_dir', str(tmp_path),
                               '--checkpoints_dir', str(tmp_path), *TINY])
    model = create_model(opt)
    assert not hasattr(model, 'netD_A')
    model.set_input({'A': torch.zeros(1, 3, 32, 32), 'A_paths': ['a.png']})  # one domain at a time
    model.test()
    assert list(model.get_current_visuals()) == ['real_A', 'fake_B', 'rec_A']
    model.set_input(tiny_batch(False))
    model.test()
    assert list(model.get_current_visuals()) == ['real_A', 'fake_B', 'rec_A', 'real_B', 'fake_A', 'rec_B']


def test_cycle_gan_takes_each_frame_of_a_triplet_on_its_own(tmp_path):
    opt = train_options(tmp_path, '--model', 'cycle_gan', '--dataset_mode', 'video')
    model = create_model(opt)
    model.setup(opt)
    model.set_input(tiny_batch(True))
    model.optimize_parameters()
    assert [len(model.real_A), len(model.fake_B), len(model.rec_A)] == [3, 3, 3]
    assert all(v == v for v in model.get_current_losses().values())
    assert 'real_A2' in model.get_current_visuals()
