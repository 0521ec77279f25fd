"""Run under torchrun by tests/test_distributed.py: a few training steps on made-up examples, each
process its own; the first process saves every process's weight checksums, its own weights, the
gradients averaged in the last step and the all_reduces of every step.

    torchrun --nproc_per_node 2 tests/ddp_worker.py OUT STEPS [--float64] [--bucket_kb KB] <train.py flags>
"""
import hashlib
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from models import create_model  # noqa: E402
from options.train_options import TrainOptions  # noqa: E402
from util import distributed  # noqa: E402
from util.util import seed_everything  # noqa: E402


def example(i, opt):
    """Example i (a dict of (1, C, H, W) frames), the same in every process."""
    g = torch.Generator().manual_seed(1000 + i)
    keys = ['A0', 'A1', 'A2', 'B0', 'B1', 'B2'] if opt.model != 'cycle_gan' else ['A', 'B']
    return {k: torch.rand(1, 3, opt.fineSize, opt.fineSize, generator=g, dtype=torch.float64).to(
        torch.get_default_dtype()) * 2 - 1 for k in keys}


def batch(examples):
    keys = examples[0].keys()
    return {**{k: torch.cat([e[k] for e in examples]) for k in keys},
            'A_paths': ['a.png'] * len(examples), 'B_paths': ['b.png'] * len(examples)}


def checksum(model):
    digest = hashlib.sha256()
    for name in model.model_names:
        for tensor in model.network(name).state_dict().values():
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class Recorder:
    """While active: the all_reduces issued (their element counts), the gradient sizes of every
    distributed.average_gradients call, and each gradient as it came out averaged ({'G_A.model.1.weight': ...})."""

    def __init__(self, model):
        self.names = {p: f'{n}.{k}' for n in model.model_names for k, p in model.network(n).named_parameters()}
        self.all_reduces, self.averaged, self.grads = [], [], {}

    def all_reduce(self, tensor, *args, **kwargs):
        self.all_reduces.append(tensor.numel())
        return self.real_all_reduce(tensor, *args, **kwargs)

    def average_gradients(self, parameters, extra=None):
        parameters = [p for p in parameters if p.grad is not None]
        self.averaged.append([p.grad.numel() for p in parameters])
        summed = self.real_average_gradients(parameters, extra)
        self.grads.update({self.names[p]: p.grad.detach().clone() for p in parameters})
        return summed

    def __enter__(self):
        self.real_all_reduce, self.real_average_gradients = dist.all_reduce, distributed.average_gradients
        dist.all_reduce, distributed.average_gradients = self.all_reduce, self.average_gradients
        return self

    def __exit__(self, *exc):
        dist.all_reduce, distributed.average_gradients = self.real_all_reduce, self.real_average_gradients


def take_option(args, flag, has_value):
    """Remove `flag` (and its value) from args; return the value, True, or None when absent."""
    if flag not in args:
        return None
    i = args.index(flag)
    value = args[i + 1] if has_value else True
    del args[i:i + 1 + has_value]
    return value


def main():
    out, steps, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if take_option(args, '--float64', False):
        torch.set_default_dtype(torch.float64)
    bucket_kb = take_option(args, '--bucket_kb', True)
    if bucket_kb is not None:
        distributed.BUCKET_BYTES = int(bucket_kb) * 1024
    opt = TrainOptions().parse(args)
    distributed.setup(opt)
    seed_everything(opt.seed)
    model = create_model(opt)
    model.setup(opt)
    rank, world = distributed.rank(), distributed.world_size()
    all_reduces, averaged = [], []  # per step
    for step in range(steps):
        first = step * world * opt.batchSize + rank * opt.batchSize
        model.set_input(batch([example(i, opt) for i in range(first, first + opt.batchSize)]))
        with Recorder(model) as recorder:
            model.optimize_parameters()
        all_reduces.append(recorder.all_reduces)
        averaged.append(recorder.averaged)
    sums = [None] * world
    dist.all_gather_object(sums, checksum(model))
    if rank == 0:
        torch.save({'checksums': sums, 'losses': model.get_current_losses(),
                    'weights': {n: model.network(n).state_dict() for n in model.model_names},
                    'grads': recorder.grads, 'all_reduces': all_reduces, 'averaged': averaged}, out)
    distributed.teardown()
    if os.path.isdir('/proc/self/task'):  # Linux: the threads left once the process group is gone
        names = [open(f'/proc/self/task/{t}/comm').read().strip() for t in os.listdir('/proc/self/task')]
        with open(f'{out}.threads{rank}', 'w') as f:
            f.write('\n'.join(names))


if __name__ == '__main__':
    main()
