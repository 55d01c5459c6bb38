"""The pointing game (Zhang, Lin, Brandt, Shen & Sclaroff, "Top-down Neural Attention by
Excitation Backprop", ECCV 2016): does an explanation's peak lie on the object?

One test for every method of the package: :func:`peak_scores` asks, for each map, which of its
peak pixels lie within ``tolerance`` pixels (square window, i.e. Chebyshev distance) of the
object mask. The public functions:

* :func:`pointing_scores` / :func:`pointing_game`: the maps of any method (Grad-CAM, the
  projections, ...). ``peaks="first"``: one peak per map (the first maximum in row-major
  order), a hit (1) or a miss (0); ``peaks="all"``: every pixel holding the maximum counts and
  the score is the fraction of them on the object (a plateau is not judged by one pixel).
  :func:`pointing_game` is the mean of the scores, a float;
* :func:`occlusion_hits` / :func:`occlusion_chance`: occlusion results (paper Fig. 7), whose
  "peak" is the occluder square at the lowest probability; the test is whether that square
  holds a mask pixel (:func:`box_hits`; a window of ``2 * tolerance + 1`` around a peak is such
  a square).

A flat map (no peak) scores 0: a miss.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from zfkeras.methods.occlusion import OcclusionResult

__all__ = [
    "PEAKS",
    "box_hits",
    "check_masks",
    "near_mask",
    "occlusion_chance",
    "occlusion_hits",
    "peak_scores",
    "pointing_game",
    "pointing_scores",
]

PEAKS = ("first", "all")


def check_masks(masks, n: int, argument: str = "masks") -> np.ndarray:
    """Bool object masks ``(n, H, W)``, one per image (or per result); ``ValueError``
    otherwise."""
    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.dtype != bool or len(masks) != n:
        raise ValueError(
            f"{argument} must be (N, H, W) bool with N = {n}, got shape "
            f"{masks.shape} dtype {masks.dtype}"
        )
    return masks


def near_mask(masks: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """``(N, H, W)`` bool: the pixels within ``tolerance`` pixels (square window) of a pixel of
    their mask; ``tolerance=0`` gives the masks themselves."""
    t = int(tolerance)
    near = np.pad(masks, ((0, 0), (t, t), (t, t)))
    near = np.lib.stride_tricks.sliding_window_view(near, (2 * t + 1, 2 * t + 1), axis=(1, 2))
    return near.any(axis=(-2, -1))


def peak_scores(
    maps: np.ndarray, masks: np.ndarray, tolerance: int = 0, first: bool = False
) -> np.ndarray:
    """The pointing game's one test: the fraction of each map's peak pixels that lie within
    ``tolerance`` of its mask.

    Args:
        maps: ``(N, H, W)`` float maps (no NaN; ``-inf`` allowed), the masks' size.
        masks: ``(N, H, W)`` bool, checked by the caller.
        tolerance: int >= 0, checked by the caller.
        first: only the first maximum of each map (row-major order) is its peak, so the score
            is 0 or 1; else every pixel holding the maximum.

    Returns:
        ``(N,)`` float64 in [0, 1]; 0 for a flat map.
    """
    m = np.asarray(maps)
    n = len(m)
    top = m.max(axis=(1, 2), keepdims=True)
    if first:
        peak = np.zeros(m.shape, bool)
        peak.reshape(n, -1)[np.arange(n), m.reshape(n, -1).argmax(1)] = True
    else:
        peak = m == top
    near = near_mask(masks, tolerance)
    score = (peak & near).sum(axis=(1, 2)) / np.maximum(peak.sum(axis=(1, 2)), 1)
    return np.where(top[:, 0, 0] > m.min(axis=(1, 2)), score, 0.0)


def box_hits(boxes, masks) -> np.ndarray:
    """Whether each box ``(row0, col0, row1, col1)`` (end excluded, clipped to the image) holds
    a pixel of its mask. ``boxes`` ``(N, 4)`` ints, ``masks`` bool ``(N, H, W)``; returns bool
    ``(N,)``. Used by :func:`occlusion_hits` (the lowest-probability occluder) and
    :func:`occlusion_chance`."""
    masks = check_masks(masks, len(boxes))
    return np.array(
        [
            bool(m[max(r0, 0) : max(r1, 0), max(c0, 0) : max(c1, 0)].any())
            for m, (r0, c0, r1, c1) in zip(masks, np.asarray(boxes, int))
        ],
        bool,
    )


def pointing_scores(maps, masks, tolerance: int = 0, peaks: str = "first") -> np.ndarray:
    """The pointing game per image, for the maps of any method.

    Args:
        maps: ``(N, h, w)``, or ``(N, h, w, C)`` reduced by the sum of absolute values over
            channels; resized (bilinear) to the masks' size when it differs.
        masks: ``(N, H, W)`` bool object masks.
        tolerance: int >= 0: a peak within this many pixels (square window) of the mask hits.
        peaks: ``"first"`` (the first maximum, row-major: the score is 0 or 1) or ``"all"``
            (every pixel holding the maximum: the score is the fraction on the object).

    Returns:
        ``(N,)`` float64 in [0, 1]; a flat map scores 0.

    Raises:
        ValueError: bad ``maps``, ``masks``, ``tolerance`` or ``peaks``.
    """
    m = np.asarray(maps, np.float32)
    masks = np.asarray(masks)
    check_masks(masks, len(masks) if masks.ndim == 3 else 0)
    if m.ndim == 4:
        m = np.abs(m).sum(-1)
    if m.ndim != 3 or len(m) != len(masks):
        raise ValueError(
            f"maps must be (N, h, w) or (N, h, w, C) with N = {len(masks)} (the masks), got "
            f"shape {np.shape(maps)}"
        )
    if not np.all(np.isfinite(m)):
        raise ValueError("maps must be finite, got NaN or inf values")
    if not isinstance(tolerance, (int, np.integer)) or isinstance(tolerance, bool) or tolerance < 0:
        raise ValueError(f"tolerance must be an int >= 0, got {tolerance!r}")
    if peaks not in PEAKS:
        raise ValueError(f"peaks must be one of {PEAKS}, got {peaks!r}")
    if m.shape[1:] != masks.shape[1:]:
        m = tf.image.resize(m[..., None], masks.shape[1:], "bilinear").numpy()[..., 0]
    return peak_scores(m.astype(np.float64), masks, int(tolerance), first=peaks == "first")


def pointing_game(maps, masks, tolerance: int = 0, peaks: str = "first") -> float:
    """The pointing game's hit rate: the mean of :func:`pointing_scores` (same arguments and
    errors), a float in [0, 1] (0 for no images)."""
    scores = pointing_scores(maps, masks, tolerance, peaks)
    return float(scores.mean()) if len(scores) else 0.0


def _boxes(result: OcclusionResult) -> list[tuple[int, int, int, int]]:
    """The occluder square ``(row0, col0, row1, col1)`` (end excluded) at each image's
    lowest-probability position."""
    out = []
    for prob in result.probability:
        i, j = np.unravel_index(np.argmin(prob), prob.shape)
        r0, c0, p = int(result.rows[i]), int(result.cols[j]), result.patch_size
        out.append((r0, c0, r0 + p, c0 + p))
    return out


def occlusion_hits(result: OcclusionResult, masks) -> np.ndarray:
    """The pointing game for occlusion (paper Fig. 7): for each image, whether the occluder at
    the lowest-probability position overlaps the object's mask (:func:`box_hits`).

    Args:
        result: an :class:`~zfkeras.methods.occlusion.OcclusionResult` of ``N`` images.
        masks: bool ``(N, H, W)``, one object mask per image, in model-input coordinates.

    Returns:
        bool ``(N,)``.
    """
    return box_hits(_boxes(result), masks)


def occlusion_chance(result: OcclusionResult, masks) -> np.ndarray:
    """The chance level of :func:`occlusion_hits`: for each image, the fraction of occluder
    positions whose square overlaps the object's mask (the hit rate of a random position).

    Args:
        result: an :class:`~zfkeras.methods.occlusion.OcclusionResult` of ``N`` images.
        masks: bool ``(N, H, W)``, one object mask per image, in model-input coordinates.

    Returns:
        float64 ``(N,)`` in [0, 1].
    """
    masks = check_masks(masks, len(result.probability))
    p = result.patch_size
    boxes = [(r, c, r + p, c + p) for r in result.rows for c in result.cols]
    return np.array(
        [box_hits(boxes, np.broadcast_to(m, (len(boxes), *m.shape))).mean() for m in masks]
    )
