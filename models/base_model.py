"""Bookkeeping shared by every model."""
import functools
import os
from collections import OrderedDict

import torch
from torch import nn

from util import checkpoint, distributed
from util.errors import UserError, warn_once
from util.image_pool import ImagePool
from . import networks
from .divergence_guard import DivergenceGuard


@functools.cache
def compile_available():
    """Whether torch.compile works here (its default backend needs a C++ compiler); warns once if not."""
    try:
        torch.compile(lambda x: x * 2)(torch.ones(2))
        return True
    except Exception as err:  # no compiler, unsupported platform or Python, ...
        warn_once(f'--compile is unavailable here ({type(err).__name__}: {(str(err).splitlines() or [""])[0]}); '
                  f'running eagerly')
        return False


class BaseModel:
    """A model declares, in its constructor,
    - loss_names: reported losses, each stored as self.loss_<name>;
    - visual_names: images to show, each self.<name> (a tensor, or a list of frames);
    - model_names: networks, each self.net<name>, saved as <epoch>_net_<name>.pth;
    - optimizers (training only),
    and implements set_input, forward and optimize_parameters. `name` is its --model.
    """
    name = None
    aliases = ()  # other names --model accepts for it

    @staticmethod
    def modify_commandline_options(parser, is_train):
        """Add the model's own flags, or change defaults of shared ones."""
        return parser

    @staticmethod
    def check_options(opt):
        """A UserError for a bad value of the model's own flags (options' check() calls it, before anything
        is built); every number flag is also checked to be finite there."""

    def __init__(self, opt):
        self.opt = opt
        self.isTrain = opt.isTrain
        self.gpu_ids = opt.gpu_ids
        self.device = torch.device(f'cuda:{opt.gpu_ids[0]}') if opt.gpu_ids else torch.device('cpu')
        self.save_dir = os.path.join(opt.checkpoints_dir, opt.name)
        # one network call on a batch of frames equals one call per frame, unless BatchNorm mixes
        # their statistics or dropout draws its masks in another order than the authors' code
        self.batch_frames = opt.norm != 'batch' and opt.no_dropout
        self.loss_names, self.visual_names, self.model_names, self.optimizers = [], [], [], []
        self.image_paths = []
        self.guard = DivergenceGuard(getattr(opt, 'nan_policy', 'stop'), self.device)
        # opt-in speed flags (train.py): mixed precision, memory format, compilation
        self.amp_dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(getattr(opt, 'amp', None))
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.memory_format = torch.channels_last if getattr(opt, 'channels_last', False) else torch.preserve_format
        self.compiled = {}  # method name -> its torch.compile'd version (--compile)
        if self.device.type == 'cuda':
            torch.backends.cudnn.benchmark = True

    # -- construction ---------------------------------------------------------------------------
    def max_params(self):
        """Largest network (in parameters) this device is let to build: weights, gradients and Adam's
        two moments (16 bytes a parameter) when training, 4 bytes otherwise, for two such networks."""
        per_param = 16 if self.isTrain else 4
        return networks.device_memory_bytes(self.device) // (2 * per_param)

    def place(self, net):
        """Move a network to the device (and memory format); under torchrun with --norm batch, use
        SyncBatchNorm; several --gpu_ids without torchrun split each batch with DataParallel."""
        net = net.to(self.device, memory_format=self.memory_format)
        if distributed.world_size() > 1 and self.opt.norm == 'batch':
            if self.device.type == 'cuda':  # batch statistics over all processes' images
                net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            elif distributed.is_main():
                warn_once('SyncBatchNorm needs GPUs: on the CPU each process keeps its own batch statistics')
        if len(self.gpu_ids) > 1:
            net = nn.DataParallel(net, self.gpu_ids)
        return net

    def begin_iteration(self):
        """Called first in optimize_parameters: count it, and tell CUDA graphs (--compile reduce-overhead or
        max-autotune) that the outputs of the last iteration's graphs may be overwritten now."""
        self.guard.next_iteration()
        if getattr(self.opt, 'compile', None) in ('reduce-overhead', 'max-autotune'):
            torch.compiler.cudagraph_mark_step_begin()

    def region(self, method):
        """`method` as it is, or with --compile MODE compiled by torch.compile (once): a whole forward-and-loss
        region of the step, whose network calls become one graph (forward and backward)."""
        mode = getattr(self.opt, 'compile', None)
        if not mode or not compile_available():
            return method
        if method.__name__ not in self.compiled:
            self.compiled[method.__name__] = torch.compile(method, mode=None if mode == 'default' else mode)
        return self.compiled[method.__name__]

    def to_device(self, image):
        return image.to(self.device, non_blocking=True, memory_format=self.memory_format)

    def autocast(self):
        """Mixed precision for forward passes and losses with --amp, a no-op otherwise."""
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def backward(self, loss):
        """loss.backward(), scaled with --amp fp16 so that small fp16 gradients do not vanish. There the
        scaler skips a step whose gradients are not finite: a loss the guard rejects gets nan gradients."""
        if self.scaler.is_enabled():
            loss = self.guard.poison(loss)
        self.scaler.scale(loss).backward()

    def setup(self, opt):
        """Create the schedulers; load networks for testing or --continue_train; print sizes."""
        if self.isTrain:
            self.schedulers = [networks.get_scheduler(optimizer, opt) for optimizer in self.optimizers]
        # going on from the state file, its networks are loaded instead (checkpoint.resume)
        if not self.isTrain or (opt.continue_train and not checkpoint.resumes_from_state(opt, self.save_dir)):
            self.load_networks(opt.which_epoch)
        for name in self.model_names:  # every process starts from the same weights
            distributed.broadcast_from_main(self.network(name))
        self.print_networks()

    # -- running ----------------------------------------------------------------------------------
    def set_input(self, input):
        raise NotImplementedError

    def forward(self):
        raise NotImplementedError

    def optimize_parameters(self):
        raise NotImplementedError

    def run(self, net, *frames):
        """[net(frame) for frame in frames], as one call on the batch of frames where that is exact."""
        return self.call(net, *[(frame,) for frame in frames])

    def call(self, net, *inputs):
        """[net(*args) for args in inputs], as one call on the concatenated batch where that is exact."""
        if self.batch_frames and len(inputs) > 1:
            merged = [torch.cat(parts) for parts in zip(*inputs)]
            return list(net(*merged).split([args[0].shape[0] for args in inputs]))
        return [net(*args) for args in inputs]

    def run_groups(self, net, *groups):
        """net on every input of every group (a frame, or a tuple of frames for a predictor) in one call,
        the outputs grouped as the inputs were. For the batched forward passes (no BatchNorm, no dropout)."""
        inputs = [x if isinstance(x, tuple) else (x,) for group in groups for x in group]
        outputs, grouped = self.call(net, *inputs), []
        for group in groups:
            grouped.append(outputs[:len(group)])
            outputs = outputs[len(group):]
        return grouped

    def test(self):
        """Forward without gradients (test.py)."""
        with torch.no_grad(), self.autocast():
            self.forward()

    def eval(self):
        for name in self.model_names:
            getattr(self, 'net' + name).eval()

    def step(self, optimizer, losses, parameters=None, record=True):
        """Average the gradients of `parameters` (default: all of optimizer's) over the processes and take
        optimizer's step on them, unless the sum of `losses` ({name: tensor}, already backpropagated) is not
        finite in some process: the step is then skipped on the device (fused Adam's found_inf), without the
        host waiting for it, and counted by self.guard (record=False: the same losses were counted already)."""
        if parameters is None:
            parameters = [p for group in optimizer.param_groups for p in group['params']]
        # the gradients' collectives also sum every process's verdict: all processes skip alike
        bad = distributed.average_gradients(parameters, extra=self.guard.nonfinite(losses))
        skip = self.guard.skip(losses, bad, record)
        if self.scaler.is_enabled():  # --amp fp16: the scaler sets found_inf itself (see backward)
            self.scaler.step(optimizer)
            return
        optimizer.found_inf = skip
        try:
            optimizer.step()
        finally:
            del optimizer.found_inf

    def step_early(self, optimizer, net, losses):
        """self.step on `net`'s parameters alone, whose gradients are complete, then free those gradients;
        the optimizer's other parameters keep theirs for their own step later. Adam updates each parameter
        on its own, so this gives the numbers of one step on all; the later step counts the losses."""
        mine = {id(p) for p in net.parameters()}
        others = {p: p.grad for group in optimizer.param_groups for p in group['params'] if id(p) not in mine}
        for p in others:
            p.grad = None  # Adam passes over parameters without a gradient
        try:
            self.step(optimizer, losses, parameters=list(net.parameters()), record=False)
        finally:
            for p, grad in others.items():
                p.grad = grad
        net.zero_grad(set_to_none=True)

    @property
    def skipped_steps(self):
        """Optimizer steps skipped for a non-finite loss and reported so far (--nan_policy skip)."""
        return self.guard.skipped

    @skipped_steps.setter
    def skipped_steps(self, value):
        self.guard.skipped = value

    @staticmethod
    def set_requires_grad(nets, requires_grad):
        for net in nets:
            for param in net.parameters():
                param.requires_grad_(requires_grad)

    def update_learning_rate(self, metric=None):
        """Step every scheduler once (an epoch ends); `metric` feeds --lr_policy plateau."""
        old_lr = self.optimizers[0].param_groups[0]['lr']
        for scheduler in self.schedulers:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(metric)
            else:
                scheduler.step()
        lr = self.optimizers[0].param_groups[0]['lr']
        print(f'learning rate {old_lr:.7f} -> {lr:.7f}')

    # -- reporting --------------------------------------------------------------------------------
    def get_current_losses(self):
        """Ordered {name: float} of loss_names."""
        return OrderedDict((name, float(torch.as_tensor(getattr(self, 'loss_' + name)).detach()))
                           for name in self.loss_names)

    def get_current_visuals(self):
        """Ordered {label: (N, C, H, W) tensor}; a list of frames gives <name>0, <name>1, ... (or <name> alone)."""
        visuals = OrderedDict()
        for name in self.visual_names:
            value = getattr(self, name, None)
            if isinstance(value, (list, tuple)):
                if len(value) == 1:
                    visuals[name] = value[0]
                else:
                    visuals.update((f'{name}{t}', frame) for t, frame in enumerate(value))
            elif value is not None:
                visuals[name] = value
        return visuals

    def get_image_paths(self):
        return self.image_paths

    def print_networks(self):
        for name in self.model_names:
            count = networks.count_parameters(getattr(self, 'net' + name))
            print(f'[Network {name}] parameters: {count:,} ({count / 1e6:.3f} M)')

    # -- checkpoints ------------------------------------------------------------------------------
    def network(self, name):
        """self.net<name> without its DataParallel wrapper."""
        net = getattr(self, 'net' + name)
        return net.module if isinstance(net, nn.DataParallel) else net

    def save_networks(self, epoch):
        """Write <save_dir>/<epoch>_net_<name>.pth (a CPU state_dict, the authors' format) for every
        network, each file atomically, and <epoch>_nets.json, which tells a set cut off midway."""
        os.makedirs(self.save_dir, exist_ok=True)
        states = {name: {k: v.detach().cpu() for k, v in self.network(name).state_dict().items()}
                  for name in self.model_names}
        checkpoint.save_set(self.save_dir, epoch, states)

    def load_networks(self, epoch):
        checkpoint.check_set(self.save_dir, epoch, self.model_names)
        for name in self.model_names:
            path = os.path.join(self.save_dir, f'{epoch}_net_{name}.pth')
            load_state_dict_file(self.network(name), path)
            print(f'loaded {path}')

    def _pools(self):
        return {name: pool for name, pool in vars(self).items() if isinstance(pool, ImagePool)}

    def training_state(self):
        """Everything of the model a resumed run needs: networks, optimizers, schedulers, image pools."""
        return {'nets': {name: self.network(name).state_dict() for name in self.model_names},
                'optimizers': [optimizer.state_dict() for optimizer in self.optimizers],
                'schedulers': [scheduler.state_dict() for scheduler in self.schedulers],
                'pools': {name: pool.images for name, pool in self._pools().items()},
                'scaler': self.scaler.state_dict()}

    def load_training_state(self, state, source):
        """Restore training_state(); a state of another model or optimizer layout is a UserError naming source."""
        self.check_training_state(state, source)
        for name in self.model_names:
            load_state_dict(self.network(name), state['nets'][name], f'{source} ({name})')
        for optimizer, saved in zip(self.optimizers, state['optimizers']):
            optimizer.load_state_dict(saved)
        for scheduler, saved in zip(self.schedulers, state['schedulers']):
            scheduler.load_state_dict(saved)
        for name, pool in self._pools().items():
            pool.images = [image.to(self.device) for image in state['pools'][name]]
        if state.get('scaler'):
            self.scaler.load_state_dict(state['scaler'])

    def check_training_state(self, state, source):
        mine = self.training_state()
        differences = []
        if not isinstance(state, dict) or not all(isinstance(state.get(k), type(v)) for k, v in mine.items()
                                                   if k != 'scaler'):
            differences.append('not a training state of this code')
        else:
            for key in ('nets', 'pools'):
                if set(state[key]) != set(mine[key]):
                    differences.append(f'{key} {sorted(state[key])}, this model {sorted(mine[key])}')
            layout = [[len(group['params']) for group in o['param_groups']] for o in mine['optimizers']]
            saved = [[len(group['params']) for group in o.get('param_groups', [])] for o in state['optimizers']]
            if saved != layout:
                differences.append(f'optimizer parameter groups of sizes {saved}, this model {layout}')
            policies = [type(s).__name__ for s in self.schedulers]
            saved_policies = [scheduler_kind(saved) for saved in state['schedulers']]
            if saved_policies != [scheduler_kind(s.state_dict()) for s in self.schedulers]:
                differences.append(f'schedulers not {policies} (--lr_policy {self.opt.lr_policy})')
        if differences:
            raise UserError(f'{source} is of another model or optimizer layout ({"; ".join(differences)}): resume '
                            f'with the flags it was saved with (--model, --lr_policy, ...; see opt.txt beside it), '
                            f'or train afresh without --continue_train')

    def follow_lr_flags(self, saved_lr):
        """After load_training_state: set the learning rates the current --lr and schedule flags give at the
        resumed epoch (the optimizers' saved ones follow the flags of the saved run); `saved_lr` is its --lr."""
        lr = self.opt.lr
        for optimizer, scheduler in zip(self.optimizers, self.schedulers):
            groups = optimizer.param_groups
            previous_lr = saved_lr if saved_lr is not None else groups[0].get('initial_lr', lr)
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                rates = [group['lr'] * lr / previous_lr for group in groups]  # its reductions so far, kept
            elif isinstance(scheduler, torch.optim.lr_scheduler.StepLR):
                if previous_lr == lr and scheduler.step_size == self.opt.lr_decay_iters:
                    continue  # unchanged: keep the saved rates bit for bit
                scheduler.step_size = self.opt.lr_decay_iters
                rates = [lr * scheduler.gamma ** (scheduler.last_epoch // scheduler.step_size) for _ in groups]
            else:  # LambdaLR: its rule reads the current flags; the same product as its own step computes
                rates = [lr * rule(scheduler.last_epoch) for rule in scheduler.lr_lambdas]
            scheduler.base_lrs = [lr] * len(groups)
            for group, rate in zip(groups, rates):
                group['initial_lr'], group['lr'] = lr, rate


def scheduler_kind(state):
    """Which of networks.get_scheduler's schedules a scheduler's state_dict is from (by keys every torch version
    has: a torch upgrade may add or drop others)."""
    return 'plateau' if 'patience' in state else 'step' if 'step_size' in state else 'lambda'


def load_state_dict_file(net, path):
    """Load a checkpoint into net strictly; every way this can fail is a UserError naming the file."""
    state = checkpoint.load(path)
    if not isinstance(state, dict):
        raise UserError(f'{path} holds a {type(state).__name__}, not a state_dict')
    load_state_dict(net, state, path)


def load_state_dict(net, state, source):
    """net.load_state_dict(state) (strict), with a one-line UserError saying which keys differ."""
    state = drop_instance_norm_stats(net, state)
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        parts = [f'{label} {keys[0]}' + (f' (+{len(keys) - 1} more)' if len(keys) > 1 else '')
                 for label, keys in (('missing', missing), ('unexpected', unexpected), ('other shape:', wrong))
                 if keys]
        raise UserError(f'{source} is from another architecture ({"; ".join(parts)}): pass the flags it was trained '
                        f'with (--which_model_netG/P/D, --ngf/--npf/--ndf, --norm, --input_nc/--output_nc; see '
                        f'its opt.txt)')
    net.load_state_dict(state)


def drop_instance_norm_stats(net, state):
    """Checkpoints from PyTorch < 0.4 carry running statistics for InstanceNorm layers, which no
    longer keep them; drop those entries."""
    stats = ('running_mean', 'running_var', 'num_batches_tracked')
    modules = dict(net.named_modules())
    return {k: v for k, v in state.items()
            if not (k.rsplit('.', 1)[-1] in stats and isinstance(modules.get(k.rsplit('.', 1)[0]), nn.InstanceNorm2d))}
