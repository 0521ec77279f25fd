"""One progress bar over a whole job of several phases (retarget.py's decoding, timing, training and
translating), with an ETA for all of it."""
import sys
import time

from tqdm import tqdm


class JobBar:
    """One bar over the whole job: time spent against time spent plus the estimated time left, which each
    phase gives as units left times seconds a unit, or as a deadline; the work after it is added."""

    def __init__(self, stdout, started):
        self.stdout, self.start = stdout, started
        # disable=None: no bar where stderr is not a terminal (logs, pipes, tests)
        self.bar = tqdm(total=1, file=sys.stderr, dynamic_ncols=True, disable=None,
                        bar_format='{desc} {percentage:3.0f}%|{bar}| {postfix}')
        self.shown = 0.0
        self.phase('starting')

    def phase(self, name, of=0, each_s=0.0, later_s=0.0, done=0, end=None):
        """A phase of `of` units of each_s seconds, `done` of them done before (or one ending at the
        perf_counter time `end`), with later_s seconds of work after it."""
        self.name, self.of, self.count, self.each_s, self.later_s, self.end = name, of, done, each_s, later_s, end
        self.show(force=True)

    def show(self, force=False):
        now = time.perf_counter()
        if not force and now - self.shown < 0.2:
            return
        self.shown = now
        here = max(0.0, self.end - now) if self.end is not None else max(0, self.of - self.count) * self.each_s
        elapsed, left = now - self.start, here + self.later_s
        self.bar.total, self.bar.n = elapsed + left, elapsed
        self.bar.set_description_str(self.name + (f' {self.count:,}/{self.of:,}' if self.of else ''), refresh=False)
        self.bar.set_postfix_str(f'{tqdm.format_interval(elapsed)}<{tqdm.format_interval(left)}', refresh=False)
        self.bar.refresh()

    tick = show  # a phase without units to count (timing steps): the clock alone moves the bar

    def update(self, n=1):
        self.count += n
        self.show()

    def say(self, message):
        self.bar.clear()
        print(message, file=self.stdout, flush=True)
        self.bar.refresh()

    def close(self):
        self.bar.close()
