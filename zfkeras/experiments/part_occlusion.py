"""The images of the correspondence analysis (:mod:`zfkeras.experiments.correspondence`, paper
section 4.3): objects centred and brought to one size (:func:`align`), a part occluded by a
square (:func:`occlude`), and random regions on the object for the control
(:func:`random_centres`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf


def occlude(images, centres, patch_size, fill: float = 0.0) -> np.ndarray:
    """Copies of ``images`` with a ``patch_size`` square of ``fill`` centred on each image's
    ``(row, col)`` centre (clipped at the border).

    Args:
        images: ``(N, H, W, C)``.
        centres: ``(N, 2)`` float (row, col) pixel positions.
        patch_size: an int, or ``(N,)`` ints (one side per image).
        fill: the occluder's value (0 is the dataset mean for mean-subtracted inputs).
    """
    x = np.array(images, np.float32, copy=True)
    centres = np.asarray(centres, np.float64)
    if x.ndim != 4 or centres.shape != (len(x), 2) or not np.all(np.isfinite(centres)):
        raise ValueError(
            f"images must be (N, H, W, C) and centres a finite (N, 2) array, got "
            f"shapes {x.shape} and {centres.shape}"
        )
    sizes = np.broadcast_to(np.asarray(patch_size), (len(x),)).astype(int)
    if np.any(sizes < 1):
        raise ValueError(f"patch_size must be >= 1, got {patch_size!r}")
    for i, ((r, c), p) in enumerate(zip(centres, sizes)):
        r0, c0 = int(np.floor(r - p / 2 + 0.5)), int(np.floor(c - p / 2 + 0.5))
        x[i, max(r0, 0) : max(r0 + p, 0), max(c0, 0) : max(c0 + p, 0)] = fill
    return x


def align(images, masks, parts: Mapping[str, np.ndarray], object_radius, margin: float = 1.6):
    """Centre every object and bring it to one size, as the paper's frontal dog images are.

    Each image is resampled (bilinear) over a square box centred on its mask's centroid with
    half-side ``margin * object_radius``; pixels from outside the image are 0 (the dataset
    mean for mean-subtracted inputs).

    Args:
        images: model inputs ``(N, H, W, C)``; masks: bool ``(N, H, W)``; parts: name ->
            ``(N, 2)`` (row, col); object_radius: ``(N,)`` pixels.

    Returns:
        ``(images, masks, parts)`` in the aligned frame (same shapes).
    """
    x = np.asarray(images, np.float32)
    masks = np.asarray(masks, bool)
    n, h, w = x.shape[:3]
    radius = np.asarray(object_radius, np.float64)
    if masks.shape != (n, h, w) or radius.shape != (n,) or np.any(~masks.any((1, 2))):
        raise ValueError(
            f"masks must be non-empty ({n}, {h}, {w}) and object_radius ({n},), "
            f"got shapes {masks.shape} and {radius.shape}"
        )
    rows, cols = np.arange(h)[None, :, None], np.arange(w)[None, None, :]
    area = masks.sum((1, 2))
    cy, cx = (masks * rows).sum((1, 2)) / area, (masks * cols).sum((1, 2)) / area
    half = margin * radius
    boxes = np.stack(
        [
            (cy - half) / (h - 1),
            (cx - half) / (w - 1),
            (cy + half) / (h - 1),
            (cx + half) / (w - 1),
        ],
        1,
    ).astype(np.float32)
    ind = tf.range(n)
    out = tf.image.crop_and_resize(x, boxes, ind, (h, w)).numpy()
    m = tf.image.crop_and_resize(masks[..., None].astype(np.float32), boxes, ind, (h, w))
    scale_r, scale_c = (h - 1) / (2 * half), (w - 1) / (2 * half)
    moved = {
        k: np.stack(
            [
                (np.asarray(p)[:, 0] - (cy - half)) * scale_r,
                (np.asarray(p)[:, 1] - (cx - half)) * scale_c,
            ],
            1,
        )
        for k, p in parts.items()
    }
    return out, m.numpy()[..., 0] > 0.5, moved


def random_centres(masks, patch_size, rng: np.random.Generator) -> np.ndarray:
    """One random ``(row, col)`` per image, drawn from the pixels of its mask (the object)."""
    masks = np.asarray(masks, bool)
    out = np.zeros((len(masks), 2))
    for i, m in enumerate(masks):
        rows, cols = np.nonzero(m)
        if len(rows) == 0:
            raise ValueError(f"mask {i} is empty: cannot draw a random region on the object")
        k = rng.integers(len(rows))
        out[i] = rows[k], cols[k]
    return out
