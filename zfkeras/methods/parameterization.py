"""The image side of Lucid's feature visualization (Olah, Mordvintsev & Schubert, "Feature
Visualization", Distill 2017; the Lucid library's defaults): a Fourier parameterization with
1/f scaling, colour decorrelation by the data's own colour covariance, and the random
transforms that make an optimized image robust. See :mod:`.lucid` for the optimization.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def fourier_scale(size, decay_power: float = 1.0) -> np.ndarray:
    """``(H, W // 2 + 1)`` float32: ``sqrt(H W) / max(f, 1 / max(H, W)) ** decay_power`` for
    the frequency ``f`` (cycles per pixel) of each coefficient of a real 2-D FFT."""
    h, w = size
    f = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.rfftfreq(w)[None, :] ** 2)
    return (np.sqrt(h * w) / np.maximum(f, 1.0 / max(h, w)) ** decay_power).astype(np.float32)


def fourier_image(spectrum, scale, size):
    """Images ``(N, H, W, C)`` of ``size = (H, W)`` from spectra ``(N, C, H, W // 2 + 1, 2)``
    (real, imaginary parts): the inverse real FFT of ``scale * spectrum``, divided by 4
    (Lucid's)."""
    z = tf.complex(spectrum[..., 0], spectrum[..., 1]) * tf.cast(scale, tf.complex64)
    img = tf.signal.irfft2d(z, fft_length=tf.constant(size, tf.int32))
    return tf.transpose(img, (0, 2, 3, 1)) / 4.0


def colour_sqrt(images) -> np.ndarray:
    """A square root ``M`` (``C x C``, float32) of the colour covariance of ``images``
    ``(N, H, W, C)``: ``M = U sqrt(diag(l))`` from the eigendecomposition ``U diag(l) U^T`` of
    the covariance of all pixels, divided by its largest column norm (Lucid's normalization),
    so ``M M^T`` is the covariance up to a scale."""
    x = np.asarray(images, np.float64)
    if x.ndim != 4 or len(x) == 0 or not np.isfinite(x).all():
        raise ValueError(f"images must be a finite batch (N, H, W, C), got shape {x.shape}")
    cov = np.atleast_2d(np.cov(x.reshape(-1, x.shape[-1]).T))
    lam, u = np.linalg.eigh(cov)
    m = u * np.sqrt(np.clip(lam, 0, None))[None, :]
    peak = np.linalg.norm(m, axis=0).max()
    if peak == 0:
        raise ValueError("images must not all be one colour (zero colour covariance)")
    return (m / peak).astype(np.float32)


def _sizes(size: int) -> tuple[int, int, int]:
    """Lucid's pad 12, jitter 8 and jitter 4 at 224 px, scaled to ``size`` (jitters >= 1)."""
    k = size / 224
    return round(12 * k), max(1, round(8 * k)), max(1, round(4 * k))


def random_draws(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """``(n, 4)`` float32 random transforms for :func:`transforms`, Lucid's distributions:
    zoom ``1 + i/50`` for ``i`` in -5..5 (times ``size / (size + 2 pad)``: the grey pad),
    rotation of -10..10 degrees, and a shift (x, y) that is the sum of two uniform integer
    jitters."""
    pad, jit1, jit2 = _sizes(size)
    zoom = (1 + rng.integers(-5, 6, n) / 50) * size / (size + 2 * pad)
    angle = rng.integers(-10, 11, n).astype(np.float64)
    shift = rng.integers(-jit1, jit1 + 1, (n, 2)) + rng.integers(-jit2, jit2 + 1, (n, 2))
    return np.column_stack([zoom, angle, shift]).astype(np.float32)


def transforms(x, draws, size: int):
    """``x`` ``(N, size, size, C)`` (centred on grey, 0) zoomed about the centre by
    ``draws[:, 0]``, rotated by ``draws[:, 1]`` degrees and shifted by ``draws[:, 2:]`` pixels
    (x = columns, y = rows), bilinear, grey where nothing maps (:func:`random_draws`)."""
    zoom, angle = draws[:, 0], draws[:, 1] * (np.pi / 180)
    c = (size - 1) / 2
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom  # the inverse map, output -> input
    tx, ty = c + draws[:, 2], c + draws[:, 3]
    a2 = c - cos * tx - sin * ty
    a5 = c + sin * tx - cos * ty
    zero = tf.zeros_like(cos)
    mat = tf.stack([cos, sin, a2, -sin, cos, a5, zero, zero], 1)
    return keras.ops.image.affine_transform(x, mat, "bilinear", "constant", 0.0)
