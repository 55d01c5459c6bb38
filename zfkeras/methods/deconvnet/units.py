"""The units a projection keeps: checks of ``channels``/``location`` and the selection of one
activation per image, shared by both ways down of :class:`zfkeras.Deconvnet`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from zfkeras.methods import checks


@dataclass(frozen=True)
class Units:
    """The activation kept per image (:meth:`zfkeras.Deconvnet.units`).

    Attributes:
        channel, row, col: int32 ``(N,)``, where each kept activation lies.
        value: float32 ``(N,)``, its value.
    """

    channel: np.ndarray
    row: np.ndarray
    col: np.ndarray
    value: np.ndarray


def unit_arrays(shape: tuple[int, int, int], layer: str, n: int, channels, location):
    """``(channel, row, col)`` int32 arrays ``(n,)`` for a layer of output ``shape`` (rows,
    cols, channels); -1 marks "the strongest". Raises ``ValueError`` naming the argument."""
    rows, cols, chans = shape
    ch = checks.channels(channels, chans, layer, per_image=n)
    if location is None:
        loc = np.full((n, 2), -1, np.int32)
    else:
        loc = np.asarray(location)
        if loc.shape == (2,):
            loc = np.broadcast_to(loc, (n, 2))
        if loc.shape != (n, 2) or not np.issubdtype(loc.dtype, np.integer):
            raise ValueError(
                f"location must be None, a (row, col) pair or one pair per "
                f"image ({n}), got {location!r}"
            )
        if loc.min() < 0 or (loc[:, 0] >= rows).any() or (loc[:, 1] >= cols).any():
            raise ValueError(
                f"location must be inside the {rows}x{cols} map of layer "
                f"{layer!r}, got {location!r}"
            )
    return ch.astype(np.int32), loc[:, 0].astype(np.int32), loc[:, 1].astype(np.int32)


def select(act, chans, rows, cols):
    """The kept unit per image (``chans``, ``rows``, ``cols``: int32 ``(n,)``, -1: the
    strongest) and the signal holding only its value."""
    channel, row, col = chans, rows, cols
    n = tf.shape(act)[0]
    best = tf.argmax(tf.reduce_max(act, axis=(1, 2)), -1, output_type=tf.int32)
    channel = tf.where(channel >= 0, channel, best)
    fmap = tf.gather(act, channel, axis=3, batch_dims=1)  # (n, rows, cols)
    width = tf.shape(fmap)[2]
    pos = tf.argmax(tf.reshape(fmap, [n, -1]), -1, output_type=tf.int32)
    row = tf.where(row >= 0, row, pos // width)
    col = tf.where(col >= 0, col, pos % width)
    index = tf.stack([tf.range(n), row, col, channel], axis=1)
    value = tf.gather_nd(act, index)
    return (channel, row, col, value), tf.scatter_nd(index, value, tf.shape(act))
