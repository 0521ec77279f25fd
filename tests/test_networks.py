"""The networks: the authors' state_dict layout, parameter counts, size checks, init, GAN loss."""
import glob
import os
import time

import pytest
import torch

from conftest import REFERENCE
from numerics import assert_close
from models import networks
from util.errors import UserError


def build(config, **kw):
    """A network from a reference listing's name, e.g. G_resnet_6blocks_ngf64_batch_dropout."""
    parts = config.split('_')
    norm = 'batch' if 'batch' in parts else 'instance'
    if parts[0] == 'G':
        return networks.define_G(3, 3, 64, '_'.join(parts[1:3]), norm, 'dropout' in parts, **kw)
    if parts[0] == 'P':
        if parts[1] == 'prediction':
            return networks.define_P(3, 64, int(parts[2][3:]), 'prediction', norm, **kw)
        return networks.define_P(3, int(parts[4][3:]), 64, '_'.join(parts[1:3]), norm, **kw)
    if parts[1] == 'n':  # D_n_layers5_...
        return networks.define_D(3, 64, 'n_layers', int(parts[2][-1]), norm, **kw)
    return networks.define_D(3, 64, parts[1], 3, norm, **kw)


LISTINGS = sorted(glob.glob(os.path.join(REFERENCE, 'state_dicts', '*.txt')))


def test_the_twelve_reference_listings_are_all_here():
    assert len(LISTINGS) == 12


@pytest.mark.parametrize('path', LISTINGS, ids=lambda p: os.path.basename(p)[:-4])
def test_state_dict_matches_the_authors(path):
    expected = open(path).read().strip().splitlines()
    with torch.device('meta'):  # same keys and shapes, no memory
        net = build(os.path.basename(path)[:-4])
    got = [f'# parameters: {networks.count_parameters(net)}']
    got += [f'{k} {tuple(v.shape)}' for k, v in net.state_dict().items()]
    assert got == expected


# the normalised VGG-19 of AdaIN (tests/reference/README.md): a 1x1 conv, then VGG-19's convs, each after a pad
VGG_CONVS = [(0, 3, 3, 1)] + [(i, o, c, 3) for i, o, c in zip(
    (2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51),
    (64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512),
    (3, 64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512))]


def test_content_encoder_state_dict_is_the_reference_vgg():
    """So that the vgg_normalised.pth the reference code loads loads here (--vgg_path)."""
    from models.vgg import normalised_vgg19
    with torch.device('meta'):
        net = normalised_vgg19()
    assert len(net) == 53 and networks.count_parameters(net) == 20_024_396
    expected = [(f'{i}.{kind}', (o, c, k, k) if kind == 'weight' else (o,)) for i, o, c, k in VGG_CONVS
                for kind in ('weight', 'bias')]
    assert [(k, tuple(v.shape)) for k, v in net.state_dict().items()] == expected


def test_unsup_recycle_gan_checkpoints_have_the_reference_keys(tmp_path):
    """Its four networks' state_dicts are those of the reference's `unsup_single` (its recorded initial
    weights), key for key and shape for shape: checkpoints load there and back with strict=True."""
    from conftest import train_options
    from models import create_model
    golden = torch.load(os.path.join(REFERENCE, 'golden', 'unsup_recycle.pt'), weights_only=True)['init']
    opt = train_options(tmp_path, '--model', 'unsup_recycle_gan', '--which_model_netG', 'resnet_6blocks',
                        '--ngf', '8', '--ndf', '8', '--no_dropout', tiny=False)
    model = create_model(opt)
    assert model.model_names == list(golden)
    for name, state in golden.items():
        mine = model.network(name).state_dict()
        assert [(k, v.shape) for k, v in mine.items()] == [(k, v.shape) for k, v in state.items()], name
        model.network(name).load_state_dict(state, strict=True)


@pytest.mark.parametrize('make, count', [
    (lambda: networks.define_G(3, 3, 64, 'resnet_9blocks', 'instance'), 11_378_179),
    (lambda: networks.define_G(3, 3, 64, 'resnet_9blocks', 'batch'), 11_383_427),
    (lambda: networks.define_G(3, 3, 64, 'resnet_6blocks', 'instance'), 7_837_699),
    (lambda: networks.define_G(3, 3, 64, 'resnet_6blocks', 'batch'), 7_841_411),
    (lambda: networks.define_G(3, 3, 64, 'unet_128', 'instance'), 41_825_667),
    (lambda: networks.define_G(3, 3, 64, 'unet_256', 'instance'), 54_409_603),
    (lambda: networks.define_P(3, 64, 64, 'unet_256', 'instance'), 54_412_675),
    (lambda: networks.define_P(3, 64, 64, 'unet_128', 'instance'), 41_828_739),
    (lambda: networks.define_P(3, 64, 8, 'prediction', 'instance'), 117_199_267),
    (lambda: networks.define_P(3, 64, 64, 'prediction', 'instance'), 7_500_227_843),
    (lambda: networks.define_D(3, 64, 'basic', 3, 'instance'), 2_764_737),
    (lambda: networks.define_D(3, 64, 'basic', 3, 'batch'), 2_765_633),
    (lambda: networks.define_D(3, 64, 'n_layers', 5, 'instance'), 11_154_369),
    (lambda: networks.define_D(3, 64, 'pixel', 3, 'instance'), 8_705),
])
def test_parameter_counts_of_the_spec(make, count):
    with torch.device('meta'):
        assert networks.count_parameters(make()) == count


def test_norm_none_keeps_the_instance_layout_with_biases():
    with torch.device('meta'):
        none = networks.define_G(3, 3, 8, 'unet_32', 'none').state_dict()
        inst = networks.define_G(3, 3, 8, 'unet_32', 'instance').state_dict()
    assert [(k, v.shape) for k, v in none.items()] == [(k, v.shape) for k, v in inst.items()]


@pytest.mark.parametrize('which, downs', [('unet_32', 5), ('unet_64', 6), ('unet_128', 7), ('unet_256', 8)])
def test_unet_n_has_log2_n_levels_and_keeps_the_image_size(which, downs):
    net = networks.define_G(3, 2, 4, which, 'instance')
    assert net.num_downs == downs
    side = 2 ** downs
    assert net(torch.zeros(1, 3, side, side)).shape == (1, 2, side, side)


def test_unet_rejects_a_side_it_cannot_take():
    net = networks.define_G(3, 3, 4, 'unet_32', 'instance')
    with pytest.raises(UserError, match='multiples of 32'):
        net(torch.zeros(1, 3, 48, 48))


def test_full_prediction_predictor_is_refused_before_allocation():
    start = time.perf_counter()
    with pytest.raises(UserError, match=r'7,500,227,843 parameters.*--npf 8'):
        # a budget of 1 GB of fp32 weights; 7.5 billion parameters would need 30 GB
        networks.define_P(3, 64, 64, 'prediction', 'instance', max_params=250_000_000)
    assert time.perf_counter() - start < 5


def test_predictors_map_two_frames_to_one():
    x0, x1 = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    for which in ('unet_64', 'prediction', 'resnet_6blocks'):
        net = networks.define_P(3, 4, 2, which, 'instance')
        assert net(x0, x1).shape == (2, 3, 64, 64)
    # a U-Net predictor is the U-Net on the frames concatenated on channels
    unet = networks.define_P(3, 4, 2, 'unet_64', 'instance')
    assert torch.equal(unet(x0, x1), unet.model(torch.cat([x0, x1], 1)))


def test_prediction_predictor_matches_the_authors_forward_pass():
    """The authors' `prediction` predictor (npf 1, 64 px), its weights and one eval-mode forward pass: same
    keys, and the same output from the same frames in the same order (swapping them moves it by > 1e-2)."""
    golden = torch.load(os.path.join(REFERENCE, 'golden', 'prediction_forward.pt'), weights_only=True)
    case = golden['npf1_instance']
    cfg = case['cfg']
    net = networks.define_P(cfg['input_nc'], 64, cfg['npf'], cfg['which_model_netP'], cfg['norm'])
    net.load_state_dict(case['state_dict'], strict=True)
    net.eval()
    for batched in (True, False):  # one encoder call on both frames (instance norm), or one per frame
        net.batch_frames = batched
        with torch.no_grad():
            output = net(case['frame0'], case['frame1'])
        # float32 through 16 layers of outputs in [-1, 1]: rounding stays orders of magnitude below 1e-5
        assert_close('prediction forward', 'output', output, case['output'], rtol=0, atol=1e-5)


def test_prediction_encoder_batching_matches_per_frame():
    torch.manual_seed(0)
    net = networks.define_P(3, 4, 2, 'prediction', 'instance')
    x0, x1 = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        batched = net(x0, x1)
        net.batch_frames = False
        per_frame = net(x0, x1)
    # a batch of two may take another float32 summation order than two batches of one (1.2e-6 measured under
    # ATEN_CPU_CAPABILITY=default); outputs are in [-1, 1], so the forward test's 1e-5 bound applies, while
    # swapped frames or statistics shared across the two frames move outputs by orders of magnitude more
    torch.testing.assert_close(batched, per_frame, rtol=0, atol=1e-5)


def test_unet_skip_carries_leaky_relu_of_the_input():
    """The authors' in-place LeakyReLU changes what the skip connection carries; keep it."""
    block = networks.define_G(3, 3, 4, 'unet_32', 'instance').model.model[1]  # the level below the outermost
    x = torch.randn(1, 4, 16, 16)
    out = block(x.clone())
    torch.testing.assert_close(out[:, :4], torch.nn.functional.leaky_relu(x, 0.2))


def test_discriminators_give_patch_score_maps_of_the_expected_size():
    x = torch.randn(2, 3, 64, 64)
    assert networks.define_D(3, 8, 'basic')(x).shape == (2, 1, 6, 6)
    assert networks.define_D(3, 8, 'n_layers', 2)(x).shape == (2, 1, 14, 14)
    assert networks.define_D(3, 8, 'pixel')(x).shape == (2, 1, 64, 64)


@pytest.mark.parametrize('init_type', networks.INIT_TYPES)
def test_init_types_give_the_authors_weight_statistics(init_type):
    torch.manual_seed(0)
    net = networks.define_G(3, 3, 16, 'resnet_6blocks', 'batch', init_type=init_type)
    conv = net.model[4].weight  # 32 x 16 x 3 x 3
    bn = net.model[5]
    fan_in = conv[0].numel()
    expected_std = {'normal': 0.02, 'xavier': 0.02 * (2 / (fan_in + conv.shape[0] * 9)) ** 0.5,
                    'kaiming': (2 / fan_in) ** 0.5}
    if init_type == 'orthogonal':
        flat = conv.reshape(conv.shape[0], -1)
        torch.testing.assert_close(flat @ flat.T, torch.eye(conv.shape[0]), atol=1e-4, rtol=0)
    else:
        assert conv.std().item() == pytest.approx(expected_std[init_type], rel=0.15)
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.01)
    assert torch.all(bn.bias == 0)


def test_unknown_names_are_one_line_errors():
    for call, flag in [(lambda: networks.define_G(3, 3, 8, 'resnet_7blocks'), '--which_model_netG'),
                       (lambda: networks.define_P(3, 8, 8, 'lstm'), '--which_model_netP'),
                       (lambda: networks.define_D(3, 8, 'huge'), '--which_model_netD'),
                       (lambda: networks.get_norm_layer('group'), '--norm'),
                       (lambda: networks.define_G(3, 3, 8, 'unet_32', init_type='zeros'), '--init_type')]:
        with pytest.raises(UserError, match=flag) as err:
            call()
        assert '\n' not in str(err.value)


def test_gan_loss_is_least_squares_or_the_authors_sigmoid_bce():
    pred = torch.tensor([[0.2, -1.0], [3.0, 0.5]])
    lsgan = networks.GANLoss(use_lsgan=True)
    assert lsgan(pred, True).item() == pytest.approx(((pred - 1) ** 2).mean().item())
    assert lsgan(pred, False).item() == pytest.approx((pred ** 2).mean().item())
    vanilla = networks.GANLoss(use_lsgan=False)
    # the authors' sigmoid + BCE, computed here on logits
    bce = torch.nn.BCELoss()
    assert vanilla(pred, True).item() == pytest.approx(bce(torch.sigmoid(pred), torch.ones_like(pred)).item())
    assert vanilla(pred, False).item() == pytest.approx(bce(torch.sigmoid(pred), torch.zeros_like(pred)).item())
