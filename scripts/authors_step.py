"""The authors' training step, transcribed frame by frame (SPEC §4-5): the yardstick that
tests/test_faithful.py checks the models against, and the baseline of scripts/benchmark.py."""
import copy
import itertools

import torch
import torch.nn.functional as F

from models.networks import GANLoss


class AuthorsStep:
    """The authors' optimize_parameters, on deep copies of a model's networks and image pools:
    call by call, loss by loss, with their gradient bookkeeping (D's parameters collect gradients
    during the generators' backward, one backward per D pair, gradients zeroed in place, Adam
    looping over parameters as PyTorch 0.4's did)."""

    def __init__(self, model, opt):
        self.opt = opt
        self.nets = {name: copy.deepcopy(model.network(name)) for name in model.model_names}
        self.pool_A, self.pool_B = copy.deepcopy(model.fake_A_pool), copy.deepcopy(model.fake_B_pool)
        adam = lambda *names: torch.optim.Adam(itertools.chain(*(self.nets[n].parameters() for n in names)),
                                               lr=opt.lr, betas=(opt.beta1, 0.999), foreach=False)
        self.opt_G = adam(*[n for n in self.nets if not n.startswith('D')])
        self.opt_D_A, self.opt_D_B = adam('D_A'), adam('D_B')

    def step(self, batch):
        opt, nets = self.opt, self.nets
        G_A, G_B, D_A, D_B = nets['G_A'], nets['G_B'], nets['D_A'], nets['D_B']
        gan = GANLoss(not opt.no_lsgan)
        lA, lB, idt = opt.lambda_A, opt.lambda_B, opt.identity
        L = {}
        self.opt_G.zero_grad(set_to_none=False)
        if opt.model == 'cycle_gan':
            a, b = batch['A'], batch['B']
            if idt > 0:
                L['idt_A'] = F.l1_loss(G_A(b), b) * lB * idt
                L['idt_B'] = F.l1_loss(G_B(a), a) * lA * idt
            fB = G_A(a)
            L['G_A'] = gan(D_A(fB), True)
            fA = G_B(b)
            L['G_B'] = gan(D_B(fA), True)
            L['Cyc_A'] = F.l1_loss(G_B(fB), a) * lA
            L['Cyc_B'] = F.l1_loss(G_A(fA), b) * lB
            pairs_A, pairs_B = [(b, fB)], [(a, fA)]
        else:
            P_A, P_B = nets['P_A'], nets['P_B']
            a0, a1, a2 = batch['A0'], batch['A1'], batch['A2']
            b0, b1, b2 = batch['B0'], batch['B1'], batch['B2']
            if idt > 0:
                L['idt_A'] = (F.l1_loss(G_A(b0), b0) + F.l1_loss(G_A(b1), b1)) * lB * idt
                L['idt_B'] = (F.l1_loss(G_B(a0), a0) + F.l1_loss(G_B(a1), a1)) * lA * idt
            fB0 = G_A(a0)
            gA0 = gan(D_A(fB0), True)
            fB1 = G_A(a1)
            gA1 = gan(D_A(fB1), True)
            fB2 = P_B(fB0, fB1)
            gA2 = gan(D_A(fB2), True)
            fA0 = G_B(b0)
            gB0 = gan(D_B(fA0), True)
            fA1 = G_B(b1)
            gB1 = gan(D_B(fA1), True)
            fA2 = P_A(fA0, fA1)
            gB2 = gan(D_B(fA2), True)
            L['G_A'], L['G_B'] = gA0 + gA1 + gA2, gB0 + gB1 + gB2
            pA2 = P_A(a0, a1)
            L['Pred_A'] = F.l1_loss(pA2, a2) * lA
            pB2 = P_B(b0, b1)
            L['Pred_B'] = F.l1_loss(pB2, b2) * lB
            if opt.adversarial_loss_p:
                L['Pred_A_GAN'] = gan(D_B(pA2), True)
                L['Pred_B_GAN'] = gan(D_A(pB2), True)
            L['Recyc_A'] = F.l1_loss(G_B(fB2), a2) * lA
            L['Recyc_B'] = F.l1_loss(G_A(fA2), b2) * lB
            if opt.model == 'reCycle_gan':
                L['Cyc_A'] = F.l1_loss(G_B(fB0), a0) * lA + F.l1_loss(G_B(fB1), a1) * lA
                L['Cyc_B'] = F.l1_loss(G_A(fA0), b0) * lB + F.l1_loss(G_A(fA1), b1) * lB
            pairs_A = [(b0, fB0), (b1, fB1), (b2, fB2), (b2, pB2)]
            pairs_B = [(a0, fA0), (a1, fA1), (a2, fA2), (a2, pA2)]
        sum(L.values()).backward()
        self.opt_G.step()
        for key, D, optimizer, pool, pairs in (('D_A', D_A, self.opt_D_A, self.pool_B, pairs_A),
                                               ('D_B', D_B, self.opt_D_B, self.pool_A, pairs_B)):
            optimizer.zero_grad(set_to_none=False)  # also drops the gradients D collected from the generators' loss
            L[key] = 0
            for real, fake in pairs:
                fake = pool.query(fake.detach())
                loss = (gan(D(real), True) + gan(D(fake.detach()), False)) * 0.5
                loss.backward()
                L[key] = L[key] + loss
            optimizer.step()
        return {k: float(v.detach()) for k, v in L.items()}
