"""CycleGAN (Zhu et al., ICCV 2017) on single frames, and the two-domain machinery Recycle-GAN
builds on: generators G_A: A -> B and G_B: B -> A, discriminators D_A (judges B images) and D_B
(judges A images), one image pool per domain, and the training step."""
import functools
import itertools

import torch
import torch.nn.functional as F

from util.errors import UserError
from util.image_pool import ImagePool
from . import networks
from .base_model import BaseModel


def l1(outputs, targets):
    """Sum over frames of the mean absolute error (zip: frames past the shorter list are left out)."""
    return sum(F.l1_loss(output, target) for output, target in zip(outputs, targets))


class CycleGANModel(BaseModel):
    """Images are lists of frames: [x] here, [x0, x1, x2] in Recycle-GAN, [] for a domain test.py
    does not feed."""
    name = 'cycle_gan'
    nets = ('G', 'D')  # each for domain A then B, built in this order (the authors', so a seed gives their init)
    domain_losses = ('G', 'Cyc')  # reported per domain, after D_<domain>
    identity_losses = ('idt_A', 'idt_B')  # names of the identity losses of G_A and G_B

    def __init__(self, opt):
        super().__init__(opt)
        self.use_identity = self.isTrain and opt.identity > 0
        self.loss_names = [f'{n}_{d}' for d in 'AB' for n in ('D',) + self.domain_losses]
        self.visual_names = ['real_A', 'fake_B', 'rec_A', 'real_B', 'fake_A', 'rec_B']
        if self.use_identity:
            self.loss_names += list(self.identity_losses)
            self.visual_names += ['idt_A', 'idt_B']
        self.model_names = [f'{kind}_{d}' for kind in self.nets if kind != 'D' or self.isTrain for d in 'AB']
        self.check_sizes()
        for name in self.model_names:
            setattr(self, 'net' + name, self.place(self.define_net(name)))
        if self.isTrain:
            self.fake_A_pool = ImagePool(opt.pool_size)  # A images made by G_B, for D_B
            self.fake_B_pool = ImagePool(opt.pool_size)
            self.criterionGAN = networks.GANLoss(use_lsgan=not opt.no_lsgan).to(self.device)
            # one fused kernel per update instead of a loop over parameters: same numbers, many times faster
            adam = functools.partial(torch.optim.Adam, lr=opt.lr, betas=(opt.beta1, 0.999), fused=True)
            generators = [getattr(self, 'net' + n).parameters() for n in self.model_names if not n.startswith('D')]
            self.optimizer_G = adam(itertools.chain(*generators))
            self.optimizer_D_A = adam(self.netD_A.parameters())
            self.optimizer_D_B = adam(self.netD_B.parameters())
            self.optimizers = [self.optimizer_G, self.optimizer_D_A, self.optimizer_D_B]

    # -- networks ---------------------------------------------------------------------------------
    def define_net(self, name):
        """G_X translates domain X into the other one, P_X predicts frames of X, D_X judges the other
        domain's images. Domain A images have input_nc channels, B images output_nc."""
        opt = self.opt
        kind, domain = name.split('_')
        own, other = (opt.input_nc, opt.output_nc) if domain == 'A' else (opt.output_nc, opt.input_nc)
        common = dict(norm=opt.norm, init_type=opt.init_type, max_params=self.max_params())
        if kind == 'G':
            return networks.define_G(own, other, opt.ngf, opt.which_model_netG, use_dropout=not opt.no_dropout,
                                     **common)
        if kind == 'P':
            return networks.define_P(own, opt.ngf, opt.npf, opt.which_model_netP, use_dropout=not opt.no_dropout,
                                     **common)
        return networks.define_D(other, opt.ndf, opt.which_model_netD, opt.n_layers_D, **common)

    def check_sizes(self):
        """Fail before building anything if the crops cannot go through the networks."""
        opt = self.opt
        if opt.resize_or_crop in ('scale_width', 'none') and opt.dataset_mode != 'unaligned_triplet':
            return  # sizes vary with the images; the networks check them as they come
        flags = [('--which_model_netG', opt.which_model_netG)]
        if 'P' in self.nets and self.isTrain:
            flags.append(('--which_model_netP', opt.which_model_netP))
        for flag, which in flags:
            multiple = networks.required_multiple(which)
            if opt.fineSize % multiple:
                raise UserError(f'--fineSize {opt.fineSize} does not fit {flag} {which}, which takes image sides '
                                f'that are multiples of {multiple}; change --fineSize or pick another network')

    # -- forward ----------------------------------------------------------------------------------
    def set_input(self, input):
        """input: {'A', 'B': (N, C, H, W) in [-1, 1], 'A_paths', 'B_paths'}; test.py may give one domain.
        Triplets (A0 A1 A2 B0 B1 B2, e.g. --dataset_mode video) are taken as three frames, each on its own."""
        A, B = ('A', 'B') if self.opt.which_direction == 'AtoB' else ('B', 'A')
        self.real_A, self.real_B = self.frames(input, A), self.frames(input, B)
        self.image_paths = input.get(f'{A}_paths', input.get(f'{B}_paths'))

    def frames(self, input, domain):
        """[x] of a single frame, [x0, x1, x2] of a triplet, [] when input lacks the domain."""
        keys = [k for k in (domain, f'{domain}0', f'{domain}1', f'{domain}2') if k in input]
        return [self.to_device(input[k]) for k in keys]

    def forward_identity(self):
        """G_A(b) and G_B(a), first: the authors' order of network calls, which dropout and BatchNorm see.
        (Over the first two frames of a triplet.)"""
        self.idt_A = self.run(self.netG_A, *self.real_B[:2])
        self.idt_B = self.run(self.netG_B, *self.real_A[:2])

    def forward(self):
        if self.use_identity:
            self.forward_identity()
        self.fake_B = self.run(self.netG_A, *self.real_A)
        self.fake_A = self.run(self.netG_B, *self.real_B)
        self.rec_A = self.run(self.netG_B, *self.fake_B)
        self.rec_B = self.run(self.netG_A, *self.fake_A)

    # -- losses -----------------------------------------------------------------------------------
    def gan_loss(self, netD, images):
        """The generators' adversarial loss: sum over images of GAN(D(image), real)."""
        return sum(self.criterionGAN(verdict, True) for verdict in self.run(netD, *images))

    def compute_identity_losses(self):
        if self.use_identity:  # G_A(b) = b, G_B(a) = a
            idt_A, idt_B = self.identity_losses
            setattr(self, 'loss_' + idt_A, self.opt.lambda_B * self.opt.identity * l1(self.idt_A, self.real_B))
            setattr(self, 'loss_' + idt_B, self.opt.lambda_A * self.opt.identity * l1(self.idt_B, self.real_A))

    def compute_G_losses(self):
        opt = self.opt
        self.loss_G_A = self.gan_loss(self.netD_A, self.fake_B)  # D_A(G_A(a)) -> real
        self.loss_G_B = self.gan_loss(self.netD_B, self.fake_A)
        self.loss_Cyc_A = opt.lambda_A * l1(self.rec_A, self.real_A)  # G_B(G_A(a)) = a
        self.loss_Cyc_B = opt.lambda_B * l1(self.rec_B, self.real_B)
        self.compute_identity_losses()

    def generator_losses(self):
        return {n: getattr(self, 'loss_' + n) for n in self.loss_names if not n.startswith('D_')}

    def generator_forward(self):
        """Forward and the generators' (and predictors') losses: one region for --compile."""
        with self.autocast():
            self.forward()
            self.compute_G_losses()
            return self.generator_losses()

    def backward_G(self):
        self.loss_G = sum(self.region(self.generator_forward)().values())
        self.backward(self.loss_G)

    def discriminator_inputs(self):
        """The (real, fake) image lists D_A and D_B learn to tell apart, pair by pair."""
        return (self.real_B, self.fake_B), (self.real_A, self.fake_A)

    def discriminator_loss(self, netD, reals, pairs, fakes):
        """sum over pairs (i, j) of 0.5 * (GAN(D(reals[i]), real) + GAN(D(fakes[j]), fake)): one region for
        --compile. With batched frames D judges every distinct real frame once, in one call with the fakes;
        otherwise real, fake, real, fake, ...: the authors' order of calls, which BatchNorm sees."""
        with self.autocast():
            if self.batch_frames:
                verdicts = self.run(netD, *reals, *fakes)
                pairs = [(verdicts[i], verdicts[len(reals) + j]) for i, j in pairs]
            else:
                verdicts = self.run(netD, *itertools.chain(*((reals[i], fakes[j]) for i, j in pairs)))
                pairs = zip(verdicts[0::2], verdicts[1::2])
            return sum(0.5 * (self.criterionGAN(real, True) + self.criterionGAN(fake, False)) for real, fake in pairs)

    def step_D(self, name, netD, optimizer, reals, pool, fakes):
        """One Adam step of D on its loss over the (real, fake) pairs, each fake through the image pool."""
        fakes = [pool.query(fake) for fake in fakes]
        distinct = list({id(real): real for real in reals}.values())  # b2 is paired twice in Recycle-GAN
        pairs = [(next(i for i, d in enumerate(distinct) if d is real), j) for j, real in enumerate(reals)]
        loss = self.region(self.discriminator_loss)(netD, distinct, pairs, fakes)
        optimizer.zero_grad(set_to_none=True)
        self.backward(loss)
        self.step(optimizer, {name: loss})
        return loss.detach()

    def optimize_parameters(self):
        """One iteration: forward; an Adam step of all generators (and predictors); one of D_A, then D_B."""
        self.begin_iteration()
        discriminators = [self.netD_A, self.netD_B]
        # D's gradients from the generators' loss would be discarded before D's own step: skip them
        self.set_requires_grad(discriminators, False)
        self.optimizer_G.zero_grad(set_to_none=True)
        self.backward_G()
        self.step(self.optimizer_G, self.generator_losses())
        self.set_requires_grad(discriminators, True)
        (real_B, fake_B), (real_A, fake_A) = self.discriminator_inputs()
        self.loss_D_A = self.step_D('D_A', self.netD_A, self.optimizer_D_A, real_B, self.fake_B_pool, fake_B)
        self.loss_D_B = self.step_D('D_B', self.netD_B, self.optimizer_D_B, real_A, self.fake_A_pool, fake_A)
        self.scaler.update()
