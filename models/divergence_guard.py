"""The divergence guard: a loss that becomes inf or nan changes no weight, and the host never waits for
the device to find out.

Each optimizer step gets a verdict computed on the device (1 when the sum of its losses is not finite)
and passes it to fused Adam as `found_inf`, which then leaves weights, moments and step count alone, as
with the gradient scaler's overflow skips. The guard counts such steps and remembers the first one on the
device; report() reads them (one host sync) where the training loop synchronises anyway: when it prints,
shows or saves. With --nan_policy stop every later step is skipped too, so the weights stay those from
before the first non-finite loss until report() stops the run; with skip, training goes on.
"""
import math

import torch

from util import distributed


class NonFiniteLoss(Exception):
    """A loss became inf or nan at the model's `iteration`-th optimize_parameters(); no weight changed since."""

    def __init__(self, name, value, iteration):
        super().__init__(f'loss {name} is {value}')
        self.name, self.value, self.iteration = name, value, iteration


class DivergenceGuard:
    def __init__(self, policy, device):
        self.policy = policy
        self.skipped = 0  # steps skipped and reported so far (kept in the training state)
        self.iteration = torch.zeros((), dtype=torch.int64, device=device)  # optimize_parameters() calls
        self.count = torch.zeros((), dtype=torch.int64, device=device)  # skipped steps not yet reported
        self.first_iteration = torch.zeros((), dtype=torch.int64, device=device)
        self.first_values = {}  # loss names of a step -> their values at the first skipped step (else 0)

    def next_iteration(self):
        self.iteration += 1

    @staticmethod
    def nonfinite(losses):
        """1.0 (a 1-element float tensor) when the sum of losses ({name: tensor}) is not finite, else 0.0."""
        total = sum(loss.detach().float().reshape(1) for loss in losses.values())
        return (~torch.isfinite(total)).float()

    def skip(self, losses, bad, record=True):
        """found_inf for a step whose losses got the verdict `bad` (summed over the processes); record=True
        counts it and, the first time, keeps the losses' values and the iteration."""
        bad = (bad > 0).reshape(())
        if record:  # in place, with no branch on the device's values
            first = bad & (self.count == 0)
            values = torch.stack([loss.detach().float().reshape(()) for loss in losses.values()])
            kept = self.first_values.setdefault(tuple(losses), torch.zeros_like(values))
            kept.copy_(torch.where(first, values, kept))
            self.first_iteration.copy_(torch.where(first, self.iteration, self.first_iteration))
            self.count += bad
        if self.policy == 'stop':  # frozen from the first non-finite loss on, until report() stops the run
            bad = bad | (self.count > 0)
        return bad.float()

    def poison(self, loss):
        """loss, or nan when the guard would skip its step: for --amp fp16, whose scaler then skips it."""
        bad = ~torch.isfinite(loss.detach())
        if self.policy == 'stop':
            bad = bad | (self.count > 0)
        return loss * torch.where(bad, math.nan, 1.0)

    def report(self):
        """The steps skipped since the last report (a host sync); with --nan_policy stop, raise NonFiniteLoss
        naming the first non-finite loss and its iteration instead."""
        count = int(self.count)
        if not count:
            return 0
        if self.policy == 'stop':
            raise NonFiniteLoss(*self.first_nonfinite(), int(self.first_iteration))
        self.count.zero_()
        self.skipped += count
        return count

    def first_nonfinite(self):
        """(name, value) of the first loss that was not finite at the first skipped step (in any process:
        under torchrun the value is this process's, which may be finite)."""
        names = [name for group in self.first_values for name in group]
        values = torch.cat(list(self.first_values.values()))
        anywhere = distributed.mean((~torch.isfinite(values)).float()) > 0
        for name, value, bad in zip(names, values.tolist(), anywhere.tolist()):
            if bad:
                return name, value if not math.isfinite(value) else 'not finite in another process'
        return 'sum of ' + ' + '.join(names), 'not finite'
