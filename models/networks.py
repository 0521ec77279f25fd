"""Networks of Recycle-GAN: generators, temporal predictors, PatchGAN discriminators, the GAN loss,
weight initialisation and learning-rate schedules.

Module structure and attribute names are those of the authors' code, so that their checkpoints
load with strict key matching (tests/test_networks.py checks every key and shape).
"""
import functools
import math
import os

import torch
from torch import nn
from torch.nn import init
from torch.optim import lr_scheduler

from util.errors import UserError

GENERATORS = ('resnet_9blocks', 'resnet_6blocks', 'unet_32', 'unet_64', 'unet_128', 'unet_256')
PREDICTORS = ('unet_32', 'unet_64', 'unet_128', 'unet_256', 'prediction', 'resnet_9blocks', 'resnet_6blocks')
DISCRIMINATORS = ('basic', 'n_layers', 'pixel')
NORMS = ('instance', 'batch', 'none')
INIT_TYPES = ('normal', 'xavier', 'kaiming', 'orthogonal')
LR_POLICIES = ('lambda', 'step', 'plateau')
PREDICTION_DOWNSAMPLINGS = 6  # the U-Net inside the `prediction` predictor


def check_choice(flag, value, choices):
    if value not in choices:
        raise UserError(f'{flag} {value!r} is not one of: {", ".join(choices)}')


def get_norm_layer(norm_type='instance'):
    """Return a factory num_features -> norm module."""
    check_choice('--norm', norm_type, NORMS)
    if norm_type == 'batch':
        return functools.partial(nn.BatchNorm2d, affine=True)
    if norm_type == 'instance':
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    # an Identity keeps the layer indices, hence the state_dict keys, of the normalised networks
    return lambda num_features: nn.Identity()


def uses_bias(norm_layer):
    """Convolutions carry a bias unless a BatchNorm (which has its own shift) follows them."""
    return getattr(norm_layer, 'func', norm_layer) is not nn.BatchNorm2d


def frames_batchable(norm_layer):
    """Running a network once on several frames equals running it on each only without BatchNorm,
    whose batch statistics (and running averages) would mix the frames."""
    return uses_bias(norm_layer)


def unet_downsamplings(which_model):
    """unet_N has log2(N) downsamplings: an input side must be a multiple of N."""
    return int(math.log2(int(which_model.split('_')[1])))


def required_multiple(which_model):
    """The side length every input of this network must be a multiple of."""
    if which_model.startswith('unet_'):
        return 2 ** unet_downsamplings(which_model)
    if which_model == 'prediction':
        return 2 ** PREDICTION_DOWNSAMPLINGS
    return 4  # the ResNet generators' two stride-2 convolutions


##############################################################################
# Generators
##############################################################################

class ResnetBlock(nn.Module):
    """x + conv3x3(norm, ReLU, [dropout], conv3x3, norm)(x), reflection-padded."""

    def __init__(self, dim, norm_layer, use_dropout, use_bias):
        super().__init__()
        block = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            block.append(nn.Dropout(0.5))
        block += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm_layer(dim)]
        self.conv_block = nn.Sequential(*block)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Johnson et al.'s transformer: c7 -> two stride-2 downsamplings -> n_blocks residual blocks at
    4*ngf -> two upsamplings -> c7 -> tanh. (N, input_nc, H, W) -> (N, output_nc, H, W), H, W % 4 == 0."""

    def __init__(self, input_nc, output_nc, ngf=64, norm_layer=nn.BatchNorm2d, use_dropout=False, n_blocks=6):
        super().__init__()
        bias = uses_bias(norm_layer)
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias), norm_layer(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias),
                       norm_layer(ngf * mult * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm_layer, use_dropout, bias) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=bias),
                       norm_layer(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: x -> cat(x, up(submodule(down(x)))); the outermost level returns only the up path."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
                 norm_layer=nn.BatchNorm2d, use_dropout=False):
        super().__init__()
        self.outermost = outermost
        bias = uses_bias(norm_layer)
        downconv = nn.Conv2d(outer_nc if input_nc is None else input_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        # In place, as in the authors' code: the skip connection in forward() therefore carries
        # LeakyReLU(x), not x. Changing this changes every number the U-Nets produce.
        downrelu = nn.LeakyReLU(0.2, True)
        uprelu = nn.ReLU(True)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1)
            layers = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=bias)
            layers = [downrelu, downconv, uprelu, upconv, norm_layer(outer_nc)]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias=bias)
            layers = [downrelu, downconv, norm_layer(inner_nc), submodule, uprelu, upconv, norm_layer(outer_nc)]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net with num_downs stride-2 levels, widths ngf, 2ngf, 4ngf, then 8ngf.
    (N, input_nc, H, W) -> (N, output_nc, H, W), with H and W multiples of 2**num_downs."""

    def __init__(self, input_nc, output_nc, num_downs, ngf=64, norm_layer=nn.BatchNorm2d, use_dropout=False):
        super().__init__()
        if num_downs < 5:
            raise UserError(f'a U-Net needs at least 5 downsamplings (unet_32), not {num_downs}')
        self.num_downs = num_downs
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, norm_layer=norm_layer)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm_layer=norm_layer,
                                            use_dropout=use_dropout)
        for mult in (4, 2, 1):
            block = UnetSkipConnectionBlock(ngf * mult, ngf * mult * 2, submodule=block, norm_layer=norm_layer)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True,
                                             norm_layer=norm_layer)

    def forward(self, x):
        side = 2 ** self.num_downs
        if x.shape[-2] % side or x.shape[-1] % side:
            raise UserError(f'a U-Net with {self.num_downs} downsamplings takes image sides that are multiples '
                            f'of {side}, not {x.shape[-2]}x{x.shape[-1]}: change --fineSize (or the image size)')
        return self.model(x)


##############################################################################
# Temporal predictors: P(x_{t-2}, x_{t-1}) -> x_t
##############################################################################

class _FramesOnChannels:
    """Makes an image-to-image network a predictor: the two past frames go in concatenated on channels."""

    def forward(self, frame0, frame1):
        return super().forward(torch.cat([frame0, frame1], 1))


class UnetPredictor(_FramesOnChannels, UnetGenerator):
    pass


class ResnetPredictor(_FramesOnChannels, ResnetGenerator):
    pass


class PredictionNet(nn.Module):
    """The higher-capacity `prediction` predictor: a shared encoder applied to each past frame, a
    6-level U-Net of base width 16*npf over both feature maps, then a decoder."""

    def __init__(self, input_nc, output_nc, npf=64, norm_layer=nn.BatchNorm2d, use_dropout=False):
        super().__init__()
        bias = uses_bias(norm_layer)
        self.batch_frames = frames_batchable(norm_layer)
        encoder = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, npf, 7, bias=bias), norm_layer(npf), nn.ReLU(True),
                   nn.Conv2d(npf, npf * 2, 3, padding=1, bias=bias), norm_layer(npf * 2), nn.ReLU(True),
                   nn.Conv2d(npf * 2, npf * 4, 3, padding=1, bias=bias), norm_layer(npf * 4), nn.ReLU(True)]
        unet = UnetGenerator(npf * 8, npf * 4, PREDICTION_DOWNSAMPLINGS, npf * 16, norm_layer, use_dropout)
        decoder = [nn.Conv2d(npf * 4, npf * 2, 3, padding=1, bias=bias), norm_layer(npf * 2), nn.ReLU(True),
                   nn.Conv2d(npf * 2, npf, 3, padding=1, bias=bias), norm_layer(npf), nn.ReLU(True),
                   nn.ReflectionPad2d(3), nn.Conv2d(npf, output_nc, 7), nn.Tanh()]
        # the authors' attribute names, registered in their order (state_dict keys: model., model1., model3.)
        self.model = unet
        self.model1 = nn.Sequential(*encoder)
        self.model3 = nn.Sequential(*decoder)

    def forward(self, frame0, frame1):
        if self.batch_frames:
            features = torch.cat(self.model1(torch.cat([frame0, frame1])).chunk(2), 1)
        else:
            features = torch.cat([self.model1(frame0), self.model1(frame1)], 1)
        return self.model3(self.model(features))


##############################################################################
# Discriminators: (N, input_nc, H, W) -> (N, 1, H', W') scores (logits for the vanilla GAN loss)
##############################################################################

class NLayerDiscriminator(nn.Module):
    """PatchGAN with n_layers stride-2 convolutions (70x70 receptive field for n_layers=3)."""

    def __init__(self, input_nc, ndf=64, n_layers=3, norm_layer=nn.BatchNorm2d):
        super().__init__()
        bias = uses_bias(norm_layer)
        layers = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=bias),
                       norm_layer(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN: judges every pixel on its own."""

    def __init__(self, input_nc, ndf=64, norm_layer=nn.BatchNorm2d):
        super().__init__()
        bias = uses_bias(norm_layer)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, bias=bias), norm_layer(ndf * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1, bias=bias))

    def forward(self, x):
        return self.net(x)


##############################################################################
# Construction
##############################################################################

def init_weights(net, init_type='normal'):
    """The authors' initialisation: conv/linear weights by init_type (biases keep PyTorch's default),
    BatchNorm weights N(1, 0.02) and biases 0."""
    check_choice('--init_type', init_type, INIT_TYPES)

    def init_module(m):
        name = type(m).__name__
        if 'Conv' in name or 'Linear' in name:
            if init_type == 'normal':
                init.normal_(m.weight, 0.0, 0.02)
            elif init_type == 'xavier':
                init.xavier_normal_(m.weight, gain=0.02)
            elif init_type == 'kaiming':
                init.kaiming_normal_(m.weight, a=0, mode='fan_in')
            else:
                init.orthogonal_(m.weight, gain=1)
        elif 'BatchNorm2d' in name:
            init.normal_(m.weight, 1.0, 0.02)
            init.constant_(m.bias, 0.0)

    net.apply(init_module)
    return net


def count_parameters(net):
    return sum(p.numel() for p in net.parameters())


def device_memory_bytes(device):
    """Total memory of the device the networks will live on."""
    device = torch.device(device)
    if device.type == 'cuda':
        return torch.cuda.get_device_properties(device).total_memory
    return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')


def _build(flag, which, make, init_type, max_params):
    """Build a network (measured first on the meta device, which allocates nothing) and initialise it."""
    if max_params is not None:
        with torch.device('meta'):
            n = count_parameters(make())
        if n > max_params:
            raise UserError(f'{flag} {which} has {n:,} parameters, more than this device can hold; use a smaller '
                            f'width (the authors train `prediction` with --npf 8) or a unet_* predictor')
    return init_weights(make(), init_type)


def define_G(input_nc, output_nc, ngf, which_model_netG, norm='instance', use_dropout=False, init_type='normal',
             max_params=None):
    check_choice('--which_model_netG', which_model_netG, GENERATORS)
    norm_layer = get_norm_layer(norm)
    if which_model_netG.startswith('resnet_'):
        n_blocks = int(which_model_netG[len('resnet_'):-len('blocks')])
        make = functools.partial(ResnetGenerator, input_nc, output_nc, ngf, norm_layer, use_dropout, n_blocks)
    else:
        make = functools.partial(UnetGenerator, input_nc, output_nc, unet_downsamplings(which_model_netG), ngf,
                                 norm_layer, use_dropout)
    return _build('--which_model_netG', which_model_netG, make, init_type, max_params)


def define_P(nc, ngf, npf, which_model_netP, norm='instance', use_dropout=False, init_type='normal',
             max_params=None):
    """Predictor of frame t from frames t-2, t-1 of one domain with nc channels; called as P(x0, x1)."""
    check_choice('--which_model_netP', which_model_netP, PREDICTORS)
    norm_layer = get_norm_layer(norm)
    if which_model_netP == 'prediction':
        make = functools.partial(PredictionNet, nc, nc, npf, norm_layer, use_dropout)
    elif which_model_netP.startswith('resnet_'):
        n_blocks = int(which_model_netP[len('resnet_'):-len('blocks')])
        make = functools.partial(ResnetPredictor, 2 * nc, nc, ngf, norm_layer, use_dropout, n_blocks)
    else:
        make = functools.partial(UnetPredictor, 2 * nc, nc, unet_downsamplings(which_model_netP), ngf, norm_layer,
                                 use_dropout)
    return _build('--which_model_netP', which_model_netP, make, init_type, max_params)


def define_D(input_nc, ndf, which_model_netD, n_layers_D=3, norm='instance', init_type='normal', max_params=None):
    check_choice('--which_model_netD', which_model_netD, DISCRIMINATORS)
    norm_layer = get_norm_layer(norm)
    if which_model_netD == 'pixel':
        make = functools.partial(PixelDiscriminator, input_nc, ndf, norm_layer)
    else:
        n_layers = 3 if which_model_netD == 'basic' else n_layers_D
        make = functools.partial(NLayerDiscriminator, input_nc, ndf, n_layers, norm_layer)
    return _build('--which_model_netD', which_model_netD, make, init_type, max_params)


##############################################################################
# Loss and schedules
##############################################################################

class GANLoss(nn.Module):
    """GAN criterion against a target of 1 (real) or 0 (fake): least squares by default (LSGAN);
    with use_lsgan=False, binary cross entropy on logits (the sigmoid + BCE of the authors' code)."""

    def __init__(self, use_lsgan=True, target_real_label=1.0, target_fake_label=0.0):
        super().__init__()
        self.register_buffer('real_label', torch.tensor(target_real_label))
        self.register_buffer('fake_label', torch.tensor(target_fake_label))
        self.loss = nn.MSELoss() if use_lsgan else nn.BCEWithLogitsLoss()

    def forward(self, prediction, target_is_real):
        target = self.real_label if target_is_real else self.fake_label
        return self.loss(prediction, target.to(prediction.dtype).expand_as(prediction))


def get_scheduler(optimizer, opt):
    """lambda: constant for the first epochs, then linear decay to 0 (the authors' rule, stepped once
    per epoch); step: x0.1 every lr_decay_iters epochs; plateau: x0.2 when the metric stalls."""
    check_choice('--lr_policy', opt.lr_policy, LR_POLICIES)
    if opt.lr_policy == 'lambda':
        def lambda_rule(epoch):
            # the authors' rule: the last epoch (niter + niter_decay) runs at lr 0; past it, 0 (not negative)
            return max(0.0, 1.0 - max(0, epoch + 1 + opt.epoch_count - opt.niter) / float(opt.niter_decay + 1))
        return lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda_rule)
    if opt.lr_policy == 'step':
        return lr_scheduler.StepLR(optimizer, step_size=opt.lr_decay_iters, gamma=0.1)
    return lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.2, threshold=0.01, patience=5)
