"""Score translated label maps against the ground truth (the paper's pixel accuracy, class accuracy
and mean IoU, and the IoU of every class), and measure how steadily translated clips change from
frame to frame; overall and per subset (the first subfolder of the reference, e.g. a weather).

    # image -> labels, from test.py's results: every score
    python scripts/evaluate.py --pred results/<name>/test_latest/images --pred_suffix _fake_B \\
        --gt datasets/benchmark/testB --palette datasets/benchmark/palette.json \\
        --input datasets/benchmark/testA --motion datasets/benchmark/motion
    # labels -> image: temporal consistency only
    python scripts/evaluate.py --pred results/<name>/test_latest/images --pred_suffix _fake_A \\
        --input datasets/benchmark/testB --motion datasets/benchmark/motion

Frames are named <clip>_<frame number> (any extension PIL reads); a translated frame is found by
its reference frame's name plus --pred_suffix, anywhere under --pred. --pred (and --input) may
also be a video instead, its frames taken in the reference's order. Translated colours count as
the nearest palette colour. Temporal metrics, in 8-bit grey levels:
  change ratio  mean |output t+1 - output t| / mean |input t+1 - input t|   (needs --input)
  warp error    mean |output t+1 - output t moved by the true motion| over pixels visible in both
                frames (needs --motion: <clip>.npz files as scripts/make_benchmark.py writes them)
"""
import json
import os
import re
import sys
import zipfile
from dataclasses import dataclass, field

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from data.base_dataset import load_image, make_dataset  # noqa: E402
from util import checks, metrics  # noqa: E402
from util.errors import Parser, UserError, run_cli  # noqa: E402
from util.video import read_video, video_info  # noqa: E402

FRAME_NAME = re.compile(r'^(.*?)[_-]?(\d+)$')  # <clip>_<frame number>


@dataclass
class Clip:
    subset: str
    name: str
    stems: list  # file names without extension, in frame order; None for a video
    length: int


def stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def reference_clips(path):
    """The clips of a reference folder, grouped by <subset>/<clip>_<frame number>, or a video as one clip."""
    if os.path.isfile(path):
        return [Clip('all', stem(path), None, video_info(path).frames)]
    clips = {}
    for file in make_dataset(path):
        relative = os.path.relpath(file, path).split(os.sep)
        subset = relative[0] if len(relative) > 1 else 'all'
        match = FRAME_NAME.match(stem(file))
        name, number = (match[1], int(match[2])) if match else (stem(file), 0)
        clips.setdefault((subset, name), []).append((number, stem(file)))
    return [Clip(subset, name, [s for _, s in sorted(frames)], len(frames))
            for (subset, name), frames in sorted(clips.items())]


class FrameSource:
    """Frames of a folder, found by name (reference name + suffix), or of a video, taken in order."""

    def __init__(self, path, suffix=''):
        if not os.path.exists(path):
            raise UserError(f'{path} does not exist')
        self.path, self.suffix = path, suffix
        self.video = read_video(path) if os.path.isfile(path) else None
        self.files = None if self.video is not None else {stem(p): p for p in make_dataset(path)}

    def clip(self, clip):
        """(T, H, W, 3) uint8 frames of clip."""
        if self.video is not None:
            frames = [frame for _, frame in zip(range(clip.length), self.video)]
            if len(frames) < clip.length:
                raise UserError(f'{self.path} has fewer frames than the reference')
            return np.stack(frames)
        if clip.stems is None:
            raise UserError(f'{self.path}: frames of a folder are matched by name, so the reference must be a '
                            f'folder too')
        missing = [s + self.suffix for s in clip.stems if s + self.suffix not in self.files]
        if missing:
            raise UserError(f'{self.path} has no frame {missing[0]} (+{len(missing) - 1} more); check --pred_suffix '
                            f'and that every reference frame was translated')
        return np.stack([np.asarray(load_image(self.files[s + self.suffix])) for s in clip.stems])


@dataclass
class Totals:
    """Sums over the frames of a subset, from which its scores follow."""
    n_classes: int
    frames: int = 0
    confusion: np.ndarray = None  # (K, K), see util.metrics.confusion_matrix
    change: list = field(default_factory=lambda: [0.0, 0.0, 0])  # output sum, input sum, frame pairs
    warp: list = field(default_factory=lambda: [0.0, 0])  # error sum, valid pixels

    def __post_init__(self):
        if self.confusion is None:
            self.confusion = np.zeros((self.n_classes, self.n_classes), np.int64)

    def __add__(self, other):
        def add(a, b):
            return [x + y for x, y in zip(a, b)]
        return Totals(self.n_classes, self.frames + other.frames, self.confusion + other.confusion,
                      add(self.change, other.change), add(self.warp, other.warp))

    def scores(self, classes):
        result = {'frames': self.frames}
        if self.confusion.any():
            seg = metrics.segmentation_scores(self.confusion)
            result.update({k: seg[k] for k in ('pixel_acc', 'class_acc', 'mean_iou')})
            result['iou'] = {c: None if np.isnan(v) else float(v) for c, v in zip(classes, seg['iou'])}
        out_sum, in_sum, pairs = self.change
        if pairs:
            result.update(output_change=out_sum / pairs, input_change=in_sum / pairs,
                          change_ratio=out_sum / in_sum if in_sum else None)
        if self.warp[1]:
            result['warp_error'] = self.warp[0] / self.warp[1]
        return result


def gt_labels(frames, colours, where):
    labels, distance = metrics.nearest_class(frames, colours)
    far = distance > metrics.GT_COLOUR_TOLERANCE
    if far.any():
        colour = frames[far][0].tolist()
        raise UserError(f'{where}: ground-truth colour {colour} is not in the palette; give the palette of these '
                        f'label maps')
    return labels


def load_motion(files, clip, motion_root):
    if clip.name not in files:
        raise UserError(f'{motion_root} has no {clip.name}.npz: the motion of every reference clip is needed')
    path = files[clip.name]
    try:
        with np.load(path) as data:
            flow, valid = data['flow'], data['valid']
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        detail = (str(err).splitlines() or [type(err).__name__])[0]
        raise UserError(f'{path}: not a motion file, an .npz of arrays flow and valid as scripts/make_benchmark.py '
                        f'writes ({detail})') from None
    if flow.ndim != 4 or flow.shape[-1] != 2 or not np.issubdtype(flow.dtype, np.number) \
            or valid.shape != flow.shape[:3] or valid.dtype != bool:
        raise UserError(f'{path}: flow {flow.dtype} {flow.shape} and valid {valid.dtype} {valid.shape}, not flow '
                        f'(T-1, H, W, 2) numbers and valid (T-1, H, W) bool as scripts/make_benchmark.py writes')
    if len(flow) != clip.length - 1:
        raise UserError(f'{path}: motion for {len(flow) + 1} frames, but clip {clip.name} has {clip.length}')
    return flow, valid


def evaluate(pred, gt=None, palette=None, inputs=None, motion=None, pred_suffix=''):
    """Scores of the translated frames `pred` (folder or video) -> {'classes': names,
    'subsets': {subset: scores}, 'overall': scores}; scores hold 'frames' and, when computable,
    pixel_acc, class_acc, mean_iou, iou {class: IoU or None}, output_change, input_change,
    change_ratio, warp_error. The reference frames are gt's (with palette), else inputs'."""
    if gt is None and inputs is None:
        raise UserError('give --gt (label maps, with --palette) or --input (the translated frames) to compare with')
    if gt is not None and palette is None:
        raise UserError('--gt needs --palette, the JSON file of class name -> [R, G, B]')
    return Evaluation(pred, gt, palette, inputs, motion, pred_suffix).report()


class Evaluation:
    """The sources of one evaluate() call; clip by clip, so that only one clip is in memory."""

    def __init__(self, pred, gt, palette, inputs, motion, pred_suffix):
        self.pred_path, self.motion_path = pred, motion
        self.classes, self.colours = metrics.load_palette(palette) if palette else ([], None)
        self.clips = reference_clips(gt if gt is not None else inputs)
        self.pred = FrameSource(pred, pred_suffix)
        self.gt = FrameSource(gt) if gt is not None else None
        self.inputs = FrameSource(inputs) if inputs is not None else None
        self.motions = {stem(p): p for p in motion_files(motion)} if motion is not None else None

    def clip_totals(self, clip):
        out = self.pred.clip(clip)
        total = Totals(len(self.classes), frames=len(out))
        if self.gt is not None:
            labels = gt_labels(self.gt.clip(clip), self.colours, f'{self.gt.path} clip {clip.name}')
            reference = labels.shape[1:]
            check_size(out, reference, self.pred_path, clip)
            predicted = metrics.nearest_class(out, self.colours)[0]
            total.confusion = metrics.confusion_matrix(labels, predicted, len(self.classes))
        if len(out) < 2:
            return total
        if self.inputs is not None:
            before = self.inputs.clip(clip)
            reference = before.shape[1:3]
            check_size(out, reference, self.pred_path, clip)
            pairs = len(out) - 1
            total.change = [metrics.mean_frame_change(out) * pairs, metrics.mean_frame_change(before) * pairs, pairs]
        if self.motions is not None:
            flow, valid = load_motion(self.motions, clip, self.motion_path)
            if valid.shape[1:] != tuple(reference):  # the motion file is at fault, not the translated frames
                raise UserError(f'{self.motions[clip.name]}: motion of {valid.shape[2]}x{valid.shape[1]} pixels, but '
                                f'clip {clip.name} of the reference is {reference[1]}x{reference[0]}; give the '
                                f'motion of these clips')
            total.warp = [metrics.warping_error(out, flow, valid) * valid.sum(), int(valid.sum())]
        return total

    def report(self):
        totals = {}
        for clip in self.clips:
            totals[clip.subset] = totals.get(clip.subset, Totals(len(self.classes))) + self.clip_totals(clip)
        overall = sum(totals.values(), Totals(len(self.classes)))
        return {'classes': self.classes, 'subsets': {s: t.scores(self.classes) for s, t in totals.items()},
                'overall': overall.scores(self.classes)}


def motion_files(folder):
    """The <clip>.npz files under folder (--motion)."""
    if not os.path.isdir(folder):
        raise UserError(f'--motion {folder} is not a folder: give the folder of <clip>.npz files')
    return [os.path.join(root, n) for root, _, names in os.walk(folder) for n in names if n.endswith('.npz')]


def check_size(frames, size, pred, clip):
    """frames (T, H, W, 3) must be (H, W) = size, the reference's."""
    if frames.shape[1:3] != tuple(size):
        raise UserError(f'{pred}: clip {clip.name} is {frames.shape[2]}x{frames.shape[1]} pixels, its reference '
                        f'{size[1]}x{size[0]}; translate at the reference size')


SEGMENTATION = (('pixel_acc', 'pixel acc'), ('class_acc', 'class acc'), ('mean_iou', 'mean IoU'))
TEMPORAL = (('change_ratio', 'change ratio'), ('warp_error', 'warp error'))


def markdown_table(header, rows):
    lines = [header, ['---'] * len(header)] + rows
    return '\n'.join('| ' + ' | '.join(str(cell) for cell in line) + ' |' for line in lines)


def number(value):
    return '-' if value is None else f'{value:.3f}'


def summary_tables(report):
    """Markdown: one row per subset and overall; then the IoU of every class."""
    rows_of = [('overall', report['overall'])] + sorted(report['subsets'].items())
    columns = [(k, label) for k, label in SEGMENTATION + TEMPORAL if k in report['overall']]
    text = markdown_table(['subset', 'frames'] + [label for _, label in columns],
                          [[name, s['frames']] + [number(s.get(k)) for k, _ in columns] for name, s in rows_of])
    if 'iou' in report['overall']:
        text += '\n\n' + markdown_table(['IoU'] + [name for name, _ in rows_of], [
            [c] + [number(s['iou'][c]) for _, s in rows_of] for c in report['classes']])
    return text


def main(argv=None):
    parser = Parser(__file__, description=__doc__)
    add = parser.add_argument
    add('--pred', required=True, help='translated frames: a folder (test.py\'s images/) or a video')
    add('--pred_suffix', default='', help='name of a translated frame = reference name + this (test.py: _fake_B)')
    add('--gt', help='folder of ground-truth label maps (subfolders: subsets)')
    add('--palette', help='JSON file of class name -> [R, G, B] of the label maps')
    add('--input', help='the frames that were translated (folder or video), for the change ratio')
    add('--motion', help='folder of <clip>.npz ground-truth motion, for the warp error')
    add('--json', help='also write every number to this JSON file')
    add('--debug', action='store_true', help='show tracebacks instead of one-line errors')
    args = parser.parse_args(argv)
    if args.json:  # before the long part
        folder = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(folder):
            raise UserError(f'--json {args.json}: its folder does not exist; create it or give another path')
        checks.writable_folder('--json', folder)
        if os.path.isdir(args.json):
            raise UserError(f'--json {args.json} is a folder: give the path of a file to write')
    for flag in ('--pred', '--gt', '--input', '--motion'):  # before a message about what they hold
        path = getattr(args, flag[2:])
        if path is not None and not os.path.exists(path):
            raise UserError(f'{flag} {path!r} does not exist')
    if args.palette:
        checks.readable_file('--palette', args.palette)
    report = evaluate(args.pred, args.gt, args.palette, args.input, args.motion, args.pred_suffix)
    print(summary_tables(report))
    if args.json:
        try:
            with open(args.json, 'w') as f:
                json.dump(report, f, indent=1)
        except OSError as err:
            raise UserError(f'--json {args.json}: cannot write it ({err.strerror or err}); the scores are printed '
                            f'above') from None
    return report


if __name__ == '__main__':
    run_cli(main)
