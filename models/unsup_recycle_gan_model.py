"""Unsupervised Recycle-GAN (Wang, Akash, Misu; "Learning Temporally and Semantically Consistent Unpaired
Video-to-video Translation Through Pseudo-Supervision From Synthetic Optical Flow", AAAI 2022). No temporal
predictor: frames are warped by a random synthetic optical flow (models/synthetic_flow.py), and the
generators must commute with the warp. Loss names, flags and defaults are the reference code's
(its model `unsup_single`, an alias here)."""
import sys

import torch.nn.functional as F

from util import checks, distributed
from util.errors import UserError
from . import synthetic_flow, vgg
from .cycle_gan_model import CycleGANModel
from .recycle_gan_model import HALVES

MAX_SHIFT = 10 ** 6  # pixels: far beyond any frame, and an integer torch.randint can draw
SYNTHETIC = ('UnCyc_A', 'UnCyc_B', 'Unsup_A', 'Unsup_B')  # terms that draw a flow and noise, in the reference's order


class UnsupRecycleGANModel(CycleGANModel):
    """CycleGAN on single frames (G_A, G_B, D_A, D_B, the same step) plus, per direction X -> Y with
    G = G_X, F = G_Y, a synthetic flow w and noise n (each term draws its own), W the warp:
      unsupervised recycle  UnCyc_X = lambda_unsup_cycle_X * |F(W(G(x), w) + n) - W(x, w)|
      unsupervised spatial  Unsup_X = lambda_spa_unsup_X * |G(W(x, w) + n) - W(G(x), w)|
      content               Cont_X = lambda_content_X * MSE(IN(VGG(G(x))), IN(VGG(x)))
    and CycleGAN's adversarial G_X, cycle Cyc_X (weight lambda_cycle_X) and identity Idt_X. Nothing is
    detached. Every term is reported, 0 when its weight is 0, as by the reference. A triplet gives its
    middle frame (the reference reads A1 and B1)."""
    name = 'unsup_recycle_gan'
    aliases = ('unsup_single',)
    domain_losses = ('G', 'Cyc', 'UnCyc', 'Unsup', 'Cont', 'Idt')
    identity_losses = ('Idt_A', 'Idt_B')

    @staticmethod
    def modify_commandline_options(parser, is_train):
        if not is_train:
            return parser
        # identity 0: the reference's video-to-label settings (tests/reference/README.md)
        parser.set_defaults(identity=0.0)
        add = parser.add_argument
        for d in 'AB':
            add(f'--lambda_cycle_{d}', dest=f'lambda_{d}', type=float, default=10.0,
                help=f'weight of the cycle loss Cyc_{d} (the same option as --lambda_{d})')
            add(f'--lambda_unsup_cycle_{d}', type=float, default=10.0,
                help=f'weight of the unsupervised recycle loss UnCyc_{d}')
            add(f'--lambda_spa_unsup_{d}', type=float, default=10.0,
                help=f'weight of the unsupervised spatial loss Unsup_{d}')
            add(f'--lambda_content_{d}', type=float, default=0.0,
                help=f'weight of the VGG content loss Cont_{d} (needs --vgg_path)')
        add('--noise_level', type=float, default=0.001,
            help='std of the noise added to warped images is drawn in [noise_level, 2 x noise_level)')
        add('--motion_level', type=float, default=8.0, help='std in pixels of the random motion of the synthetic flow')
        add('--shift_level', type=float, default=10.0,
            help='the synthetic flow adds an integer shift per axis uniform on -shift_level..shift_level')
        add('--scale_level', type=float, default=0.0, help='random zoom of the synthetic flow: only 0 is supported')
        add('--vgg_path', default='',
            help='weights of the content loss\'s encoder (vgg_normalised.pth of AdaIN); never downloaded')
        return parser

    @staticmethod
    def check_options(opt):
        if not opt.isTrain:
            return
        for flag in [f'--lambda_{kind}{d}' for kind in ('unsup_cycle_', 'spa_unsup_', 'content_') for d in 'AB']:
            checks.number(flag, getattr(opt, flag[2:]), 0)
        checks.number('--noise_level', opt.noise_level, 0)
        checks.number('--motion_level', opt.motion_level, 0)
        checks.number('--shift_level', opt.shift_level, 0, MAX_SHIFT)
        if opt.scale_level != 0:
            raise UserError(f'--scale_level {opt.scale_level}: only 0 is supported (the reference code\'s default; its '
                            f'scale branch is unused there and fails above 600 px)')
        content = [d for d in 'AB' if getattr(opt, 'lambda_content_' + d) > 0]
        if content and (opt.input_nc, opt.output_nc) != (3, 3):
            raise UserError(f'--lambda_content_{content[0]} > 0 compares VGG features of colour images: it needs '
                            f'--input_nc 3 and --output_nc 3')
        if content:
            vgg.check_path(opt.vgg_path, f'--lambda_content_{content[0]}')
        elif opt.vgg_path and distributed.is_main():  # an error would break ablations that turn the loss off
            print(f'warning: --vgg_path {opt.vgg_path} is not used: the content loss is off (--lambda_content_A and '
                  f'--lambda_content_B are 0)', file=sys.stderr)

    def __init__(self, opt):
        super().__init__(opt)
        self.loss_names = [f'{n}_{d}' for d in 'AB' for n in ('D',) + self.domain_losses]
        self.synthetic = {}  # term -> (flow, noise) of the current step
        content = [d for d in 'AB' if self.isTrain and self.weight('Cont_' + d) > 0]
        if content:
            self.encoder = self.place(vgg.load_encoder(opt.vgg_path))

    def weight(self, term):
        """The weight of a loss term, e.g. 'UnCyc_A' -> --lambda_unsup_cycle_A."""
        kind, domain = term.split('_')
        flag = {'Cyc': 'lambda_', 'UnCyc': 'lambda_unsup_cycle_', 'Unsup': 'lambda_spa_unsup_',
                'Cont': 'lambda_content_'}[kind]
        return getattr(self.opt, flag + domain)

    def frames(self, input, domain):
        """[x]: the single frame, or a triplet's middle one; [] when input lacks the domain."""
        keys = [k for k in (domain, f'{domain}1') if k in input]
        return [self.to_device(input[k]) for k in keys[:1]]

    # -- synthetic data -----------------------------------------------------------------------
    def draw(self, term):
        """(flow, noise) for one term: a flow (2, H, W) for the whole batch and noise shaped as the image the
        term warps (x for Unsup_X, G_X(x) for UnCyc_X)."""
        X, Y = next(half for half in HALVES if half[0] == term[-1])
        n, _, height, width = getattr(self, 'real_' + X)[0].shape
        warped_domain = Y if term.startswith('UnCyc') else X
        channels = getattr(self, 'real_' + warped_domain)[0].shape[1]
        flow = synthetic_flow.random_flow(height, width, self.opt.motion_level, self.opt.shift_level, self.device)
        return flow, synthetic_flow.random_noise((n, channels, height, width), self.opt.noise_level, self.device)

    def perturbed(self, term, image):
        """W(image, w) + n and the flow w of the term's draw."""
        flow, noise = self.synthetic[term]
        return synthetic_flow.warp(image, flow) + noise, flow

    # -- losses -------------------------------------------------------------------------------
    def unsupervised_losses(self, X, Y):
        """UnCyc_X, Unsup_X and Cont_X of the X -> Y direction, those whose weight is above 0."""
        G, F_ = getattr(self, 'netG_' + X), getattr(self, 'netG_' + Y)
        x, fake = getattr(self, 'real_' + X)[0], getattr(self, 'fake_' + Y)[0]
        losses = {}
        if f'UnCyc_{X}' in self.synthetic:  # F(W(G(x)) + n) = W(x)
            warped, flow = self.perturbed(f'UnCyc_{X}', fake)
            losses[f'UnCyc_{X}'] = self.weight(f'UnCyc_{X}') * F.l1_loss(F_(warped), synthetic_flow.warp(x, flow))
        if f'Unsup_{X}' in self.synthetic:  # G(W(x) + n) = W(G(x))
            warped, flow = self.perturbed(f'Unsup_{X}', x)
            losses[f'Unsup_{X}'] = self.weight(f'Unsup_{X}') * F.l1_loss(G(warped), synthetic_flow.warp(fake, flow))
        if self.weight(f'Cont_{X}') > 0:  # IN(VGG(G(x))) = IN(VGG(x))
            # the images go in as they are, in [-1, 1], as in the reference
            translated, source = map(vgg.normalised, self.run(self.encoder, fake, x))
            losses[f'Cont_{X}'] = self.weight(f'Cont_{X}') * F.mse_loss(translated, source)
        return losses

    def compute_G_losses(self):
        super().compute_G_losses()  # G_X, Cyc_X, Idt_X (identity > 0)
        zero = self.real_A[0].new_zeros(())  # the terms turned off
        for X, Y in HALVES:
            losses = self.unsupervised_losses(X, Y)
            for kind in ('UnCyc', 'Unsup', 'Cont') + (() if self.use_identity else ('Idt',)):
                setattr(self, f'loss_{kind}_{X}', losses.get(f'{kind}_{X}', zero))

    def backward_G(self):
        # drawn outside the compiled region, on the device: no host sync, and tests can inject the reference's
        self.synthetic = {term: self.draw(term) for term in SYNTHETIC if self.weight(term) > 0}
        super().backward_G()
