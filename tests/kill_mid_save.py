"""Helper of test_resume.py: save a tiny model's networks as `latest` twice in <folder>, the second time with
other weights, and SIGKILL this process as the second save is about to write its file number <kill_at>
(0: just after the manifest; the number of networks: after the last file)."""
import os
import signal
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from conftest import train_options  # noqa: E402
from models import create_model  # noqa: E402
from util import checkpoint  # noqa: E402


def main(folder, kill_at):
    opt = train_options(folder, '--model', 'cycle_gan', '--name', 'run')
    torch.manual_seed(0)  # the first save's weights, which the test builds again
    model = create_model(opt)
    model.save_networks('latest')
    with torch.no_grad():
        for name in model.model_names:
            for p in model.network(name).parameters():
                p.add_(1)
    written = []
    write = checkpoint.atomic_write

    def dying_write(path, writer):
        if path.endswith('.pth'):
            if len(written) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            written.append(path)
        write(path, writer)
    checkpoint.atomic_write = dying_write
    model.save_networks('latest')
    os.kill(os.getpid(), signal.SIGKILL)  # also when kill_at is past the last file: a kill right after the save


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]))
