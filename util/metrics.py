"""The paper's segmentation scores and temporal consistency, on numpy arrays.

Label maps are (H, W) integer class indices; frames are (H, W, C) arrays (uint8 or float, one
scale for all frames of a call). Scores follow the FCN-score convention of the pix2pix and
Recycle-GAN papers, from a confusion matrix n (rows: ground truth, columns: prediction):
  pixel accuracy  sum_i n_ii / sum_ij n_ij                    (the papers' "mean pixel accuracy")
  class accuracy  mean over classes in the ground truth of n_ii / sum_j n_ij
  IoU of class i  n_ii / (sum_j n_ij + sum_j n_ji - n_ii), NaN when i is in neither map;
  mean IoU        mean of the IoUs that are not NaN.
"""
import json

import numpy as np

from util.errors import UserError

# a ground-truth pixel farther than this (Euclidean, RGB 0-255) from every palette colour means
# the palette does not describe the labels
GT_COLOUR_TOLERANCE = 60.0


def load_palette(path):
    """(class names, (K, 3) uint8 colours) from a JSON file {class name: [R, G, B]}."""
    try:
        with open(path) as f:
            mapping = json.load(f)
    except (OSError, ValueError) as err:
        raise UserError(f'{path}: cannot read the palette ({err}); give a JSON file {{"class": [R, G, B], ...}}') \
            from None
    return check_palette(mapping, path)


def check_palette(mapping, source='palette'):
    """Validate {class name: RGB}; two classes with one colour could never be told apart."""
    if not isinstance(mapping, dict) or len(mapping) < 2:
        raise UserError(f'{source}: a palette is a JSON object of at least two {{"class": [R, G, B]}} entries')
    owner = {}
    for name, colour in mapping.items():
        if not (isinstance(colour, (list, tuple)) and len(colour) == 3
                and all(isinstance(c, int) and 0 <= c <= 255 for c in colour)):
            raise UserError(f'{source}: class {name!r} has colour {colour!r}; give three integers 0-255')
        if tuple(colour) in owner:
            raise UserError(f'{source}: classes {owner[tuple(colour)]!r} and {name!r} share the colour '
                            f'{list(colour)}; give every class its own colour')
        owner[tuple(colour)] = name
    return list(mapping), np.array(list(mapping.values()), np.uint8)


def nearest_class(image, colours):
    """(..., 3) RGB -> ((...) index of the nearest palette colour, (...) distance to it).

    Distances are computed once per distinct colour of the image, so large images stay cheap."""
    flat = image.reshape(-1, 3).astype(np.int32)
    keys = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    unique, inverse = np.unique(keys, return_inverse=True)
    rgb = np.stack([unique >> 16, (unique >> 8) & 255, unique & 255], 1).astype(np.float32)
    distance = np.linalg.norm(rgb[:, None, :] - colours[None].astype(np.float32), axis=2)
    nearest = distance.argmin(1)
    shape = image.shape[:-1]
    return nearest[inverse].reshape(shape), distance[np.arange(len(unique)), nearest][inverse].reshape(shape)


def confusion_matrix(gt, pred, n_classes):
    """(K, K) int64 counts: entry (i, j) = pixels of class i in gt labelled j in pred."""
    index = gt.astype(np.int64).ravel() * n_classes + pred.astype(np.int64).ravel()
    return np.bincount(index, minlength=n_classes ** 2).reshape(n_classes, n_classes)


def segmentation_scores(confusion):
    """{'pixel_acc', 'class_acc', 'mean_iou': float, 'iou': (K,) per class, NaN where undefined}."""
    n = confusion.astype(np.float64)
    hits, in_gt, in_pred = np.diag(n), n.sum(1), n.sum(0)
    with np.errstate(divide='ignore', invalid='ignore'):
        class_acc = hits / in_gt
        iou = hits / (in_gt + in_pred - hits)
    return {'pixel_acc': float(hits.sum() / n.sum()), 'class_acc': float(np.nanmean(class_acc)),
            'mean_iou': float(np.nanmean(iou)), 'iou': iou}


def mean_frame_change(frames):
    """Mean absolute difference between consecutive frames of a (T, H, W, C) sequence."""
    frames = np.asarray(frames, np.float64)
    return float(np.abs(frames[1:] - frames[:-1]).mean())


def warp(frames, flow):
    """Frames t of a (T, H, W, C) sequence moved onto frames t + 1: (T-1, H, W, C).

    flow: (T-1, H, W, 2) integers (dy, dx): pixel p of frame t+1 shows what frame t showed at
    p + flow (positions outside the frame are clamped; the warping error masks them out)."""
    frames = np.asarray(frames)
    _, h, w = frames.shape[:3]
    yy, xx = np.mgrid[0:h, 0:w]
    src_y = np.clip(yy + flow[..., 0], 0, h - 1)
    src_x = np.clip(xx + flow[..., 1], 0, w - 1)
    t = np.arange(len(flow))[:, None, None]
    return frames[t, src_y, src_x]


def warping_error(frames, flow, valid):
    """Mean over valid pixels of |frame t+1 - frame t warped by the ground-truth motion|, in the
    frames' units: 0 for a translation that moves exactly as the scene does.
    frames (T, H, W, C); flow (T-1, H, W, 2); valid (T-1, H, W) bool (visible in both frames)."""
    frames = np.asarray(frames, np.float64)
    error = np.abs(frames[1:] - warp(frames, flow)).mean(-1)
    return float(error[valid].mean())
