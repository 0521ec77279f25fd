"""A real, small file system for tests of full disks: a tmpfs mounted for the test (needs root, as CI runs)."""
import contextlib
import os
import subprocess

import pytest


@contextlib.contextmanager
def small_disk(folder, size='4m'):
    """Mount a tmpfs of `size` on folder (created) for the block; skips the test where that is impossible."""
    if os.geteuid() != 0:
        pytest.skip('mounting a small tmpfs needs root (CI runs as root)')
    os.makedirs(folder, exist_ok=True)
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f'cannot mount a tmpfs here: {mounted.stderr.strip()}')
    try:
        yield folder
    finally:
        subprocess.run(['umount', '-l', str(folder)], check=True)


def fill(folder):
    """Write zeros into <folder>/filler until the file system is full."""
    block = bytes(4096)
    with open(os.path.join(folder, 'filler'), 'wb', buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass
    with contextlib.suppress(OSError):  # and the last partial block
        with open(os.path.join(folder, 'filler2'), 'wb', buffering=0) as f:
            for _ in range(4096):
                f.write(b'\0')
