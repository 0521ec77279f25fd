"""retarget.py's budget arithmetic: which network a time budget buys, how many iterations, in how many
epochs, and a deadline that keeps training on time when the machine's speed changes. Plain numbers in,
plain numbers out: no torch, no files (the tests give it step times instead of timing anything)."""
import dataclasses
import math
import time

from util.errors import UserError

MIN_ITERATIONS = 50  # the smallest run worth training: fewer steps leave the generators near their initialisation
EPOCH_MIN_S = 300  # save (end an epoch) at least this often, so that a kill loses at most a few minutes
HEADROOM = 1.25
TIMING_SHARE = 0.05  # of a --minutes budget, the most that timing candidate networks may cost


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A network retarget.py may train: frame size, width (ngf = ndf = npf) and model (None: the user's flags),
    and the fewest iterations at which it beats every cheaper candidate (measured on the benchmark:
    docs/sweep/README.md)."""
    size: int
    width: int
    min_iterations: int
    model: str = 'recycle_gan'

    @property
    def cost(self):
        """Relative work of a step: convolutions scale with the pixels and with the width squared."""
        return (self.size / 64) ** 2 * ((self.width or 64) / 8) ** 2

    def flags(self):
        widths = [] if self.width is None else [x for f in ('--ngf', '--ndf', '--npf') for x in (f, str(self.width))]
        return ([] if self.model is None else ['--model', self.model]) + widths


# Cheapest first. On the benchmark (64 px, one seed, docs/sweep/README.md) CycleGAN with 16 filters scored best
# at every number of iterations measured (125 to 1000: mean IoU 0.35 to 0.48, the lowest warp error at 1000),
# above ReCycle-GAN and Recycle-GAN at 8, 16 or 32 filters, and at 2, 5, 10 and 20 minutes of this CPU: it is the
# CPU's network. The authors' Recycle-GAN networks (64 filters at 64, 128 and 256 px, for GPUs) are not measured
# on the curves; they take 20,000 iterations, 10 to 20 times what the 64 px networks needed to level off, which a
# GPU's budget of some minutes buys at 256 px (docs/sweep/README.md) and a CPU's never does.
CANDIDATES = (Candidate(64, 16, MIN_ITERATIONS, 'cycle_gan'), Candidate(64, 64, 20000),
              Candidate(128, 64, 20000), Candidate(256, 64, 20000))


def choose(candidates, affordable):
    """The widest candidate that the budget lets reach its min_iterations, where affordable(candidate) is the
    number of iterations the budget buys of it; the cheapest if none does (None if it cannot even train
    MIN_ITERATIONS). Candidates come cheapest first."""
    fitting = [c for c in candidates if affordable(c) >= c.min_iterations]
    if fitting:
        return fitting[-1]
    return candidates[0] if affordable(candidates[0]) >= MIN_ITERATIONS else None


@dataclasses.dataclass
class Timing:
    step_s: float  # one training iteration
    save_s: float  # one save of the latest weights and training state
    setup_s: float  # building the dataset and the model
    frame_s: float  # translating one frame (the generator, reading and writing, at the translation size)


@dataclasses.dataclass
class Plan:
    iterations: int
    epochs: int
    epoch_size: int  # iterations an epoch
    niter: int
    niter_decay: int
    step_s: float
    train_s: float  # the training loop: iterations and saves
    other_s: float  # decoding and timing (already spent), starting up twice, translating
    translate_s: float  # translating, a part of other_s
    save_s: float
    setup_s: float  # building the dataset and the model (train.main's start)
    deadline: bool = False  # --minutes: epochs end early when the machine is slower than measured
    amp: str = None

    @property
    def cap(self):
        """train.py's epoch in iterations: under a deadline HEADROOM times the planned ones, which an epoch
        may run if the machine gets faster (the Deadline ends it on time otherwise)."""
        return math.ceil(self.epoch_size * HEADROOM) if self.deadline else self.epoch_size

    @property
    def total_s(self):
        return self.train_s + self.other_s

    def describe(self, size):
        return (f'{self.iterations:,} iterations of {size} px ({self.epochs} epochs of {self.epoch_size:,}, the '
                f'learning rate decaying over the last {self.niter_decay}), {self.amp or "fp32"}, about '
                f'{self.total_s / 60:.1f} min ({self.train_s / 60:.1f} training, {self.other_s / 60:.1f} decoding, '
                f'timing and translating)')


def choose_epochs(iterations, step_s, save_s, epochs=None):
    """The number of epochs: every epoch ends with a save, and with the authors' schedule the last one
    runs at learning rate 0, so few epochs waste a share 1/E of the steps and many spend E saves:
    sqrt(train time / save time) balances the two; at least one save every EPOCH_MIN_S, at least 2
    (one at the full rate, one decaying), at most 200 (the authors' 100 + 100). Among close numbers,
    the one that divides the iterations with the smallest remainder (a remainder is not trained)."""
    if epochs:
        return min(epochs, iterations)
    train_s = iterations * step_s
    most = min(200, iterations)
    ideal = min(most, max(2.0, math.sqrt(train_s / max(save_s, 1e-3)), train_s / EPOCH_MIN_S))
    candidates = range(min(most, max(2, math.floor(ideal / 1.25))), min(most, math.ceil(ideal * 1.25)) + 1)
    return min(candidates, key=lambda e: (iterations % e, abs(e - ideal)))


def affordable_iterations(timing, spent_s, translate_s, budget_s):
    """About how many iterations fit in budget_s after what is spent, starting up twice, translating and a
    save every EPOCH_MIN_S (a first guess: make_plan settles the saves exactly)."""
    left = budget_s - spent_s - 2 * timing.setup_s - translate_s - 3 * timing.save_s
    return max(0, int(left / (timing.step_s + timing.save_s / EPOCH_MIN_S * timing.step_s)))


def make_plan(timing, spent_s, translate_s, budget_s=None, iterations=None, epochs=None):
    """The schedule that fills budget_s (seconds, the whole job) given what has been spent and the seconds that
    translating will take, or runs `iterations`; a budget too small for MIN_ITERATIONS is a UserError saying
    the smallest that works."""
    other_s = spent_s + 2 * timing.setup_s + translate_s

    def plan(n):
        e = choose_epochs(n, timing.step_s, timing.save_s, epochs)
        epoch_size = n // e
        niter = math.ceil(e / 2)  # the authors' 100 + 100: half at the full rate, half decaying
        train_s = e * epoch_size * timing.step_s + (e + 1) * timing.save_s  # + the last epoch's numbered weights
        return Plan(e * epoch_size, e, epoch_size, niter, e - niter, timing.step_s, train_s, other_s, translate_s,
                    timing.save_s, timing.setup_s, deadline=budget_s is not None)

    if iterations is not None:
        return plan(iterations)
    n = max(MIN_ITERATIONS, int((budget_s - other_s) / timing.step_s))
    result = plan(n)
    # the saves depend on the number of epochs, which depends on the iterations: settle both
    while n > MIN_ITERATIONS and result.total_s > budget_s:
        n = max(MIN_ITERATIONS, n - math.ceil((result.total_s - budget_s) / timing.step_s))
        result = plan(n)
    # a few more iterations may fit where the division into epochs left a remainder
    for more in range(n + 1, n + 2 * result.epochs + 2):
        candidate = plan(more)
        if candidate.total_s <= budget_s and candidate.iterations > result.iterations:
            result = candidate
    if result.total_s > budget_s:
        raise UserError(f'--minutes {budget_s / 60:g} is too short for even {MIN_ITERATIONS} iterations here '
                        f'({timing.step_s:.2f} s each, {other_s / 60:.1f} min to decode, time and translate): '
                        f'the smallest useful run needs --minutes {math.ceil(result.total_s / 6) / 10:g}')
    return result


class Deadline:
    """on_step for train.main under --minutes: ends an epoch once it has used its share of the training
    time left (split evenly over the epochs left, less their saves), so that training ends on time with
    every epoch run, the learning-rate schedule complete, whatever the machine's load does meanwhile.
    An epoch also ends by itself after `cap` iterations. later_s: the planned seconds of work after
    training (translating), which a machine slower than timed also stretches: training gives it the
    difference."""

    def __init__(self, end, epochs_left, in_epoch, cap, plan, on_step, later_s=0.0):
        self.end, self.left, self.in_epoch, self.cap, self.on_step = end, epochs_left, in_epoch, cap, on_step
        self.step_s, self.save_s = plan.step_s, plan.save_s  # running estimates
        self.planned_step_s, self.later_s = plan.step_s, later_s
        self.epoch_start = self.last = None

    def __call__(self):
        self.on_step()
        now = time.perf_counter()
        if self.epoch_start is None:  # the epoch's first step: before it, the set-up or the last epoch's end
            self.epoch_start = now - self.step_s
            if self.last is not None:  # what an epoch's end (save, page, schedule) really costs on this machine
                self.save_s = 0.5 * self.save_s + 0.5 * max(0.0, self.epoch_start - self.last)
        else:
            self.step_s = 0.8 * self.step_s + 0.2 * (now - self.last)
        self.last = now
        self.in_epoch += 1
        slowdown = min(4.0, max(0.5, self.step_s / self.planned_step_s))
        end = self.end - self.later_s * (slowdown - 1)
        share = (end - self.epoch_start - (self.left + 1) * self.save_s) / self.left
        # another step would overrun the share by more than half a step: end here (rounding, not truncating)
        if self.in_epoch >= self.cap or now - self.epoch_start + self.step_s / 2 > share:
            self.left, self.in_epoch, self.epoch_start = max(1, self.left - 1), 0, None
            return True  # (at the cap train.py ends the epoch anyway)
        return False
