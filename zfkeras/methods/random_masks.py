"""Random masks: RISE, Randomized Input Sampling for Explanation (Petsiuk, Das & Saenko, BMVC 2018).

Course material beyond the paper, a black-box cousin of occlusion (Fig. 7): instead of one grey
square at a time, the image is multiplied by many random smooth masks ``M_j``; the saliency of
a pixel is the class probability averaged over the masks, weighted by how much each mask keeps
that pixel::

    S_c = sum_j p_c(x * M_j) M_j / sum_j mean(M_j)

(``sum_j mean(M_j)`` is the paper's ``N E[M]``.) A mask: a ``cells x cells`` grid of 0/1
drawn with probability ``probability`` of 1, upsampled (bilinear) to ``(cells + 1) x`` the cell
size ``ceil(H / cells)`` and cropped to the image at a random shift below one cell.

Every image x mask pair is one row of a batch of at most ``batch_size`` rows, in one compiled
function cached per model.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.cache import cached
from zfkeras.methods.checks import BATCH_SIZE, SEED, VERBOSE
from zfkeras.methods.registry import method
from zfkeras.methods.softmax import logits_model, resolve
from zfkeras.methods.upsampling import hat


def _weights(size: int, cells: int, shifts: np.ndarray) -> np.ndarray:
    """``(count, size, cells)`` bilinear weights: pixel ``y`` of each mask reads the grid at
    the coordinate of pixel ``y + shift`` of the ``(cells + 1) * cell`` upsampled image."""
    cell = -(-size // cells)
    y = np.arange(size)[None, :] + shifts[:, None]  # (count, size)
    return hat(np.clip((y + 0.5) * cells / ((cells + 1) * cell) - 0.5, 0, cells - 1), cells)


def _draw(count: int, cells: int, probability: float, size, seed: int):
    rng = np.random.default_rng(seed)
    grids = (rng.random((count, cells, cells)) < probability).astype(np.float32)
    cell = (-(-size[0] // cells), -(-size[1] // cells))
    shifts = np.stack([rng.integers(0, c, count) for c in cell], 1)
    return grids, shifts


def _build(grids, shifts, size, cells, mean: bool = False) -> np.ndarray:
    """The masks ``(count, rows, cols)``, or (``mean``) only each mask's mean ``(count,)``."""
    rows, cols = _weights(size[0], cells, shifts[:, 0]), _weights(size[1], cells, shifts[:, 1])
    if mean:
        return np.einsum("ni,nij,nj->n", rows.mean(1), grids, cols.mean(1))
    return np.einsum("nhi,nij,nwj->nhw", rows, grids, cols).astype(np.float32)


def _check_draw(samples, cells, probability, size):
    samples = checks.number(samples, "samples", 1, integer=True)
    cells = checks.number(cells, "cells", 1, min(size), integer=True)
    probability = checks.number(probability, "probability", 0.0, 1.0)
    if probability == 0:
        raise ValueError("probability must be in (0, 1], got 0 (every mask would be empty)")
    return samples, cells, probability


def rise_masks(samples: int, size, cells: int = 7, probability: float = 0.5, *, seed: int = SEED):
    """RISE's random masks (see the module docstring): ``(samples, rows, cols)`` float32 in
    [0, 1] for images of ``size = (rows, cols)``; the same ``seed`` gives the same masks."""
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or any(not isinstance(s, (int, np.integer)) or s < 1 for s in size)
    ):
        raise ValueError(f"size must be (rows, cols) of positive ints, got {size!r}")
    samples, cells, probability = _check_draw(samples, cells, probability, size)
    grids, shifts = _draw(samples, cells, probability, size, checks.seed(seed))
    return _build(grids, shifts, size, cells)


def _rise_fn(model):
    net = logits_model(model)
    shape = tuple(model.inputs[0].shape[1:])
    spec = [
        tf.TensorSpec((None, *shape), tf.float32),
        tf.TensorSpec((None, *shape[:2]), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    ]

    @tf.function(input_signature=spec)
    def run(x, masks, cls):
        m = tf.shape(masks)[0]
        rows = x[:, None] * masks[None, :, :, :, None]
        z = net(tf.reshape(rows, (-1, *shape)), training=False)
        p = tf.nn.softmax(tf.cast(z, tf.float32), -1)  # float32 under mixed precision too
        p = tf.reshape(tf.gather(p, tf.repeat(cls, m), axis=1, batch_dims=1), (-1, m))
        return tf.einsum("km,mhw->khw", p, masks)

    return run


def _given(masks, size):
    try:
        m = np.asarray(masks, np.float32)
    except (TypeError, ValueError):
        raise TypeError(f"masks must be an array of numbers, got {type(masks).__name__}") from None
    if m.ndim != 3 or tuple(m.shape[1:]) != tuple(size) or len(m) == 0:
        raise ValueError(
            f"masks must have shape (M, {size[0]}, {size[1]}) with M >= 1, got shape {m.shape}"
        )
    if not np.isfinite(m).all() or m.mean(axis=(1, 2)).sum() <= 0:
        raise ValueError("masks must be finite and not all zero")
    return m


@method("rise", takes=("seed",))
def rise(
    model: keras.Model,
    images,
    class_index=None,
    *,
    samples: int = 4000,
    cells: int = 7,
    probability: float = 0.5,
    masks=None,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
    seed: int = SEED,
) -> np.ndarray:
    """RISE saliency maps (Petsiuk et al., 2018); see the module docstring.

    Args:
        model: a Keras classifier (Sequential, Functional or nested); the score is the class
            probability (the softmax of the class scores before the model's softmax).
        images: model inputs ``(N, H, W, C)``; a mask multiplies the input, so 0 is the value
            of a hidden pixel (the mean image for mean-subtracted inputs).
        class_index: ``None`` (each image's predicted class), an int, or one int per image.
        samples: random masks (the paper: 4000 for ResNet-50).
        cells: the grid of a mask, ``cells x cells`` (the paper: 7).
        probability: the chance that a grid cell is kept (the paper: 0.5).
        masks: optional fixed masks ``(M, H, W)`` used instead of random ones (then
            ``samples``, ``cells``, ``probability`` and ``seed`` are not used).
        batch_size: masked images (image x mask rows) per compiled pass.
        verbose: ``"auto"``, 0 or 1 (a progress bar).
        seed: seeds the masks (:func:`rise_masks`).

    Returns:
        ``(N, H, W)`` float32 saliency: the expected class probability given that the pixel is
        kept (not rescaled).

    Raises:
        TypeError/ValueError: bad model, images, class_index, samples, cells, probability,
            masks, batch_size, verbose or seed.
    """
    x, cls = checks.prepare(model, images, class_index, batch_size=batch_size, verbose=verbose)
    size = x.shape[1:3]
    if masks is None:
        samples, cells, probability = _check_draw(samples, cells, probability, size)
        grids, shifts = _draw(samples, cells, probability, size, checks.seed(seed))

        def chunk_masks(start, stop):
            return _build(grids[start:stop], shifts[start:stop], size, cells)

        total_mean = float(_build(grids, shifts, size, cells, mean=True).sum())
    else:
        fixed = _given(masks, size)
        samples, total_mean = len(fixed), float(fixed.mean(axis=(1, 2)).sum())

        def chunk_masks(start, stop):
            return fixed[start:stop]

    cls = resolve(model, x, cls, batch_size=batch_size)
    run = cached(model, ("rise",), lambda: _rise_fn(model))
    out = np.zeros(x.shape[:3], np.float32)
    ready = {}
    parts = checks.plan(len(x), samples, batch_size=batch_size)
    for b, start, stop in checks.each(parts, verbose=verbose):
        if (start, stop) not in ready:
            ready = {(start, stop): tf.constant(chunk_masks(start, stop))}
        out[b] += run(tf.constant(x[b]), ready[(start, stop)], tf.constant(cls[b])).numpy()
    return (out / np.float32(total_mean)).astype(np.float32)
