"""Datasets found by name: --dataset_mode X is the class XDataset (case and underscores ignored)
in data/X_dataset.py. Every dataset gives dicts of tensors in [-1, 1] plus their file paths:
A0 A1 A2 B0 B1 B2 A_paths B_paths (frame triplets) or A B A_paths B_paths (single frames)."""
import importlib
import pathlib
import secrets
import signal

import numpy as np
import torch.utils.data

from util import distributed
from util.errors import UserError
from .base_dataset import BaseDataset


def available_modes():
    return sorted(p.name[:-len('_dataset.py')] for p in pathlib.Path(__file__).parent.glob('*_dataset.py')
                  if p.name != 'base_dataset.py')


def find_dataset_using_name(dataset_name):
    if dataset_name not in available_modes():
        raise UserError(f'--dataset_mode {dataset_name!r} is not one of: {", ".join(available_modes())}')
    module = importlib.import_module(f'data.{dataset_name}_dataset')
    target = dataset_name.replace('_', '') + 'dataset'
    for name, cls in vars(module).items():
        if name.lower() == target and isinstance(cls, type) and issubclass(cls, BaseDataset):
            return cls
    raise UserError(f'data/{dataset_name}_dataset.py has no class {target} (case ignored) derived from BaseDataset')


def get_option_setter(dataset_name):
    return find_dataset_using_name(dataset_name).modify_commandline_options


class EpochSampler(torch.utils.data.Sampler):
    """The examples of one epoch, as (index, example seed) items: the order (shuffled unless
    `shuffle` is off) and every example's seed for its crops and flips are functions of (seed, epoch)
    alone, so a run resumed at any position draws exactly what the interrupted one would have.
    set_epoch(epoch, start) picks the epoch and skips its first `start` positions. Under torchrun,
    process `rank` of `world` takes positions start + rank, start + rank + world, ... (wrapping
    around at the end, so that every process runs the same number of steps)."""

    def __init__(self, size, shuffle, seed, rank=0, world=1):
        self.size, self.shuffle, self.seed, self.rank, self.world = size, shuffle, seed, rank, world
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch, start=0):
        self.epoch, self.start = epoch, start

    def __iter__(self):
        mixed = np.random.SeedSequence([self.seed, self.epoch]).generate_state(1, np.uint64)[0]
        generator = torch.Generator().manual_seed(int(mixed) >> 1)
        order = torch.randperm(self.size, generator=generator) if self.shuffle else torch.arange(self.size)
        seeds = torch.randint(2 ** 62, (self.size,), generator=generator)
        positions = range(self.start + self.rank, self.start + len(self) * self.world, self.world)
        return ((int(order[p % self.size]), int(seeds[p % self.size])) for p in positions)

    def __len__(self):
        return -(-(self.size - self.start) // self.world)  # ceil


def _ignore_ctrl_c(worker_id):
    # Ctrl-C reaches the whole process group: the workers must outlive it while the main process saves
    # and stops (it then ends them with SIGTERM, which they keep)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def create_dataset(opt, **kwargs):
    """A DataLoader over --dataset_mode's dataset (kwargs go to the dataset), with --batchSize,
    --nThreads workers, shuffled unless --serial_batches. Its sampler is an EpochSampler seeded by
    --seed (or at random); it draws nothing from the global random generators."""
    dataset = find_dataset_using_name(opt.dataset_mode)(opt, **kwargs)
    print(f'dataset [{type(dataset).__name__}] was created: {len(dataset)} examples')
    # every process must draw the same order: the first one's seed
    seed = distributed.shared(opt.seed if opt.seed is not None else secrets.randbits(62))
    sampler = EpochSampler(len(dataset), shuffle=not opt.serial_batches, seed=seed, rank=distributed.rank(),
                           world=distributed.world_size())
    on_gpu = bool(opt.gpu_ids)
    return torch.utils.data.DataLoader(
        dataset, batch_size=opt.batchSize, sampler=sampler, num_workers=opt.nThreads, pin_memory=on_gpu,
        persistent_workers=opt.nThreads > 0, worker_init_fn=_ignore_ctrl_c,
        generator=torch.Generator().manual_seed(seed))
