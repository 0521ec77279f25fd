"""One-line errors for bad input, instead of a traceback far from the cause."""
import sys


class UserError(Exception):
    """A problem with the user's flags, files or machine; the message says which and what to do."""


def run_cli(main, argv=None):
    """Run main(argv); a UserError prints one line on stderr and exits with status 2.

    With --debug on the command line the traceback is shown instead.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        return main(argv)
    except UserError as err:
        if '--debug' in argv:
            raise
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)
