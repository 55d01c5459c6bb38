"""Bilinear upsampling as matrices, the one hat function of every method that brings a coarse
map to the image: Grad-CAM's maps (:func:`zfkeras.methods.cam.fading_weights`), dissection's
unit masks (:func:`zfkeras.methods.dissection.holding_weights`) and RISE's masks
(:mod:`zfkeras.methods.random_masks`). A map ``(h, w)`` becomes ``R @ map @ C.T`` with
``R = cell_weights(...)`` ``(H, h)`` and ``C`` ``(W, w)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cell_weights", "hat"]


def hat(u, n: int) -> np.ndarray:
    """Bilinear weights of fractional cell coordinates: ``(*u.shape, n)`` float64, the weight
    of cell ``i`` at coordinate ``u`` is ``max(0, 1 - |u - i|)`` (the hat function at ``i``)."""
    u = np.asarray(u, np.float64)
    return np.maximum(0.0, 1.0 - np.abs(u[..., None] - np.arange(n)))


def cell_weights(first_centre: float, stride: float, n: int, size: int, *, hold: bool):
    """``(size, n)`` float32 weights placing cell ``i`` at pixel ``first_centre + i * stride``
    and interpolating in between. Beyond the outer centres the outer cell's value is held up
    to the border (``hold=True``) or fades linearly to zero one stride further out
    (``hold=False``)."""
    u = (np.arange(size) - first_centre) / stride
    return hat(np.clip(u, 0, n - 1) if hold else u, n).astype(np.float32)
