"""The sweep's pieces: the benchmark laid out as clips, the snapshot schedule, and training in chunks
that skips finished snapshots and resumes an interrupted one."""
import argparse
import json
import os

import numpy as np
from PIL import Image

from data.video_dataset import find_clips
from scripts.make_benchmark import write_benchmark, write_clips
from scripts.sweep import snapshots, run_config


def test_clips_layout_has_every_photo_clip_and_the_label_clips(tmp_path):
    out = str(tmp_path / 'bench')
    write_benchmark(out, size=32, train_clips=1, test_clips=1, frames=4, test_frames=3, styles=('day', 'night'))
    root = write_clips(out)
    # training clips (c000, c001) and test clips (c00) as photo clips; label clips only of training scenes
    assert sorted(os.listdir(os.path.join(root, 'trainA'))) == ['day_c00', 'day_c000', 'night_c00', 'night_c001']
    assert sorted(os.listdir(os.path.join(root, 'trainB'))) == ['labels_c000', 'labels_c001']
    assert sorted(os.listdir(os.path.join(root, 'trainA', 'night_c001'))) == [
        f'night_c001_{t:04d}.png' for t in range(4)]
    # the frames cut from the strips are the clip's frames: frame t + 1 is frames/trainA's middle frame t
    for t in range(2):
        cut = np.asarray(Image.open(os.path.join(root, 'trainA', 'day_c000', f'day_c000_{t + 1:04d}.png')))
        middle = np.asarray(Image.open(os.path.join(out, 'frames', 'trainA', f'day_c000_{t:04d}.png')))
        assert (cut == middle).all()
    # a test clip is its testA frames; --dataset_mode video reads one clip per folder
    assert len(os.listdir(os.path.join(root, 'trainA', 'day_c00'))) == 3
    assert {c.name: len(c) for c in find_clips(os.path.join(root, 'trainA'))} == {
        'day_c00': 3, 'day_c000': 4, 'night_c00': 3, 'night_c001': 4}


def test_snapshots_double_from_125_and_end_at_the_budget():
    assert snapshots(1000) == [125, 250, 500, 1000]
    assert snapshots(3100) == [125, 250, 500, 1000, 2000, 3000]
    assert snapshots(60) == [125]


def test_run_trains_in_chunks_skips_done_snapshots_and_resumes(tmp_path):
    args = argparse.Namespace(out=str(tmp_path / 'out'), runs_dir=str(tmp_path / 'runs'), clips='clips', seed=0,
                              use_wandb=False, tensorboard=False, wandb_project_name="x", train_size=64)
    calls = []

    def trainer(argv):
        calls.append(argv[argv.index('--niter') + 1:])
        folder = os.path.join(args.out, 'checkpoints', 'recycle_gan_w8')
        os.makedirs(folder, exist_ok=True)
        open(os.path.join(folder, 'latest_train_state.pth'), 'w').close()

    def scorer():
        return {'miou': 0.5, 'pixel_acc': 0.9, 'warp_error': 3.0, 'change_ratio': 1.0}

    run_config(args, 'recycle_gan', 8, [125, 250], trainer, scorer)
    # a fresh run, then on from its latest state; --niter counts epochs of 125 iterations
    assert calls == [['1'], ['2', '--continue_train']]
    with open(os.path.join(args.runs_dir, 'recycle_gan_w8_it250.json')) as f:
        assert json.load(f)['iterations'] == 250
    calls.clear()
    os.remove(os.path.join(args.runs_dir, 'recycle_gan_w8_it250.json'))  # scored, say, before a kill
    run_config(args, 'recycle_gan', 8, [125, 250, 500], trainer, scorer)
    # 125 is skipped (its JSON), 250 is trained already (only scored again), 500 goes on from the state
    assert calls == [['4', '--continue_train']]
    assert sorted(os.listdir(args.runs_dir)) == [f'recycle_gan_w8_it{n}.json' for n in (125, 250, 500)]
