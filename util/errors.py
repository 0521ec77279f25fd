"""One-line errors for bad input, instead of a traceback far from the cause, and one-time warnings."""
import argparse
import functools
import os
import sys


class UserError(Exception):
    """A problem with the user's flags, files or machine; the message says which and what to do."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser for the command line of `script` (its __file__) whose errors are a UserError: one line
    naming the flag and pointing to --help, instead of a usage block."""

    def __init__(self, script, **kwargs):
        kwargs.setdefault('formatter_class', argparse.RawDescriptionHelpFormatter)  # docstrings keep their lines
        super().__init__(prog=os.path.relpath(script), **kwargs)

    def error(self, message):
        raise UserError(f'{message} (python {self.prog} --help)')


def run_cli(main, argv=None):
    """Run main(argv); a UserError prints one line on stderr and exits with status 2.

    With --debug on the command line the traceback is shown instead. Under torchrun every process meets the
    same bad input: the first one says it, the others exit quietly.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        return main(argv)
    except UserError as err:
        if '--debug' in argv:
            raise
        if os.environ.get('RANK', '0') == '0':
            print(f'error: {one_line(err)}', file=sys.stderr, flush=True)
        sys.exit(2)


def one_line(err):
    """The message of a UserError, also when a DataLoader worker re-raised it wrapped in its traceback
    ("Caught UserError in DataLoader worker process 0. Original Traceback ... UserError: <message>")."""
    lines = str(err).strip().splitlines() or ['']
    last = lines[-1]
    prefix = f'{UserError.__module__}.{UserError.__qualname__}: '
    return last[len(prefix):] if last.startswith(prefix) else last


@functools.cache
def warn_once(message):
    """Print `warning: message` on stderr, the first time only."""
    print(f'warning: {message}', file=sys.stderr)
