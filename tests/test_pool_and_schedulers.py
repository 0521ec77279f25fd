"""The image pool and the learning-rate schedules."""
import random
import types

import pytest
import torch

from models.networks import get_scheduler
from util.errors import UserError
from util.image_pool import ImagePool


def images(values):
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1)


def test_pool_size_zero_returns_the_input_detached():
    x = torch.randn(3, 1, 2, 2, requires_grad=True)
    out = ImagePool(0).query(x)
    assert torch.equal(out, x) and not out.requires_grad


def test_pool_fills_then_mixes_old_and_new():
    random.seed(0)
    pool = ImagePool(4)
    assert torch.equal(pool.query(images([0, 1])), images([0, 1]))  # filling: the new images come back
    assert torch.equal(pool.query(images([2, 3])), images([2, 3]))
    assert len(pool.images) == 4
    seen = set()
    for step in range(50):
        new = images([10 + 2 * step, 11 + 2 * step])
        out = pool.query(new)
        assert out.shape == new.shape
        for got, fresh in zip(out.flatten().tolist(), new.flatten().tolist()):
            seen.add('new' if got == fresh else 'old')
            assert got == fresh or got < fresh  # an old image is one generated earlier
        assert len(pool.images) == 4
    assert seen == {'new', 'old'}


def test_pool_draws_are_the_authors():
    """Same seed, same returned images: the draws follow random.uniform then random.randint."""
    def authors_pool(seed, batches, size):
        random.seed(seed)
        stored, outs = [], []
        for batch in batches:
            for image in batch:
                if len(stored) < size:
                    stored.append(image)
                    outs.append(image)
                elif random.uniform(0, 1) > 0.5:
                    i = random.randint(0, size - 1)
                    outs.append(stored[i])
                    stored[i] = image
                else:
                    outs.append(image)
        return outs

    batches = [list(range(3 * k, 3 * k + 3)) for k in range(20)]
    random.seed(7)
    pool = ImagePool(5)
    ours = [v for b in batches for v in pool.query(images(b)).flatten().tolist()]
    assert ours == authors_pool(7, batches, 5)


def schedule(policy, epochs, **kw):
    opt = types.SimpleNamespace(lr_policy=policy, epoch_count=1, niter=3, niter_decay=4, lr_decay_iters=2)
    opt.__dict__.update(kw)
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = get_scheduler(optimizer, opt)
    lrs = []
    for epoch in range(epochs):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        scheduler.step(*(() if policy != 'plateau' else (1.0,)))
    return lrs


def test_lambda_schedule_is_the_authors_rule():
    # 1 - max(0, e + 1 + epoch_count - niter) / (niter_decay + 1), e = epochs stepped so far
    assert schedule('lambda', 7) == pytest.approx([1, 1, 0.8, 0.6, 0.4, 0.2, 0.0])
    # continuing from epoch 4 picks the schedule up where it was
    assert schedule('lambda', 4, epoch_count=4) == pytest.approx([0.6, 0.4, 0.2, 0.0])


def test_step_schedule_divides_by_ten_every_lr_decay_iters_epochs():
    assert schedule('step', 6) == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])


def test_plateau_schedule_cuts_by_five_after_patience():
    lrs = schedule('plateau', 9)  # a constant metric never improves
    assert lrs[:7] == pytest.approx([1.0] * 7) and lrs[7] == pytest.approx(0.2)


def test_an_unknown_lr_policy_is_a_one_line_error():
    with pytest.raises(UserError, match='--lr_policy'):
        schedule('cosine', 1)
