"""Checks of flags and paths, each a one-line UserError naming the flag: every entry point runs its
flags through these before it reads data, builds a network or writes a file."""
import math
import os

from .errors import UserError


def number(flag, value, low=None, high=None, *, low_open=False, high_open=False):
    """value, if it is a finite number in [low, high] (an open end with low_open / high_open; None: no bound);
    otherwise a UserError saying what to give."""
    fits = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and (low is None or (value > low if low_open else value >= low)) \
        and (high is None or (value < high if high_open else value <= high))
    if not fits:
        raise UserError(f'{flag} {value}: give {wanted(value, low, high, low_open, high_open)}')
    return value


def wanted(value, low, high, low_open, high_open):
    """What number() asks for, e.g. 'a whole number of at least 1' or 'a finite number in [0, 1)'."""
    kind = 'a whole number' if isinstance(value, int) else 'a finite number'
    low, high = (f'{x:g}' if isinstance(x, float) else x for x in (low, high))
    if low is not None and high is not None:
        return f'{kind} in {"(" if low_open else "["}{low}, {high}{")" if high_open else "]"}'
    if low is not None:
        return f'{kind} {"above" if low_open else "of at least"} {low}'
    if high is not None:
        return f'{kind} {"below" if high_open else "of at most"} {high}'
    return kind


def writable_folder(flag, path):
    """path, if it is a folder that can be written to or could be created where it is (nothing is created);
    otherwise a UserError."""
    if not path:
        raise UserError(f'{flag} is empty: give a folder')
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UserError(f'{flag} {path}: {parent} is a file, not a folder; give a folder')
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f'{flag} {path}: cannot write to {parent} (permission denied); give a folder you can '
                        f'write to')
    return path


def readable_file(flag, path):
    """path, if it is a file this process can read; otherwise a UserError."""
    if not path:
        raise UserError(f'{flag} is empty: give a file')
    if not os.path.exists(path):
        raise UserError(f'{flag} {path} does not exist')
    if not os.path.isfile(path):
        raise UserError(f'{flag} {path} is a folder, not a file')
    if not os.access(path, os.R_OK):
        raise UserError(f'{flag} {path}: cannot read it (permission denied)')
    return path
