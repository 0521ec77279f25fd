"""Faithfulness beyond the golden fixtures: training steps of the models against a plain,
frame-by-frame transcription of the authors' algorithm (SPEC §4-5: every network called once per
frame in their order, each loss term spelled out), for norms, predictors, GAN losses and flags the
fixtures do not cover. Same weights and RNG state in, same losses and weights out.

In float64, so that equal math gives equal numbers to 1e-9: in float32 a pre-activation within
rounding of 0 can switch a ReLU and move a few gradients far enough to flip Adam's first step."""
import copy
import itertools
import random

import pytest
import torch
import torch.nn.functional as F

from conftest import train_options
from models import create_model
from models.networks import GANLoss
from util.image_pool import ImagePool


class Reference:
    """The authors' optimize_parameters, on deep copies of a model's networks and pools."""

    def __init__(self, model, opt):
        self.opt = opt
        self.nets = {name: copy.deepcopy(model.network(name)) for name in model.model_names}
        self.pool_A, self.pool_B = copy.deepcopy(model.fake_A_pool), copy.deepcopy(model.fake_B_pool)
        adam = lambda *names: torch.optim.Adam(itertools.chain(*(self.nets[n].parameters() for n in names)),
                                               lr=opt.lr, betas=(opt.beta1, 0.999))
        self.opt_G = adam(*[n for n in self.nets if not n.startswith('D')])
        self.opt_D_A, self.opt_D_B = adam('D_A'), adam('D_B')

    def step(self, batch):
        opt, nets = self.opt, self.nets
        G_A, G_B, D_A, D_B = nets['G_A'], nets['G_B'], nets['D_A'], nets['D_B']
        gan = GANLoss(not opt.no_lsgan)
        lA, lB, idt = opt.lambda_A, opt.lambda_B, opt.identity
        L = {}
        self.opt_G.zero_grad()
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
            optimizer.zero_grad()  # also drops the gradients D collected from the generators' loss
            L[key] = 0
            for real, fake in pairs:
                fake = pool.query(fake.detach())
                loss = (gan(D(real), True) + gan(D(fake.detach()), False)) * 0.5
                loss.backward()
                L[key] = L[key] + loss
            optimizer.step()
        return {k: float(v.detach()) for k, v in L.items()}


def batch_for(opt, seed):
    g = torch.Generator().manual_seed(seed)
    shape = (opt.batchSize, 3, opt.fineSize, opt.fineSize)
    keys = ['A', 'B'] if opt.model == 'cycle_gan' else ['A0', 'A1', 'A2', 'B0', 'B1', 'B2']
    batch = {k: torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1 for k in keys}
    batch.update(A_paths=['a.png'] * opt.batchSize, B_paths=['b.png'] * opt.batchSize)
    return batch


CONFIGS = {
    'recycle, batch norm': ['--model', 'recycle_gan', '--norm', 'batch', '--batchSize', '2'],
    'recycle, dropout': ['--model', 'recycle_gan', '--which_model_netG', 'unet_32'],
    'recycle, vanilla GAN, adversarial P': ['--model', 'recycle_gan', '--no_lsgan', '--adversarial_loss_p'],
    'recycle, identity, pixel D': ['--model', 'recycle_gan', '--identity', '0.3', '--which_model_netD', 'pixel'],
    'reCycle, prediction P': ['--model', 'reCycle_gan', '--which_model_netP', 'prediction', '--npf', '2',
                              '--fineSize', '64', '--loadSize', '64'],
    'reCycle, pool, norm none, n_layers D': ['--model', 'reCycle_gan', '--pool_size', '3', '--batchSize', '2',
                                             '--norm', 'none', '--which_model_netD', 'n_layers', '--n_layers_D', '2'],
    'reCycle, batch norm, dropout, xavier': ['--model', 'reCycle_gan', '--norm', 'batch', '--init_type', 'xavier',
                                             '--which_model_netP', 'unet_64', '--fineSize', '64',
                                             '--loadSize', '64'],
    'cycle_gan, batch norm, dropout': ['--model', 'cycle_gan', '--norm', 'batch', '--batchSize', '2'],
}
DROPOUT = {'recycle, dropout', 'reCycle, batch norm, dropout, xavier', 'cycle_gan, batch norm, dropout'}


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize('config', list(CONFIGS))
def test_steps_match_the_authors_algorithm(config, tmp_path, float64):
    opt = train_options(tmp_path, *CONFIGS[config])
    opt.no_dropout = config not in DROPOUT
    torch.manual_seed(0)
    model = create_model(opt)
    model.setup(opt)
    reference = Reference(model, opt)
    for step in range(3):  # later steps see moved weights, Adam's moments and a filling pool
        batch = batch_for(opt, seed=step)
        rng_torch, rng_py = torch.get_rng_state(), random.getstate()
        expected = reference.step(batch)
        torch.set_rng_state(rng_torch)  # the same dropout masks and pool draws
        random.setstate(rng_py)
        model.set_input(batch)
        model.optimize_parameters()
        losses = model.get_current_losses()
        assert set(losses) == set(expected)
        for key, value in expected.items():
            assert losses[key] == pytest.approx(value, rel=1e-9), (config, step, key)
        for name, net in reference.nets.items():
            for key, value in net.state_dict().items():
                # a conv bias in front of a norm layer has a true gradient of 0: Adam turns its noise
                # (~1e-17) into steps of ~1e-10 that add up; every other number agrees to 1e-9
                atol = 1e-7 if key.endswith('bias') else 1e-9
                torch.testing.assert_close(model.network(name).state_dict()[key], value, rtol=1e-9, atol=atol,
                                           msg=f'{config}, step {step}: {name}.{key}')
