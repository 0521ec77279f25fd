"""The encoder of the content loss: the "normalised VGG-19" of AdaIN style transfer (Huang and Belongie,
ICCV 2017), as the Unsupervised Recycle-GAN reference code builds it, so that the `vgg_normalised.pth` a
user gives (--vgg_path) loads with its keys (`0.weight`, `0.bias`, `2.weight`, ...). Its weights are
never downloaded and never trained."""
import torch.nn.functional as F
from torch import nn

from util import checks
from util.errors import UserError

# VGG-19's 3x3 convolutions by output channels, M = 2x2 max pooling
LAYERS = (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512)


def normalised_vgg19():
    """53 layers: a 1x1 conv 3 -> 3, then per VGG conv a 1-pixel reflection pad, the conv and a ReLU, and
    max pools (ceil_mode, as the original Lua model). The reference runs all of them, through relu5_4."""
    layers, channels = [nn.Conv2d(3, 3, 1)], 3
    for width in LAYERS:
        if width == 'M':
            layers.append(nn.MaxPool2d(2, 2, 0, ceil_mode=True))
        else:
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, width, 3), nn.ReLU()]
            channels = width
    return nn.Sequential(*layers)


def check_path(path, flag):
    """A UserError unless `path` (--vgg_path) is a readable file; `flag` names the option that needs it."""
    if not path:
        raise UserError(f'{flag} > 0 needs the VGG encoder\'s weights: pass --vgg_path vgg_normalised.pth (AdaIN\'s '
                        f'normalised VGG-19); nothing is downloaded')
    checks.readable_file('--vgg_path', path)


def load_encoder(path):
    """The encoder with the weights in `path` (checked by check_path), frozen, in eval mode."""
    from .base_model import load_state_dict_file  # base_model imports networks, which need not import this
    encoder = normalised_vgg19()
    load_state_dict_file(encoder, path)
    encoder.requires_grad_(False)
    return encoder.eval()


def normalised(features):
    """The reference's InstanceNorm2d(512, affine=False) of the encoder's features."""
    return F.instance_norm(features)
