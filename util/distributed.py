"""Training in several processes started by torchrun: one per GPU (NCCL), or CPU processes (gloo).

Every network is replicated; after each backward the gradients are averaged over the processes,
so every replica takes the same optimizer step (DistributedDataParallel's arithmetic, done with
explicit all-reduces because a Recycle-GAN step calls each network several times, in phases, and
freezes the discriminators during the generators' step, patterns DDP's wrapper does not follow).
Without torchrun (WORLD_SIZE unset or 1) every function here is a no-op for one process.
"""
import atexit
import os
import sys

import torch
import torch.distributed as dist

from .errors import UserError


def world_size():
    return dist.get_world_size() if dist.is_initialized() else 1


def rank():
    return dist.get_rank() if dist.is_initialized() else 0


def is_main():
    """Only the first process prints, logs, shows and saves (also before setup(): torchrun sets RANK)."""
    return (dist.get_rank() if dist.is_initialized() else int(os.environ.get('RANK', '0'))) == 0


def setup(opt):
    """Join torchrun's process group and give this process one device (opt.gpu_ids becomes
    [its GPU], or [] on the CPU); other ranks' standard output goes quiet."""
    if int(os.environ.get('WORLD_SIZE', '1')) <= 1:
        return
    # torch.distributed.nn.functional takes group.WORLD as a default argument when first imported (torch.optim
    # imports it through torch._inductor): imported after init_process_group, it would hold the group
    # forever, so destroy_process_group could not stop gloo's threads, which then run into the interpreter's
    # shutdown, where a thread that needs the GIL aborts the process ("terminate called without an active
    # exception"). Imported now, its default is None.
    import torch.distributed.nn.functional  # noqa: F401
    local_rank = int(os.environ['LOCAL_RANK'])
    if opt.gpu_ids:
        # --gpu_ids lists one GPU per local process; the default (one id) means GPUs 0, 1, ... in order
        gpus = opt.gpu_ids if len(opt.gpu_ids) > 1 else list(range(torch.cuda.device_count()))
        if local_rank >= len(gpus):
            raise UserError(f'torchrun started {os.environ["LOCAL_WORLD_SIZE"]} processes on this node but '
                            f'--gpu_ids gives {len(gpus)} GPU(s): pass --nproc_per_node {len(gpus)} or more GPUs')
        opt.gpu_ids = [gpus[local_rank]]
        torch.cuda.set_device(opt.gpu_ids[0])
        dist.init_process_group('nccl', device_id=torch.device('cuda', opt.gpu_ids[0]))
    else:
        dist.init_process_group('gloo')
    # also on the way out through an error or sys.exit, which skip train.py's own teardown (see above)
    atexit.register(teardown)
    if not is_main():
        sys.stdout = open(os.devnull, 'w')


def teardown():
    if dist.is_initialized():
        dist.destroy_process_group()


BUCKET_BYTES = 25 * 2 ** 20  # DistributedDataParallel's default bucket_cap_mb


def buckets(tensors, cap=None):
    """tensors split into consecutive groups of one dtype and device, each of at most `cap` bytes
    (default BUCKET_BYTES) unless one tensor alone is larger."""
    cap = BUCKET_BYTES if cap is None else cap
    groups, size = [], 0
    for t in tensors:
        nbytes = t.numel() * t.element_size()
        last = groups[-1] if groups else None
        if last and (last[0].dtype, last[0].device) == (t.dtype, t.device) and size + nbytes <= cap:
            last.append(t)
            size += nbytes
        else:
            groups.append([t])
            size = nbytes
    return groups


def average_gradients(parameters, extra=None):
    """Replace every gradient by its mean over the processes; return `extra` (a small tensor, e.g. a
    verdict of this process) summed over them. The gradients travel flattened in a few buckets, one
    all_reduce each (a collective per tensor costs a round trip per tensor), and `extra` rides in the
    first one; nothing here waits on the host for the device."""
    if world_size() == 1:
        return extra
    groups = buckets([p.grad for p in parameters if p.grad is not None])
    flats = [torch.cat([g.reshape(-1) for g in group]) for group in groups]
    if extra is not None:  # rides in the first bucket, in its dtype (small counts are exact in any float)
        extra_part = extra.reshape(-1).to(flats[0].dtype if flats else extra.dtype)
        flats[:1] = [torch.cat(flats[:1] + [extra_part])]
    for work in [dist.all_reduce(flat, async_op=True) for flat in flats]:
        work.wait()
    for group, flat in zip(groups, flats):
        sizes = [g.numel() for g in group]
        for g, part in zip(group, flat[:sum(sizes)].div_(world_size()).split(sizes)):
            g.copy_(part.view_as(g))  # view_as: also into a channels_last gradient
    return None if extra is None else flats[0][-extra.numel():].reshape(extra.shape).to(extra.dtype)


def mean(value):
    """The mean over the processes of a scalar tensor (or the tensor itself in one process)."""
    if world_size() == 1:
        return value
    value = value.detach().clone()
    dist.all_reduce(value)
    return value / world_size()


def any_process(flag, device):
    """True on every process if `flag` is true on any of them (e.g. a stop request)."""
    if world_size() == 1:
        return bool(flag)
    value = torch.tensor(float(bool(flag)), device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value)


def shared(value):
    """The first process's value of a picklable object, on every process."""
    if world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_from_main(module):
    """Copy the first process's parameters and buffers to every process."""
    if world_size() == 1:
        return
    for tensor in module.state_dict().values():
        dist.broadcast(tensor, src=0)
