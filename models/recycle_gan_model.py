"""Recycle-GAN (Bansal, Ma, Ramanan, Sheikh; ECCV 2018) and ReCycle-GAN, the variant in the
authors' code. Both train on triplets of consecutive frames (x0, x1, x2) of each domain."""
import torch.nn.functional as F

from util.errors import UserError
from .cycle_gan_model import CycleGANModel, l1

HALVES = (('A', 'B'), ('B', 'A'))  # X -> Y: the two directions, one function applied with the roles swapped


class RecycleGANModel(CycleGANModel):
    """Per direction X -> Y (A -> B with G_A, P_B, D_A; B -> A with G_B, P_A, D_B):
      adversarial  sum_t GAN(D(y_t), real) over y0 = G(x0), y1 = G(x1), y2 = P_Y(y0, y1)
      recurrent    lambda_X * |P_X(x0, x1) - x2|
      recycle      lambda_X * |G_inv(P_Y(G(x0), G(x1))) - x2|
    and D learns to tell (y_t, real frame t of Y) apart, and P_Y's prediction from real Y frames too.
    Single frames (test.py on frame folders) are only translated, as by CycleGAN."""
    name = 'recycle_gan'
    nets = ('G', 'P', 'D')
    domain_losses = ('G', 'Recyc', 'Pred')
    per_frame_cycle = False  # ReCycle-GAN's G_inv(G(x_t)) for t = 0, 1

    @staticmethod
    def modify_commandline_options(parser, is_train):
        if is_train:
            # identity 0: the authors' recycle_gan never applied one, whatever --identity said
            parser.set_defaults(identity=0.0, dataset_mode='unaligned_triplet')
        return parser

    def __init__(self, opt):
        super().__init__(opt)
        self.visual_names[3:3] = ['pred_A']
        self.visual_names[7:7] = ['pred_B']
        if self.isTrain and opt.adversarial_loss_p:
            self.loss_names += ['Pred_A_GAN', 'Pred_B_GAN']

    def set_input(self, input):
        """input: {'A0', 'A1', 'A2', 'B0', 'B1', 'B2': (N, C, H, W) in [-1, 1], 'A_paths', 'B_paths'}."""
        self.triplets = 'A0' in input
        if not self.triplets:
            if self.isTrain:
                raise UserError(f'--model {self.name} trains on triplets of consecutive frames: use '
                                f'--dataset_mode unaligned_triplet')
            return super().set_input(input)
        self.real_A, self.real_B = self.frames(input, 'A'), self.frames(input, 'B')
        # as in the authors' code, which_direction only picks the reported image paths here
        self.image_paths = input['A_paths' if self.opt.which_direction == 'AtoB' else 'B_paths']

    def forward(self):
        if not self.triplets:
            return super().forward()
        if not self.batch_frames:
            return self.forward_in_authors_order()
        for X, Y in HALVES:
            self.forward_half(X, Y)

    def translate(self, G, P, frames):
        """[G(x0), G(x1), P(G(x0), G(x1))]: two translated frames and the third predicted from them."""
        fakes = self.run(G, *frames[:2])
        return fakes + [P(*fakes)]

    def forward_in_authors_order(self):
        """One network call per frame, in the authors' order, which dropout's masks and BatchNorm's
        statistics see: identity, translation, prediction, recycling, per-frame cycle."""
        if self.use_identity:
            self.forward_identity()
        self.fake_B = self.translate(self.netG_A, self.netP_B, self.real_A)
        self.fake_A = self.translate(self.netG_B, self.netP_A, self.real_B)
        self.pred_A = self.netP_A(*self.real_A[:2])
        self.pred_B = self.netP_B(*self.real_B[:2])
        self.rec_A = self.netG_B(self.fake_B[2])
        self.rec_B = self.netG_A(self.fake_A[2])
        if self.per_frame_cycle:
            self.cyc_A = self.run(self.netG_B, *self.fake_B[:2])
            self.cyc_B = self.run(self.netG_A, *self.fake_A[:2])

    def forward_half(self, X, Y):
        """The X -> Y half (A -> B, or B -> A with the roles swapped), with one call per network and
        dependency level on all the frames it takes there (exact without BatchNorm and dropout; each
        call also costs a weight-gradient pass, and the predictors' 1024-channel layers are all weights):
          fake_Y = [G_X(x0), G_X(x1), P_Y(G_X(x0), G_X(x1))], pred_Y = P_Y(y0, y1), rec_X = G_Y(fake_Y[2]),
          idt_X = [G_X(y0), G_X(y1)] (identity loss), cyc_X = [G_Y(fake_Y[0]), G_Y(fake_Y[1])] (ReCycle-GAN)."""
        net = lambda name: getattr(self, 'net' + name)  # noqa: E731
        x, y = getattr(self, 'real_' + X), getattr(self, 'real_' + Y)
        fake, idt = self.run_groups(net(f'G_{X}'), x[:2], y[:2] if self.use_identity else [])
        (fake2,), (pred,) = self.run_groups(net(f'P_{Y}'), [tuple(fake)], [tuple(y[:2])])
        (rec,), cyc = self.run_groups(net(f'G_{Y}'), [fake2], fake if self.per_frame_cycle else [])
        for name, value in (('fake_' + Y, fake + [fake2]), ('pred_' + Y, pred), ('rec_' + X, rec),
                            ('idt_' + X, idt), ('cyc_' + X, cyc)):
            setattr(self, name, value)

    def half_losses(self, X, Y):
        """The losses of the X -> Y half, under the authors' names (lambda_X weighs errors on X frames)."""
        opt, lam = self.opt, {'A': self.opt.lambda_A, 'B': self.opt.lambda_B}
        x, y = getattr(self, 'real_' + X), getattr(self, 'real_' + Y)
        the = lambda name: getattr(self, name)  # noqa: E731
        D = getattr(self, 'netD_' + X)  # D_X judges Y images
        losses = {f'G_{X}': self.gan_loss(D, the('fake_' + Y)),  # adversarial: D_X(y made by G_X and P_Y) -> real
                  f'Recyc_{X}': lam[X] * F.l1_loss(the('rec_' + X), x[2]),  # recycle: G_Y(P_Y(G_X(x0), G_X(x1))) = x2
                  f'Pred_{Y}': lam[Y] * F.l1_loss(the('pred_' + Y), y[2])}  # recurrent: P_Y(y0, y1) = y2
        if self.per_frame_cycle:  # cycle: G_Y(G_X(x_t)) = x_t, t = 0, 1
            losses[f'Cyc_{X}'] = lam[X] * l1(the('cyc_' + X), x)
        if self.use_identity:  # identity: G_X(y_t) = y_t, t = 0, 1
            losses[f'idt_{X}'] = lam[Y] * opt.identity * l1(the('idt_' + X), y)
        if opt.adversarial_loss_p:  # D_X(P_Y(y0, y1)) -> real
            losses[f'Pred_{Y}_GAN'] = self.gan_loss(D, [the('pred_' + Y)])
        return losses

    def half_forward(self, X, Y):
        """forward_half and half_losses: one region for --compile (compiled once per half)."""
        with self.autocast():
            self.forward_half(X, Y)
            return self.half_losses(X, Y)

    def compute_G_losses(self):
        for X, Y in HALVES:
            for name, loss in self.half_losses(X, Y).items():
                setattr(self, 'loss_' + name, loss)

    def backward_G(self):
        if not (self.triplets and self.batch_frames):
            return super().backward_G()
        # the halves share weights but no activations: backpropagating each before the other runs
        # frees its activations early (gradients add up to the same sums)
        self.loss_G, done = 0, None
        for X, Y in HALVES:
            losses = self.region(self.half_forward)(X, Y)
            for name, loss in losses.items():
                setattr(self, 'loss_' + name, loss)
            self.loss_G = self.loss_G + sum(losses.values()).detach()
            if done is not None and not self.scaler.is_enabled():  # fp16's GradScaler steps once per update
                # the first half's predictor takes no part in the second: with every loss now known,
                # step it and free its gradients before the second backward allocates the other ones
                self.step_early(self.optimizer_G, done, self.generator_losses())
            self.backward(sum(losses.values()))
            done = getattr(self, 'netP_' + Y)

    def discriminator_inputs(self):
        # D_A judges (b0, G_A(a0)), (b1, G_A(a1)), (b2, P_B(G_A(a0), G_A(a1))) and (b2, P_B(b0, b1))
        return ((self.real_B + self.real_B[2:], self.fake_B + [self.pred_B]),
                (self.real_A + self.real_A[2:], self.fake_A + [self.pred_A]))


class ReCycleGANModel(RecycleGANModel):
    """Recycle-GAN plus CycleGAN's per-frame cycle loss on frames 0 and 1,
      cycle  lambda_X * sum_{t=0,1} |G_inv(G(x_t)) - x_t|,
    and the identity loss on by default (--identity 0.5). The authors found it best for
    image <-> labels (VIPER) and image <-> normals."""
    name = 'reCycle_gan'
    domain_losses = ('G', 'Recyc', 'Pred', 'Cyc')
    per_frame_cycle = True

    @staticmethod
    def modify_commandline_options(parser, is_train):
        if is_train:
            parser.set_defaults(dataset_mode='unaligned_triplet')
        return parser
