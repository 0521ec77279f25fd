"""Helper of test_trackers.py: train.py with the given flags, SIGKILLed right after its iteration number <n> (after
that iteration's logging and save, as a power cut would stop it)."""
import itertools
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train  # noqa: E402


def main(n, argv):
    iterations = itertools.count(1)

    def on_step():
        if next(iterations) == n:
            os.kill(os.getpid(), signal.SIGKILL)

    train.main(argv, on_step=on_step)


if __name__ == '__main__':
    main(int(sys.argv[1]), sys.argv[2:])
