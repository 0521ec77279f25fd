"""Datasets found by name: --dataset_mode X is the class XDataset (case and underscores ignored)
in data/X_dataset.py. Every dataset gives dicts of tensors in [-1, 1] plus their file paths:
A0 A1 A2 B0 B1 B2 A_paths B_paths (frame triplets) or A B A_paths B_paths (single frames)."""
import importlib
import pathlib

import torch.utils.data

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


def create_dataset(opt, **kwargs):
    """A DataLoader over --dataset_mode's dataset (kwargs go to the dataset), with --batchSize,
    --nThreads workers, and shuffling unless --serial_batches."""
    dataset = find_dataset_using_name(opt.dataset_mode)(opt, **kwargs)
    print(f'dataset [{type(dataset).__name__}] was created: {len(dataset)} examples')
    on_gpu = bool(opt.gpu_ids)
    return torch.utils.data.DataLoader(
        dataset, batch_size=opt.batchSize, shuffle=not opt.serial_batches, num_workers=opt.nThreads,
        pin_memory=on_gpu, persistent_workers=opt.nThreads > 0)
