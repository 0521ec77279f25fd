"""Videos in, videos out: clip-aware triplets (--dataset_mode video), the frame cache, test.py on
videos, the conversion scripts and clear errors for broken files."""
import collections
import importlib.util
import os
import re
from fractions import Fraction

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, TINY, train_options
from data import create_dataset, video_dataset
from data.video_dataset import find_clips
from scripts.make_demo_data import write_dataset
from util.errors import UserError
from util.video import read_video, video_info, write_video


def to_uint8(x):
    return ((x + 1) / 2 * 255).round().to(torch.int64)


def write_clip(path, frames, fps=10):
    """An mp4 (path ends with .mp4) or a folder of PNG frames."""
    if path.endswith('.mp4'):
        write_video(path, frames, fps)
        return
    os.makedirs(path)
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(os.path.join(path, f'f{t}.png'))  # f10 must come after f9


def id_frame(clip, t, size=16):
    """A flat frame naming its clip and index: R = 40 + 60 clip, G = 10 + 20 t (coarse steps survive H.264)."""
    return np.full((size, size, 3), (40 + 60 * clip, 10 + 20 * t, 128), np.uint8)


def read_id(frame):
    """(clip, t) of an id_frame: an (H, W, 3) uint8 array, or a (3, H, W) tensor in [-1, 1]."""
    if isinstance(frame, torch.Tensor):
        frame = to_uint8(frame).permute(1, 2, 0).numpy()
    r, g = frame[8, 8, :2].tolist()
    return round((r - 40) / 60), round((g - 10) / 20)


# clips of very different lengths: two folders of PNGs (exact) and an mp4 between them
ID_CLIPS = [('a_short', 5), ('b_video.mp4', 7), ('c_long', 12)]


@pytest.fixture
def id_clips(tmp_path):
    for c, (name, n) in enumerate(ID_CLIPS):
        write_clip(str(tmp_path / 'trainA' / name), [id_frame(c, t) for t in range(n)])
    write_clip(str(tmp_path / 'trainB' / 'only'), [id_frame(0, t) for t in range(5)])
    return str(tmp_path)


def video_options(tmp_path, dataroot, *args):
    return train_options(tmp_path / 'ck', '--dataset_mode', 'video', '--loadSize', '16', '--fineSize', '16',
                         *args, dataroot=dataroot)


def triplet_ids(example, domain='A'):
    return [read_id(example[f'{domain}{t}']) for t in range(3)]


@pytest.mark.parametrize('stride', [1, 2])
def test_triplets_stay_inside_one_clip(id_clips, tmp_path, stride):
    dataset = create_dataset(video_options(tmp_path, id_clips, '--frame_stride', str(stride),
                                           '--serial_batches')).dataset
    expected = {(c, t) for c, (_, n) in enumerate(ID_CLIPS) for t in range(n - 2 * stride)}
    assert len(dataset) == len(expected)  # the larger domain's number of triplets
    starts = set()
    for k in range(len(dataset)):
        example = dataset[k]
        (c, t), *rest = triplet_ids(example)
        assert rest == [(c, t + stride), (c, t + 2 * stride)]  # one clip, frames t, t+s, t+2s
        assert example['A_paths'].endswith(f'#frames={t},{t + stride},{t + 2 * stride}')
        starts.add((c, t))
    assert starts == expected  # every triplet once, none across the end of a clip


def test_random_triplets_follow_clip_length(id_clips, tmp_path):
    dataset = create_dataset(video_options(tmp_path, id_clips)).dataset
    clips = collections.Counter()
    for seed in range(300):
        (c, t), *rest = triplet_ids(dataset[(0, seed)])
        assert rest == [(c, t + 1), (c, t + 2)]
        clips[c] += 1
    # 3, 5 and 10 triplets: each clip in proportion to its length, so the short one does not dominate
    shares = [clips[c] / 300 for c in range(3)]
    assert shares[0] < shares[1] < shares[2]
    assert shares[0] == pytest.approx(3 / 18, abs=0.07) and shares[2] == pytest.approx(10 / 18, abs=0.08)


def test_one_crop_and_one_flip_for_the_three_frames(tmp_path):
    # frames whose pixels say (frame, row, column): R = 20 t, G = row, B = column
    rows, cols = np.mgrid[0:40, 0:40]
    frames = [np.stack([np.full_like(rows, 20 * t), rows, cols], -1).astype(np.uint8) for t in range(6)]
    for d in 'AB':
        write_clip(str(tmp_path / f'train{d}' / 'clip'), frames)
    offsets, flips = set(), collections.Counter()
    for no_flip in ([], ['--no_flip']):
        dataset = create_dataset(video_options(tmp_path, str(tmp_path), '--loadSize', '40', '--fineSize', '32',
                                               *no_flip)).dataset
        for seed in range(60):
            example = dataset[(0, seed)]
            for d in 'AB':
                x = [to_uint8(example[f'{d}{t}']) for t in range(3)]
                assert x[0].shape == (3, 32, 32)
                assert x[1][0, 0, 0] - x[0][0, 0, 0] == 20 and x[2][0, 0, 0] - x[1][0, 0, 0] == 20
                assert all(torch.equal(x[0][1:], frame[1:]) for frame in x[1:])  # same rows, columns, flip
                flipped = bool(x[0][2, 0, 0] > x[0][2, 0, -1])
                flips[tuple(no_flip), flipped] += 1
                offsets.add((int(x[0][2].min()), int(x[0][1].min())))
    assert flips[(), True] > 20 and flips[(), False] > 20 and flips[('--no_flip',), True] == 0
    xs, ys = {x for x, _ in offsets}, {y for _, y in offsets}
    assert xs == set(range(9)) and ys == set(range(9))  # every offset 0 .. 40 - 32, both ends included


def test_natural_order_and_clip_names(tmp_path):
    write_clip(str(tmp_path / 'shots' / 'take'), [id_frame(0, t) for t in range(11)])
    write_clip(str(tmp_path / 'shots' / 'clip10.mp4'), [id_frame(1, t) for t in range(3)])
    write_clip(str(tmp_path / 'shots' / 'clip9.mp4'), [id_frame(2, t) for t in range(3)])
    clips = find_clips(str(tmp_path / 'shots'))
    assert [c.name for c in clips] == ['clip9', 'clip10', 'take']
    assert [read_id(f)[1] for f in clips[2].frames()] == list(range(11))  # f2 before f10
    assert [c.name for c in find_clips(str(tmp_path / 'shots' / 'clip9.mp4'))] == ['clip9']
    write_clip(str(tmp_path / 'shots' / 'take.mp4'), [id_frame(0, 0)])
    with pytest.raises(UserError, match="two clips are named 'take'"):
        find_clips(str(tmp_path / 'shots'))


def test_the_frame_cache_is_reused_and_follows_changes(id_clips, tmp_path, monkeypatch):
    opt = video_options(tmp_path, id_clips)
    create_dataset(opt)
    cached = sorted(os.listdir(tmp_path / 'ck' / 'frame_cache'))
    assert len(cached) == 2 * 4  # four clips, each raw frames + shape

    def no_decoding(*args):
        raise AssertionError('decoded again')
    with monkeypatch.context() as m:
        m.setattr(video_dataset, 'decode_into', no_decoding)
        create_dataset(opt)
    write_clip(os.path.join(id_clips, 'trainA', 'b_video.mp4'), [id_frame(1, t) for t in range(9)])
    dataset = create_dataset(opt).dataset
    assert len(dataset) == 3 + 7 + 10


def test_mp4_round_trip_keeps_count_size_and_rate(tmp_path):
    path = str(tmp_path / 'x.mp4')
    write_video(path, [id_frame(1, t, size=20)[:, :18] for t in range(9)], Fraction(25, 2))
    info = video_info(path)
    assert (info.frames, info.fps, info.width, info.height) == (9, Fraction(25, 2), 18, 20)
    assert [read_id(f) for f in read_video(path)] == [(1, t) for t in range(9)]
    write_video(path, [id_frame(1, 0, size=17)], 10)  # yuv420p needs even sides: the last column and row repeat
    assert video_info(path)[2:] == (18, 18)


@pytest.mark.parametrize('content', [b'', b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 8])
def test_an_empty_or_corrupt_video_names_the_file(id_clips, tmp_path, content):
    broken = os.path.join(id_clips, 'trainB', 'broken.mp4')
    with open(broken, 'wb') as f:
        f.write(content)
    with pytest.raises(UserError, match=f'^{re.escape(broken)}: (cannot be decoded as a video|holds no)'):
        create_dataset(video_options(tmp_path, id_clips))
    with pytest.raises(UserError, match=f'^{re.escape(broken)}: '):
        list(read_video(broken))


def test_bad_flags_and_folders(id_clips, tmp_path):
    with pytest.raises(UserError, match='no clip has the 25 frames a triplet with --frame_stride 12 needs'):
        create_dataset(video_options(tmp_path, id_clips, '--frame_stride', '12'))
    with pytest.raises(UserError, match='--frame_stride 0'):
        create_dataset(video_options(tmp_path, id_clips, '--frame_stride', '0'))
    os.makedirs(tmp_path / 'empty' / 'trainA')
    with pytest.raises(UserError, match='holds no videos'):
        create_dataset(video_options(tmp_path, str(tmp_path / 'empty')))


def test_video_to_triplets_writes_the_authors_strips(id_clips, tmp_path):
    from scripts import video_to_triplets
    out = tmp_path / 'strips'
    video_to_triplets.main(['--src', os.path.join(id_clips, 'trainA'), '--out', str(out), '--stride', '2'])
    names = sorted(os.listdir(out))
    assert len(names) == 1 + 3 + 8 and names[0] == 'a_short_00000.png'
    for name in names:
        strip = np.asarray(Image.open(out / name))
        assert strip.shape == (16, 48, 3)
        (c, t), *rest = [read_id(strip[:, 16 * i:16 * (i + 1)]) for i in range(3)]
        assert rest == [(c, t + 2), (c, t + 4)] and name.endswith(f'_{t:05d}.png')


# -- training and translating on videos ----------------------------------------------------------------
@pytest.fixture(scope='module')
def video_run(tmp_path_factory):
    """The demo clips as mp4s (32 px, 6 frames) and two steps of recycle_gan trained on them."""
    root = tmp_path_factory.mktemp('videos')
    counts = write_dataset(str(root), size=32, train_clips=2, test_clips=1, frames=6, seed=0, videos=True)
    assert counts['videos/trainA'] == 2 and counts['videos/testB'] == 1
    import train
    checkpoints = root / 'checkpoints'
    train.main(['--dataroot', str(root / 'videos'), '--name', 'tiny', '--checkpoints_dir', str(checkpoints),
                '--model', 'recycle_gan', '--dataset_mode', 'video', '--epoch_size', '2', '--niter', '1',
                '--niter_decay', '0', '--print_freq', '1', '--pool_size', '0', '--seed', '0', *TINY])
    return root, checkpoints


def test_training_on_videos(video_run):
    root, checkpoints = video_run
    assert {f'latest_net_{n}.pth' for n in ('G_A', 'G_B', 'P_A', 'P_B', 'D_A', 'D_B')} <= \
        set(os.listdir(checkpoints / 'tiny'))
    log = [line for line in (checkpoints / 'tiny' / 'loss_log.txt').read_text().splitlines() if line.startswith('(')]
    assert len(log) == 2 and 'Recyc_A' in log[0]
    assert len(os.listdir(checkpoints / 'frame_cache')) == 2 * 4  # 2 clips of each domain, decoded once


def load_test_py():
    """test.py as a module (`import test` could find the standard library's test package)."""
    spec = importlib.util.spec_from_file_location('test_py', os.path.join(ROOT, 'test.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_test_py_turns_videos_into_videos(video_run, tmp_path):
    test_py = load_test_py()
    root, checkpoints = video_run
    source = tmp_path / 'clips'
    write_video(str(source / 'wide.mp4'), [id_frame(0, t, size=40)[:24] for t in range(7)], Fraction(25, 2))
    write_clip(str(source / 'frames'), [id_frame(1, t) for t in range(5)])
    args = ['--name', 'tiny', '--checkpoints_dir', str(checkpoints), '--model', 'recycle_gan', '--fps', '8', *TINY]
    web_dir = test_py.main(['--video', str(source), '--side_by_side', '--results_dir', str(tmp_path / 'a'), *args])
    videos = os.path.join(web_dir, 'videos')
    # every frame, at the source's frame rate (--fps for a folder of frames), at the network's size
    expected = {'wide_fake_B.mp4': (7, Fraction(25, 2), 32), 'wide_real_A_fake_B.mp4': (7, Fraction(25, 2), 64),
                'frames_fake_B.mp4': (5, 8, 32), 'frames_real_A_fake_B.mp4': (5, 8, 64)}
    assert set(os.listdir(videos)) == set(expected)
    for name, (frames, fps, width) in expected.items():
        assert tuple(video_info(os.path.join(videos, name))) == (frames, fps, width, 32)
    for clip, c, n in (('wide', 0, 7), ('frames', 1, 5)):  # the input half: every frame once, in order
        inputs = [read_id(frame[:, :32]) for frame in read_video(os.path.join(videos, f'{clip}_real_A_fake_B.mp4'))]
        assert inputs == [(c, t) for t in range(n)]
    page = open(os.path.join(web_dir, 'index.html')).read()
    assert all(f'videos/{name}' in page for name in expected)
    assert sorted(os.listdir(os.path.join(web_dir, 'images'))) == sorted(
        f'{clip}_{t:05d}_{label}.png' for clip, n in (('wide', 7), ('frames', 5)) for t in (0, n // 2, n - 1)
        for label in ('real_A', 'fake_B'))

    # the demo's test folders: testA through G_A, testB through G_B
    web_dir = test_py.main(['--dataroot', str(root / 'videos'), '--dataset_mode', 'video',
                            '--results_dir', str(tmp_path / 'b'), *args])
    assert sorted(os.listdir(os.path.join(web_dir, 'videos'))) == ['clip00_fake_A.mp4', 'clip00_fake_B.mp4']
    with pytest.raises(UserError, match='nowhere.mp4: neither a folder nor a video file'):
        test_py.main(['--video', str(tmp_path / 'nowhere.mp4'), '--results_dir', str(tmp_path / 'c'), *args])
