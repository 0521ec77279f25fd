"""Options: the authors' flags and defaults, modern aliases, model defaults, opt.txt, devices."""
import os

import pytest
import torch

from conftest import train_options
from options.test_options import TestOptions
from options.train_options import TrainOptions
from util.errors import UserError


def parse(tmp_path, *args):
    return TrainOptions().parse(['--dataroot', 'x', '--checkpoints_dir', str(tmp_path), '--gpu_ids', '-1',
                                 *args])


def test_defaults_of_the_authors(tmp_path):
    opt = parse(tmp_path)
    expected = dict(batchSize=1, loadSize=286, fineSize=256, input_nc=3, output_nc=3, ngf=64, npf=64, ndf=64,
                    which_model_netD='basic', which_model_netG='resnet_9blocks', which_model_netP='unet_256',
                    n_layers_D=3, name='experiment_name', dataset_mode='unaligned', model='cycle_gan',
                    which_direction='AtoB', nThreads=2, checkpoints_dir=str(tmp_path), norm='instance',
                    serial_batches=False, display_winsize=256, display_id=1, display_port=8097, no_dropout=False,
                    max_dataset_size=float('inf'), resize_or_crop='resize_and_crop', no_flip=False,
                    init_type='normal', display_freq=100, display_single_pane_ncols=0, update_html_freq=1000,
                    print_freq=100, save_latest_freq=2000, save_epoch_freq=1, continue_train=False, epoch_count=1,
                    phase='train', which_epoch='latest', niter=100, niter_decay=100, beta1=0.5, lr=0.0002,
                    no_lsgan=False, lambda_A=10.0, lambda_B=10.0, pool_size=50, no_html=False, lr_policy='lambda',
                    lr_decay_iters=50, identity=0.5, adversarial_loss_p=False, isTrain=True, seed=None)
    assert {k: getattr(opt, k) for k in expected} == expected
    test = TestOptions().parse(['--dataroot', 'x', '--results_dir', str(tmp_path), '--gpu_ids', '-1'])
    assert (test.ntest, test.results_dir, test.aspect_ratio, test.phase, test.which_epoch, test.how_many,
            test.isTrain) == (float('inf'), str(tmp_path), 1.0, 'test', 'latest', 50, False)


def test_modern_spellings_are_aliases(tmp_path):
    opt = parse(tmp_path, '--batch_size', '4', '--load_size', '72', '--crop_size', '64', '--netG', 'unet_64',
                '--netD', 'pixel', '--netP', 'unet_64', '--num_threads', '0', '--direction', 'BtoA',
                '--n_epochs', '3', '--n_epochs_decay', '2', '--lambda_identity', '0.1', '--preprocess', 'crop')
    assert (opt.batchSize, opt.loadSize, opt.fineSize, opt.which_model_netG, opt.which_model_netD,
            opt.which_model_netP, opt.nThreads, opt.which_direction, opt.niter, opt.niter_decay, opt.identity,
            opt.resize_or_crop) == (4, 72, 64, 'unet_64', 'pixel', 'unet_64', 0, 'BtoA', 3, 2, 0.1, 'crop')


def test_the_authors_abbreviation_gpu(tmp_path):
    assert parse(tmp_path, '--gpu', '-1').gpu_ids == []


@pytest.mark.parametrize('model, identity, dataset_mode', [
    ('recycle_gan', 0.0, 'unaligned_triplet'), ('reCycle_gan', 0.5, 'unaligned_triplet'),
    ('cycle_gan', 0.5, 'unaligned'), ('unsup_recycle_gan', 0.0, 'unaligned'), ('unsup_single', 0.0, 'unaligned')])
def test_models_declare_their_defaults(tmp_path, model, identity, dataset_mode):
    opt = parse(tmp_path, '--model', model)
    assert (opt.identity, opt.dataset_mode) == (identity, dataset_mode)
    assert parse(tmp_path, '--model', model, '--identity', '0.25').identity == 0.25


def test_test_model_declares_model_suffix(tmp_path):
    opt = TestOptions().parse(['--dataroot', 'x', '--model', 'test', '--model_suffix', '_A',
                               '--results_dir', str(tmp_path), '--gpu_ids', '-1'])
    assert (opt.model_suffix, opt.dataset_mode) == ('_A', 'single')


def test_opt_txt_is_written_and_marks_changed_values(tmp_path):
    options = TrainOptions()
    opt = options.parse(['--dataroot', 'x', '--checkpoints_dir', str(tmp_path), '--gpu_ids', '-1', '--name', 'run',
                         '--ngf', '16'])
    assert not os.path.exists(os.path.join(tmp_path, 'run', 'opt.txt'))  # train.py writes it once the run loaded
    options.write(opt)
    text = open(os.path.join(tmp_path, 'run', 'opt.txt')).read()
    assert 'ngf: 16' in text and '[default: 64]' in text
    assert 'lambda_A: 10.0' in text
    # test.py records its own options beside its results, leaving the training record alone
    TestOptions().parse(['--dataroot', 'x', '--name', 'run', '--results_dir', str(tmp_path / 'r'),
                         '--checkpoints_dir', str(tmp_path), '--gpu_ids', '-1'])
    assert os.path.exists(tmp_path / 'r' / 'run' / 'test_latest' / 'opt.txt')
    assert open(os.path.join(tmp_path, 'run', 'opt.txt')).read() == text


def test_gpu_ids(tmp_path, capsys, monkeypatch):
    missing = torch.cuda.device_count()  # the first GPU number this machine lacks, with or without CUDA
    with pytest.raises(UserError, match=f'--gpu_ids {missing}: this machine has {missing} CUDA.*does not exist'):
        parse(tmp_path, '--gpu_ids', str(missing))
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 0)  # as on a machine without CUDA
    opt = TrainOptions().parse(['--dataroot', 'x', '--checkpoints_dir', str(tmp_path)])
    assert opt.gpu_ids == []
    warnings = [line for line in capsys.readouterr().err.splitlines() if 'CPU' in line]
    assert len(warnings) == 1
    with pytest.raises(UserError, match='--gpu_ids'):
        parse(tmp_path, '--gpu_ids', 'first')


def test_bad_values_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="--model 'pix2pix' is not one of: cycle_gan, reCycle_gan, recycle_gan, test"):
        parse(tmp_path, '--model', 'pix2pix')
    with pytest.raises(UserError, match='--dataset_mode'):
        parse(tmp_path, '--dataset_mode', 'aligned')
    with pytest.raises(UserError, match='--fineSize 300 is larger than --loadSize 286'):
        parse(tmp_path, '--fineSize', '300')
    with pytest.raises(UserError, match='--model test only translates'):
        parse(tmp_path, '--model', 'test')


def test_fine_size_a_network_cannot_take_fails_before_building(tmp_path):
    from models import create_model
    opt = train_options(tmp_path, '--model', 'recycle_gan', '--which_model_netP', 'unet_64')
    with pytest.raises(UserError, match='--fineSize 32 does not fit --which_model_netP unet_64.*multiples of 64'):
        create_model(opt)
    opt = train_options(tmp_path, '--model', 'cycle_gan', '--fineSize', '30', '--loadSize', '30')
    with pytest.raises(UserError, match='--fineSize 30 does not fit --which_model_netG resnet_6blocks'):
        create_model(opt)
