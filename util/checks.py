"""Checks of flag values and paths, each a one-line UserError naming the flag."""
import math
import os

from util.errors import UserError


def number(flag, value, low=None, high=None, *, low_open=False, high_open=False):
    """value is finite and within [low, high] (an open end excludes it)."""
    if value is None:
        return value
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or below or above:
        left = '' if low is None else f'{"above" if low_open else "at least"} {low:g}'
        right = '' if high is None else f'{"below" if high_open else "at most"} {high:g}'
        span = ' and '.join(part for part in (left, right) if part) or 'a finite number'
        raise UserError(f'{flag} {value:g}: give a number {span}' if left or right else f'{flag} {value}: give {span}')
    return value


def writable_folder(flag, path):
    """path is a folder that exists and is writable, or can be made: its nearest existing parent is a writable
    folder (nothing is created)."""
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise UserError(f'{flag} {path}: {existing} is a file, not a folder; give a folder')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f'{flag} {path}: {existing} is not writable; give a folder you can write to')
    return path


def readable_file(flag, path):
    """path is a file that can be read."""
    if not os.path.isfile(path):
        raise UserError(f'{flag} {path}: no such file')
    if not os.access(path, os.R_OK):
        raise UserError(f'{flag} {path}: not readable')
    return path
