"""Recycle-GAN (Bansal, Ma, Ramanan, Sheikh; ECCV 2018) and ReCycle-GAN, the variant in the
authors' code. Both train on triplets of consecutive frames (x0, x1, x2) of each domain."""
import torch.nn.functional as F

from util.errors import UserError
from .cycle_gan_model import CycleGANModel, l1


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

    def translate(self, G, P, frames):
        """[G(x0), G(x1), P(G(x0), G(x1))]: two translated frames and the third predicted from them."""
        fakes = self.run(G, *frames[:2])
        return fakes + [P(*fakes)]

    def forward(self):
        if not self.triplets:
            return super().forward()
        # the phases below keep the authors' order of network calls, which dropout and BatchNorm see
        if self.use_identity:
            self.forward_identity()
        self.fake_B = self.translate(self.netG_A, self.netP_B, self.real_A)
        self.fake_A = self.translate(self.netG_B, self.netP_A, self.real_B)
        self.pred_A = self.netP_A(*self.real_A[:2])
        self.pred_B = self.netP_B(*self.real_B[:2])
        self.rec_A = self.netG_B(self.fake_B[2])
        self.rec_B = self.netG_A(self.fake_A[2])

    def compute_G_losses(self):
        opt = self.opt
        a2, b2 = self.real_A[2], self.real_B[2]
        self.loss_G_A = self.gan_loss(self.netD_A, self.fake_B)  # D_A(G_A(a0)), D_A(G_A(a1)), D_A(P_B(..)) -> real
        self.loss_G_B = self.gan_loss(self.netD_B, self.fake_A)
        self.loss_Recyc_A = opt.lambda_A * F.l1_loss(self.rec_A, a2)  # G_B(P_B(G_A(a0), G_A(a1))) = a2
        self.loss_Recyc_B = opt.lambda_B * F.l1_loss(self.rec_B, b2)
        self.loss_Pred_A = opt.lambda_A * F.l1_loss(self.pred_A, a2)  # P_A(a0, a1) = a2
        self.loss_Pred_B = opt.lambda_B * F.l1_loss(self.pred_B, b2)
        self.compute_identity_losses()
        if opt.adversarial_loss_p:  # D_B(P_A(a0, a1)) -> real
            self.loss_Pred_A_GAN = self.gan_loss(self.netD_B, [self.pred_A])
            self.loss_Pred_B_GAN = self.gan_loss(self.netD_A, [self.pred_B])

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

    @staticmethod
    def modify_commandline_options(parser, is_train):
        if is_train:
            parser.set_defaults(dataset_mode='unaligned_triplet')
        return parser

    def forward(self):
        super().forward()
        if self.triplets:
            self.cyc_A = self.run(self.netG_B, *self.fake_B[:2])
            self.cyc_B = self.run(self.netG_A, *self.fake_A[:2])

    def compute_G_losses(self):
        super().compute_G_losses()
        self.loss_Cyc_A = self.opt.lambda_A * l1(self.cyc_A, self.real_A)  # G_B(G_A(a_t)) = a_t, t = 0, 1
        self.loss_Cyc_B = self.opt.lambda_B * l1(self.cyc_B, self.real_B)
