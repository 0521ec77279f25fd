"""The paper's scores on hand-made label maps, the temporal metrics on known sequences, the
synthetic benchmark's determinism and ground truth, and the comparison's files."""
import filecmp
import json
import os

import numpy as np
import pytest
from PIL import Image

from scripts import compare, evaluate
from scripts.make_benchmark import PALETTE, write_benchmark
from util import metrics
from util.errors import UserError
from util.video import VideoWriter

COLOURS = np.array([(0, 0, 0), (255, 0, 0), (0, 0, 255)], np.uint8)


def scores(gt, pred, n_classes=3):
    return metrics.segmentation_scores(metrics.confusion_matrix(np.array(gt), np.array(pred), n_classes))


# -- segmentation scores --------------------------------------------------------------------------

def test_perfect_labels_score_one():
    gt = [[0, 1, 2], [2, 1, 0]]
    s = scores(gt, gt)
    assert (s['pixel_acc'], s['class_acc'], s['mean_iou']) == (1, 1, 1)


def test_all_wrong_labels_score_zero():
    s = scores([[0, 0, 1, 1]], [[1, 1, 0, 0]], n_classes=2)
    assert (s['pixel_acc'], s['class_acc'], s['mean_iou']) == (0, 0, 0)


def test_mixed_labels_match_hand_computed_scores():
    # confusion: class 0: 3 right, 1 as class 1; class 1: 2 right; class 2: 1 right, 1 as class 0
    s = scores([[0, 0, 1, 1], [0, 0, 2, 2]], [[0, 1, 1, 1], [0, 0, 2, 0]])
    assert s['pixel_acc'] == pytest.approx(6 / 8)
    assert s['class_acc'] == pytest.approx((3 / 4 + 2 / 2 + 1 / 2) / 3)
    np.testing.assert_allclose(s['iou'], [3 / 5, 2 / 3, 1 / 2])
    assert s['mean_iou'] == pytest.approx((3 / 5 + 2 / 3 + 1 / 2) / 3)


def test_class_missing_from_both_maps_is_left_out():
    s = scores([[0, 0, 1, 1]], [[0, 0, 1, 1]])
    assert np.isnan(s['iou'][2])
    assert (s['class_acc'], s['mean_iou']) == (1, 1)


def test_class_predicted_but_not_in_ground_truth_costs_iou_not_class_accuracy():
    s = scores([[0, 0, 1, 1]], [[0, 2, 1, 1]])
    np.testing.assert_allclose(s['iou'], [1 / 2, 1, 0])
    assert s['class_acc'] == pytest.approx((1 / 2 + 1) / 2)
    assert s['mean_iou'] == pytest.approx(0.5)


def test_noisy_colours_count_as_the_nearest_palette_colour():
    labels = np.random.default_rng(0).integers(0, 3, (4, 8, 8))
    noisy = COLOURS[labels].astype(int) + np.random.default_rng(1).integers(-40, 41, (4, 8, 8, 3))
    found, distance = metrics.nearest_class(np.clip(noisy, 0, 255).astype(np.uint8), COLOURS)
    np.testing.assert_array_equal(found, labels)
    assert distance.max() <= np.sqrt(3) * 40


def test_palette_giving_two_classes_one_colour_is_an_error(tmp_path):
    path = tmp_path / 'palette.json'
    path.write_text(json.dumps({'road': [128, 64, 128], 'car': [0, 0, 142], 'sidewalk': [128, 64, 128]}))
    with pytest.raises(UserError, match="'road' and 'sidewalk' share the colour"):
        metrics.load_palette(str(path))
    with pytest.raises(UserError, match='three integers'):
        metrics.check_palette({'road': [128, 64], 'car': [0, 0, 142]})


# -- temporal metrics -----------------------------------------------------------------------------

def test_frame_change_of_a_known_sequence():
    frames = np.array([0, 10, 10], float)[:, None, None, None] * np.ones((3, 2, 2, 3))
    assert metrics.mean_frame_change(frames) == pytest.approx(5)  # |10 - 0| then |10 - 10|


def sliding_ramp(n_frames=4, step=2):
    """Frames of a horizontal ramp (10 grey levels a column) sliding right by `step` pixels a frame,
    and its motion: frame t+1 at x shows frame t at x - step; the columns that entered are not valid."""
    x = np.arange(16)
    frames = np.stack([np.tile((10.0 * (x - step * t))[None, :, None], (5, 1, 3)) for t in range(n_frames)])
    flow = np.zeros((n_frames - 1, 5, 16, 2), int)
    flow[..., 1] = -step
    valid = np.broadcast_to(x >= step, flow.shape[:3])
    return frames, flow, valid


def ramp_folders(root):
    """<root>/input and pred: the frames of sliding_ramp; <root>/motion, empty; returns its flow and valid."""
    frames, flow, valid = sliding_ramp()
    for name in ('input', 'pred'):
        os.makedirs(root / name)
        for t, image in enumerate((100 + frames).astype(np.uint8)):
            Image.fromarray(image).save(root / name / f'ramp_{t}.png')
    os.makedirs(root / 'motion')
    return flow, valid


def test_warping_error_is_zero_when_the_output_follows_the_motion():
    frames, flow, valid = sliding_ramp()
    assert metrics.warping_error(frames, flow, valid) == 0


def test_warping_error_of_a_frozen_output_is_what_the_motion_changes():
    frames, flow, valid = sliding_ramp()
    frozen = np.repeat(frames[:1], len(frames), 0)
    assert metrics.warping_error(frozen, flow, valid) == pytest.approx(20)  # 2 columns x 10 levels


def test_evaluate_cli_on_a_known_sequence(tmp_path):
    """A ramp sliding 2 pixels a frame (input) and its translation at half the contrast (pred)."""
    frames, flow, valid = sliding_ramp()
    pred = (100 + frames) / 2
    for name, images in (('input', 100 + frames), ('pred', pred), ('frozen', np.repeat(pred[:1], len(pred), 0))):
        os.makedirs(tmp_path / name / 'sunny')
        for t, image in enumerate(images.astype(np.uint8)):
            Image.fromarray(image).save(tmp_path / name / 'sunny' / f'ramp_{t}.png')
    os.makedirs(tmp_path / 'motion')
    np.savez(tmp_path / 'motion' / 'ramp.npz', flow=flow, valid=valid)
    common = ['--input', str(tmp_path / 'input'), '--motion', str(tmp_path / 'motion'),
              '--json', str(tmp_path / 'r.json')]
    sunny = evaluate.main(['--pred', str(tmp_path / 'pred')] + common)['subsets']['sunny']
    assert (sunny['change_ratio'], sunny['warp_error']) == (0.5, 0)
    assert json.loads((tmp_path / 'r.json').read_text())['overall']['change_ratio'] == 0.5
    frozen = evaluate.main(['--pred', str(tmp_path / 'frozen')] + common)['overall']
    assert (frozen['change_ratio'], frozen['warp_error']) == (0, 10)  # half of the input's 20 levels


def test_a_motion_file_of_another_size_is_named_not_the_translated_frames(tmp_path):
    flow, valid = ramp_folders(tmp_path)
    np.savez(tmp_path / 'motion' / 'ramp.npz', flow=flow[:, :, :12], valid=valid[:, :, :12])
    with pytest.raises(UserError, match=rf'^{tmp_path}/motion/ramp.npz: motion of 12x5 pixels, but clip ramp of the '
                                        rf'reference is 16x5; give the motion of these clips$'):
        evaluate.main(['--pred', str(tmp_path / 'pred'), '--input', str(tmp_path / 'input'), '--motion',
                       str(tmp_path / 'motion')])


# -- the benchmark --------------------------------------------------------------------------------

TINY_BENCHMARK = dict(size=32, train_clips=1, test_clips=1, frames=4, test_frames=5, styles=('day', 'night'))


@pytest.fixture(scope='module')
def benchmark(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('benchmark'))
    write_benchmark(root, seed=3, **TINY_BENCHMARK)
    return root


def test_benchmark_is_reproducible(benchmark, tmp_path):
    write_benchmark(str(tmp_path / 'again'), seed=3, **TINY_BENCHMARK)
    write_benchmark(str(tmp_path / 'other'), seed=4, **TINY_BENCHMARK)
    for folder in ('trainA', 'trainB', 'testA/day', 'testB/night', 'motion/day'):
        names = sorted(os.listdir(os.path.join(benchmark, folder)))
        match, mismatch, errors = filecmp.cmpfiles(os.path.join(benchmark, folder), tmp_path / 'again' / folder,
                                                   names, shallow=False)
        assert match == names and not mismatch and not errors
    assert not filecmp.cmp(os.path.join(benchmark, 'testA/day/day_c00_0000.png'),
                           tmp_path / 'other/testA/day/day_c00_0000.png', shallow=False)
    with pytest.raises(UserError, match='not empty'):
        write_benchmark(benchmark, **TINY_BENCHMARK)


def test_benchmark_layout(benchmark):
    strips = sorted(os.listdir(os.path.join(benchmark, 'trainA')))
    assert strips == ['day_c000_0000.png', 'day_c000_0001.png', 'night_c001_0000.png', 'night_c001_0001.png']
    assert Image.open(os.path.join(benchmark, 'trainB', 'labels_c000_0000.png')).size == (96, 32)
    assert len(os.listdir(os.path.join(benchmark, 'frames', 'trainA'))) == len(strips)
    assert sorted(os.listdir(os.path.join(benchmark, 'testA', 'night'))) == \
        sorted(os.listdir(os.path.join(benchmark, 'testB', 'night')))
    with open(os.path.join(benchmark, 'palette.json')) as f:
        assert json.load(f) == {k: list(v) for k, v in PALETTE.items()}


def test_benchmark_motion_carries_the_labels_exactly(benchmark):
    clip = evaluate.Clip('day', 'day_c00', [f'day_c00_{t:04d}' for t in range(5)], 5)
    labels = evaluate.FrameSource(os.path.join(benchmark, 'testB')).clip(clip)
    photos = evaluate.FrameSource(os.path.join(benchmark, 'testA')).clip(clip)
    with np.load(os.path.join(benchmark, 'motion', 'day', 'day_c00.npz')) as data:
        flow, valid = data['flow'], data['valid']
    assert flow.shape == (4, 32, 32, 2) and valid.mean() > 0.8
    assert metrics.warping_error(labels, flow, valid) == 0
    # the photos move as the labels do, up to their noise and flicker
    assert metrics.warping_error(photos, flow, valid) < 0.5 * metrics.mean_frame_change(photos)


# -- evaluate.py ----------------------------------------------------------------------------------

def test_ground_truth_against_itself_scores_perfectly_per_style(benchmark):
    gt = os.path.join(benchmark, 'testB')
    report = evaluate.evaluate(gt, gt, os.path.join(benchmark, 'palette.json'), os.path.join(benchmark, 'testA'),
                               os.path.join(benchmark, 'motion'))
    assert sorted(report['subsets']) == ['day', 'night']
    for s in [report['overall'], *report['subsets'].values()]:
        assert (s['pixel_acc'], s['class_acc'], s['mean_iou'], s['warp_error']) == (1, 1, 1, 0)
        assert 0 < s['change_ratio'] < 1  # flat labels change less than noisy photos
    assert report['overall']['frames'] == 10


def test_evaluate_reads_test_py_names_and_videos(benchmark, tmp_path):
    gt, palette = os.path.join(benchmark, 'testB'), os.path.join(benchmark, 'palette.json')
    # test.py's names: <frame>_fake_B.png; the first frame painted all sky, the others all road
    clip = evaluate.reference_clips(os.path.join(gt, 'day'))[0]
    labels = evaluate.gt_labels(evaluate.FrameSource(gt).clip(clip), metrics.load_palette(palette)[1], 'gt')
    for t, name in enumerate(clip.stems):
        Image.new('RGB', (32, 32), PALETTE['road'] if t else PALETTE['sky']).save(tmp_path / f'{name}_fake_B.png')
    report = evaluate.evaluate(str(tmp_path), os.path.join(gt, 'day'), palette, pred_suffix='_fake_B')
    sky, road = list(PALETTE).index('sky'), list(PALETTE).index('road')
    hits = (labels[0] == sky).sum() + (labels[1:] == road).sum()
    assert report['overall']['pixel_acc'] == pytest.approx(hits / labels.size)
    for k, name in enumerate(PALETTE):  # never predicted: IoU 0 where present, undefined where not
        if k not in (sky, road):
            assert report['overall']['iou'][name] == (0 if (labels == k).any() else None)
    with pytest.raises(UserError, match='no frame day_c00_0000_fake_A'):
        evaluate.evaluate(str(tmp_path), os.path.join(gt, 'day'), palette, pred_suffix='_fake_A')
    # a video of the ground truth (lossy H.264): nearly every pixel keeps its class
    with VideoWriter(str(tmp_path / 'labels.mp4'), fps=10, crf=0) as writer:
        for frame in evaluate.FrameSource(gt).clip(clip):
            writer.write(frame)
    assert evaluate.evaluate(str(tmp_path / 'labels.mp4'), os.path.join(gt, 'day'), palette)['overall'][
        'pixel_acc'] > 0.9


def test_ground_truth_colours_outside_the_palette_are_an_error(benchmark, tmp_path):
    (tmp_path / 'palette.json').write_text(json.dumps({'black': [0, 0, 0], 'white': [255, 255, 255]}))
    gt = os.path.join(benchmark, 'testB')
    with pytest.raises(UserError, match='is not in the palette'):
        evaluate.evaluate(gt, gt, str(tmp_path / 'palette.json'))


# -- compare.py -----------------------------------------------------------------------------------

def compare_argv(benchmark, tmp_path, *extra):
    return ['--dataroot', benchmark, '--out', str(tmp_path / 'out'), '--runs_dir', str(tmp_path / 'runs'),
            '--table', str(tmp_path / 'compare.md'), '--chart', str(tmp_path / 'compare.png'), '--niter', '2',
            '--niter_decay', '0', '--ngf', '4', '--ndf', '4', '--size', '32', '--train_clips', '1', '--test_clips', '1',
            '--frames', '4', '--test_frames', '5', '--styles', 'day,night', '--data_seed', '3', *extra]


def test_compare_over_seeds_writes_runs_table_chart_and_resumes(benchmark, tmp_path, monkeypatch):
    argv = compare_argv(benchmark, tmp_path, '--models', 'cycle_gan,unsup_recycle_gan,cycle_gan_idt0', '--seeds', '0,1')
    summary = compare.main(argv)
    runs = sorted(os.listdir(tmp_path / 'runs'))
    assert runs == sorted([f'{r}_seed{s}.json' for r in ('cycle_gan', 'unsup_recycle_gan', 'cycle_gan_idt0')
                           for s in (0, 1)] + ['reference.json'])
    record = json.loads((tmp_path / 'runs' / 'unsup_recycle_gan_seed1.json').read_text())
    assert (record['seed'], record['iterations'], record['train_time_incomplete']) == (1, 8, False)
    assert record['train_seconds'] > 0 and 0 <= record['scores']['A->B']['night']['pixel_acc'] <= 1

    # mean and std over the seeds, and the paired difference from cycle_gan, from the per-seed numbers
    cell = summary['runs']['unsup_recycle_gan']['scores']['A->B']['overall']['mean_iou']
    base = summary['runs']['cycle_gan']['scores']['A->B']['overall']['mean_iou']['per_seed']
    values = [cell['per_seed'][s] for s in (0, 1)]
    assert cell['mean'] == pytest.approx(np.mean(values)) and cell['std'] == pytest.approx(np.std(values, ddof=1))
    differences = [values[s] - base[s] for s in (0, 1)]
    assert differences[0] != 0  # trained: the models differ
    assert cell['diff']['mean'] == pytest.approx(np.mean(differences))
    assert cell['diff']['above'] == sum(d > 0 for d in differences) and 'diff' not in \
        summary['runs']['cycle_gan']['scores']['A->B']['overall']['mean_iou']
    table = (tmp_path / 'compare.md').read_text()
    row = next(line for line in table.splitlines() if line.startswith('| overall | unsup_recycle_gan | 2 |'))
    assert row.split(' | ')[5] == f'{cell["mean"]:.3f} ± {cell["std"]:.3f}'  # style, run, seeds, acc, acc, IoU
    assert '| overall | reference | - | 1.000 | 1.000 | 1.000 |' in table
    assert "cycle_gan_idt0 †: ablation, not the authors' setting: identity 0" in table
    assert 'difference from cycle_gan on the same seeds' in table
    assert json.loads((tmp_path / 'compare.json').read_text())['runs']['cycle_gan']['seeds'] == [0, 1]
    assert Image.open(tmp_path / 'compare.png').size[0] > 0

    # a rerun trains nothing; --report_only rebuilds the table from the JSONs alone
    def no_training(argv):
        raise AssertionError('trained again')
    monkeypatch.setattr(compare.train, 'main', no_training)
    os.remove(tmp_path / 'compare.md')
    assert compare.main(argv) == summary
    assert compare.main(argv + ['--report_only']) == summary and (tmp_path / 'compare.md').read_text() == table

    # a training stopped by SIGTERM continues from its latest state, its wall time summed over the sittings
    calls = []

    def stopped(argv):
        calls.append(argv)
        state = tmp_path / 'out' / 'checkpoints' / 'cycle_gan_seed5' / 'latest_train_state.pth'
        state.write_bytes(b'')
        raise SystemExit(143)  # what train.py does on SIGTERM, after saving its state
    monkeypatch.setattr(compare.train, 'main', stopped)
    monkeypatch.setattr(compare, 'translate', lambda run, seed, args: str(tmp_path / 'out' / 'results' /
                                                                          'cycle_gan_seed0' / 'test_latest' / 'images'))
    seed5 = compare_argv(benchmark, tmp_path, '--models', 'cycle_gan', '--seeds', '5')
    with pytest.raises(SystemExit):
        compare.main(seed5)
    timing_path = tmp_path / 'out' / 'checkpoints' / 'cycle_gan_seed5' / 'compare_train.json'
    first = json.loads(timing_path.read_text())
    assert (first['finished'], first['running'], first['seconds'] > 0) == (False, False, True)
    monkeypatch.setattr(compare.train, 'main', calls.append)
    compare.main(seed5)
    assert '--continue_train' not in calls[0] and calls[1] == calls[0] + ['--continue_train']
    record = json.loads((tmp_path / 'runs' / 'cycle_gan_seed5.json').read_text())
    assert record['train_seconds'] >= round(first['seconds'], 1) and record['train_time_incomplete'] is False
    # a sitting killed before it could add its time ('running' left set) makes the time a lower bound
    os.remove(tmp_path / 'runs' / 'cycle_gan_seed5.json')
    timing_path.write_text(json.dumps(dict(first, running=True)))
    compare.main(seed5)
    assert calls[2][-1] == '--continue_train'
    assert json.loads((tmp_path / 'runs' / 'cycle_gan_seed5.json').read_text())['train_time_incomplete'] is True
    assert '≥ ' in (tmp_path / 'compare.md').read_text()
    compare.main(seed5)  # done: skipped
    assert len(calls) == 3

    with pytest.raises(UserError, match='cycle_gan_seed0.json was run with another budget'):
        compare.main(compare_argv(benchmark, tmp_path, '--models', 'cycle_gan', '--seeds', '0', '--ngf', '8'))
    with pytest.raises(UserError, match='other benchmark flags'):
        compare.main(argv[:argv.index('--data_seed') + 1] + ['4'])
