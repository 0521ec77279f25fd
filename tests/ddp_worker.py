"""Run under torchrun by tests/test_distributed.py: a few training steps on made-up examples, each
process its own; the first process saves every process's weight checksums and its own weights.

    torchrun --nproc_per_node 2 tests/ddp_worker.py OUT STEPS [--float64] <train.py flags>
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


def main():
    out, steps, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if '--float64' in args:
        args.remove('--float64')
        torch.set_default_dtype(torch.float64)
    opt = TrainOptions().parse(args)
    distributed.setup(opt)
    seed_everything(opt.seed)
    model = create_model(opt)
    model.setup(opt)
    rank, world = distributed.rank(), distributed.world_size()
    for step in range(steps):
        first = step * world * opt.batchSize + rank * opt.batchSize
        model.set_input(batch([example(i, opt) for i in range(first, first + opt.batchSize)]))
        model.optimize_parameters()
    sums = [None] * world
    dist.all_gather_object(sums, checksum(model))
    if rank == 0:
        torch.save({'checksums': sums, 'losses': model.get_current_losses(),
                    'weights': {n: model.network(n).state_dict() for n in model.model_names}}, out)
    distributed.teardown()


if __name__ == '__main__':
    main()
