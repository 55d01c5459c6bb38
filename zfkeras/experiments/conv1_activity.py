"""The ReLU activity of a first conv layer, from its kernel and bias alone: its outputs
(:func:`conv1_outputs`), each filter's share of zero outputs (:func:`zero_fraction`) and the dead
filters (:func:`dead_by_activity`), as :mod:`zfkeras.experiments.renorm` counts them (paper
Fig. 6 b, c); :func:`conv1_geometry` reads a model's first-layer stride and padding.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods.checks import BATCH_SIZE


def conv1_outputs(kernel, bias, images, stride: int, pad: int) -> tf.Tensor:
    """ReLU output of a first conv layer: zero padding ``pad``, then a "valid" convolution.

    Args:
        kernel: ``(kh, kw, c, n)``; bias: ``(n,)``; images: model inputs ``(N, H, W, c)``.

    Returns:
        float32 ``(N, h, w, n)``.

    Raises:
        ValueError: mismatched shapes or a negative ``pad`` / non-positive ``stride``.
    """
    k = tf.convert_to_tensor(kernel, tf.float32)
    b = tf.convert_to_tensor(bias, tf.float32)
    x = tf.convert_to_tensor(images, tf.float32)
    if k.shape.rank != 4 or b.shape != (k.shape[3],):
        raise ValueError(
            f"kernel must be (kh, kw, c, n) and bias (n,), got {k.shape} and {b.shape}"
        )
    if x.shape.rank != 4 or x.shape[3] != k.shape[2]:
        raise ValueError(f"images must be (N, H, W, {k.shape[2]}), got shape {x.shape}")
    if stride < 1 or pad < 0:
        raise ValueError(f"stride must be >= 1 and pad >= 0, got stride={stride}, pad={pad}")
    x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    return tf.nn.relu(tf.nn.conv2d(x, k, stride, "VALID") + b)


def zero_fraction(
    kernel, bias, images, stride: int, pad: int, eps: float = 1e-6, *, batch_size: int = BATCH_SIZE
) -> np.ndarray:
    """Float ``(n,)``: for each filter, the fraction of (image, position) pairs where its ReLU
    output is ``<= eps`` (see :func:`conv1_outputs`)."""
    zeros, total = 0, 0
    for i in range(0, len(images), batch_size):
        a = conv1_outputs(kernel, bias, images[i : i + batch_size], stride, pad)
        zeros = zeros + tf.reduce_sum(tf.cast(a <= eps, tf.float64), axis=(0, 1, 2)).numpy()
        total += int(np.prod(a.shape[:3]))
    if total == 0:
        raise ValueError("images must hold at least one image")
    return zeros / total


def dead_by_activity(
    kernel, bias, images, stride: int, pad: int, eps: float = 1e-6, fraction: float = 0.99
) -> np.ndarray:
    """Bool ``(n,)``: filters whose ReLU output is ``<= eps`` on at least ``fraction`` of all
    positions of all ``images`` (a dead ReLU unit).

    Raises:
        ValueError: ``fraction`` not in (0, 1].
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    return zero_fraction(kernel, bias, images, stride, pad, eps) >= fraction


def conv1_geometry(model: keras.Model) -> tuple[int, int]:
    """The first conv layer's stride and zero padding (``pad1``, 0 without one)."""
    conv = model.get_layer("conv1")
    names = [lay.name for lay in model.layers]
    pad = model.get_layer("pad1").padding[0][0] if "pad1" in names else 0
    return int(conv.strides[0]), int(pad)
