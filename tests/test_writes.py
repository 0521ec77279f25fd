"""Writes that fail: a real full disk (a small tmpfs) is one line and loses no checkpoint; the loss log and the
HTML page warn once and training goes on; test.py's mp4s, the frame cache and evaluate.py's --json are one line;
evaluate.py's --motion files and dashboards answering HTTP errors are handled as the user would expect."""
import http.server
import os
import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import TINY, one_error_line, run_script, train_options
from data import create_dataset
from models.base_model import load_state_dict_file
from models.cycle_gan_model import CycleGANModel
from scripts import evaluate
from small_disk import fill, small_disk
from test_evaluate import ramp_folders
from util import checkpoint
from util.errors import UserError, run_cli
from util.visualizer import Visualizer

TRAIN = [*TINY, '--model', 'cycle_gan', '--print_freq', '2', '--display_freq', '2', '--seed', '1']


def test_a_full_disk_is_one_line_and_the_previous_checkpoint_loads(tmp_path):
    with small_disk(tmp_path / 'disk', '1m') as disk:
        checkpoint.save({'w': torch.ones(1000)}, disk / 'latest_net_G_A.pth')
        fill(disk)
        with pytest.raises(RuntimeError):  # why: torch.save itself reports a full disk so, not as an OSError
            torch.save({'w': torch.zeros(1000)}, disk / 'direct.pth')
        os.remove(disk / 'direct.pth')
        with pytest.raises(UserError, match=r'cannot write .*latest_net_G_A.pth \(No space left on device\); the '
                                            r'previous file there is intact'):  # 1.2 MB: more than a write buffer
            checkpoint.save({'w': torch.zeros(300_000)}, disk / 'latest_net_G_A.pth')
        assert torch.equal(checkpoint.load(disk / 'latest_net_G_A.pth')['w'], torch.ones(1000))
        assert sorted(os.listdir(disk)) == ['filler', 'filler2', 'latest_net_G_A.pth']  # no temporary file left


def test_training_onto_a_full_disk_stops_with_one_line_and_keeps_the_last_save(tiny_data, tmp_path):
    with small_disk(tmp_path / 'disk', '16m') as disk:
        args = ['--dataroot', tiny_data, '--checkpoints_dir', str(disk), '--name', 'run', *TRAIN]
        run_script('train.py', *args, '--niter', '1', '--niter_decay', '0')
        folder = disk / 'run'
        saved = {f: (folder / f).read_bytes() for f in os.listdir(folder) if f.endswith(('.pth', '.json'))}
        log = folder / 'loss_log.txt'
        with open(log, 'a') as f:  # to a whole page of tmpfs: the next line needs one more, so it fails too
            f.write('\n' * (-log.stat().st_size % os.sysconf('SC_PAGE_SIZE')))
        fill(disk)
        result = run_script('train.py', *args, '--niter', '2', '--niter_decay', '0', '--continue_train', check=False)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines[-1].startswith(f'error: cannot write {folder}/') and 'No space left on device' in lines[-1]
        assert 'Traceback' not in result.stderr
        # the loss log and the HTML page cost one warning each, and training went on to the save
        assert sum('cannot write' in line and 'loss_log.txt' in line for line in lines) == 1
        assert sum('cannot update the HTML page' in line for line in lines) == 1
        assert {f: (folder / f).read_bytes() for f in saved} == saved  # the last save, untouched
        checkpoint.check_set(str(folder), 'latest', ['G_A', 'G_B', 'D_A', 'D_B'])
        opt = train_options(tmp_path / 'ck', '--model', 'cycle_gan')
        model = CycleGANModel(opt)
        for name in model.model_names:
            load_state_dict_file(model.network(name), str(folder / f'latest_net_{name}.pth'))
        assert checkpoint.load(str(folder / checkpoint.STATE_FILE))['progress']['epoch'] == 2


def test_test_py_on_a_full_disk_is_one_line_and_leaves_no_partial_mp4(tiny_data, tmp_path):
    run_script('train.py', '--dataroot', tiny_data, '--checkpoints_dir', str(tmp_path), '--name', 'run', *TRAIN,
               '--niter', '1', '--niter_decay', '0')
    with small_disk(tmp_path / 'disk', '256k') as disk:
        # the results folder and its opt.txt exist from an earlier run; then the disk fills up
        common = ['--video', os.path.join(tiny_data, 'testA'), '--name', 'run', '--checkpoints_dir', str(tmp_path),
                  '--results_dir', str(disk), *TINY]
        run_script('test.py', *common)
        videos = disk / 'run' / 'test_latest' / 'videos'
        for name in os.listdir(videos):
            os.remove(videos / name)
        fill(disk)
        result = run_script('test.py', *common, check=False)
        assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f'error: cannot write {videos}/') and 'No space left on device' in last, last
        assert os.listdir(videos) == []  # the partial mp4 was removed


def test_a_full_frame_cache_is_one_line_naming_it(tmp_path):
    for domain in 'AB':
        os.makedirs(tmp_path / 'data' / f'train{domain}' / 'clip')
        for t in range(5):
            Image.new('RGB', (32, 32), (t * 40, 0, 0)).save(tmp_path / 'data' / f'train{domain}' / 'clip' / f'{t}.png')
    with small_disk(tmp_path / 'disk', '64k') as disk:
        fill(disk)
        opt = train_options(tmp_path / 'ck', '--dataset_mode', 'video', '--model', 'recycle_gan', '--frame_cache',
                            str(disk / 'cache'), dataroot=str(tmp_path / 'data'))
        with pytest.raises(UserError, match=f'cannot write the frame cache {disk}/cache .*: free some disk space or '
                                            f'pick another --frame_cache'):
            create_dataset(opt)


def test_evaluate_json_that_cannot_be_written_is_one_line(tmp_path, capsys):
    ramp_folders(tmp_path)
    common = ['--pred', str(tmp_path / 'pred'), '--input', str(tmp_path / 'input')]
    line = one_error_line(evaluate.main, [*common, '--json', str(tmp_path / 'nowhere' / 'r.json')], capsys)
    assert line == f'error: --json {tmp_path}/nowhere/r.json: its folder does not exist; create it or give another path'
    with small_disk(tmp_path / 'disk', '64k') as disk:
        fill(disk)
        with pytest.raises(SystemExit):
            run_cli(evaluate.main, [*common, '--json', str(disk / 'r.json')])
        out, err = capsys.readouterr()
        assert '| overall |' in out  # the scores were printed before the write failed
        assert err.strip() == f'error: --json {disk}/r.json: cannot write it (No space left on device); the scores ' \
                              f'are printed above'


BAD_MOTION = {
    'not_a_zip': lambda path, flow, valid: path.write_bytes(b'not numpy'),
    'no_valid': lambda path, flow, valid: np.savez(path, flow=flow),
    'flat_flow': lambda path, flow, valid: np.savez(path, flow=flow[..., 0], valid=valid),
    'int_valid': lambda path, flow, valid: np.savez(path, flow=flow, valid=valid.astype(int)),
    'one_array': lambda path, flow, valid: np.save(path, flow),  # .npy content under the .npz name
}
MESSAGES = {'not_a_zip': 'not a motion file', 'no_valid': 'not a motion file', 'one_array': 'not a motion file',
            'flat_flow': 'not flow (T-1, H, W, 2) numbers', 'int_valid': 'not flow (T-1, H, W, 2) numbers'}


@pytest.mark.parametrize('case', sorted(BAD_MOTION))
def test_evaluate_motion_files_not_as_expected_are_one_line(case, tmp_path, capsys):
    flow, valid = ramp_folders(tmp_path)
    path = tmp_path / 'motion' / 'ramp.npz'
    BAD_MOTION[case](path, flow, valid)
    if case == 'one_array':
        os.replace(str(path) + '.npy', path)
    line = one_error_line(evaluate.main, ['--pred', str(tmp_path / 'pred'), '--input', str(tmp_path / 'input'),
                                          '--motion', str(tmp_path / 'motion')], capsys)
    assert line.startswith(f'error: {path}: ') and MESSAGES[case] in line, line


class Refusing(http.server.BaseHTTPRequestHandler):
    """A web server that is not visdom: every request gets 404 (and HEAD 500)."""

    def do_POST(self):
        self.send_error(404)

    def do_GET(self):
        self.send_error(404)

    def log_message(self, *args):
        pass


def test_a_server_answering_http_errors_costs_one_warning_like_no_server(tmp_path, capsys):
    # port 0: the system picks a free port, which the client is then given
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        opt = SimpleNamespace(display_id=1, display_port=server.server_address[1], display_server='http://127.0.0.1',
                              display_env='test', name='run', display_winsize=32, display_single_pane_ncols=0,
                              isTrain=True, no_html=True, checkpoints_dir=str(tmp_path))
        visualizer = Visualizer(opt)
        for i in range(3):
            visualizer.plot_current_losses(1, i / 3, {'G_A': 1.0})
    finally:
        server.shutdown()
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith('warning:')]
    # visdom's client reports the HTTP error as it reports a server that does not answer
    assert len(warnings) == 1 and f'no visdom dashboard at http://127.0.0.1:{opt.display_port} (ConnectionError); ' \
                                  f'training goes on' in warnings[0], warnings
