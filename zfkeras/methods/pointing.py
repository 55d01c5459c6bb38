"""The pointing game (Zhang, Lin, Brandt, Shen & Sclaroff, "Top-down Neural Attention by
Excitation Backprop", ECCV 2016): does an explanation's peak lie on the object?

One implementation for every method of the package: :func:`peak_scores` asks, for each map,
which of its peak pixels lie within ``tolerance`` pixels (square window, i.e. Chebyshev
distance) of the object mask. Its callers:

* :func:`zfkeras.methods.cam.pointing_hits` / :func:`~zfkeras.methods.cam.pointing_game`: one
  peak per map (the first maximum in row-major order), a hit or a miss;
* :func:`zfkeras.methods.faithfulness.pointing_game`: every pixel holding the maximum counts,
  the score is the fraction of them on the object (a plateau is not judged by one pixel);
* :func:`zfkeras.methods.occlusion.pointing_hits`: the "peak" is the occluder square at the
  lowest probability, and the test is whether that square holds a mask pixel
  (:func:`box_hits`; a window of ``2 * tolerance + 1`` around a peak is such a square).

A flat map (no peak) scores 0: a miss.
"""

from __future__ import annotations

import numpy as np

__all__ = ["box_hits", "check_masks", "near_mask", "peak_scores"]


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
    ``(N,)``. Used by :func:`zfkeras.methods.occlusion.pointing_hits` (the lowest-probability
    occluder) and :func:`zfkeras.methods.occlusion.pointing_chance`."""
    masks = check_masks(masks, len(boxes))
    return np.array(
        [
            bool(m[max(r0, 0) : max(r1, 0), max(c0, 0) : max(c1, 0)].any())
            for m, (r0, c0, r1, c1) in zip(masks, np.asarray(boxes, int))
        ],
        bool,
    )
