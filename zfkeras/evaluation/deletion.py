"""Deletion and insertion curves (Petsiuk, Das & Saenko, "RISE: Randomized Input Sampling for
Explanation of Black-box Models", BMVC 2018).

A heatmap ranks the pixels. *Deletion*: remove them, most important first (replace them with a
baseline), and follow the class probability; a faithful heatmap makes it fall fast (low area
under the curve). *Insertion*: start from the baseline and put the pixels back in the same
order; a faithful heatmap makes the probability rise fast (high area).

Every step of a chunk of images goes through the model in one batch, built inside one compiled
function (cached per model on a traced copy: the cache never holds the model itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE
from zfkeras.methods.softmax import ends_in_softmax, probabilities


@dataclass(frozen=True)
class Curve:
    """A deletion or insertion curve.

    Attributes:
        fractions: ``(steps + 1,)`` fraction of the pixels removed (deletion) or inserted
            (insertion) at each step, from 0 to 1.
        scores: ``(N, steps + 1)`` the class probability at each step.
        auc: ``(N,)`` area under each curve (trapezoid rule over ``fractions``).
    """

    fractions: np.ndarray
    scores: np.ndarray
    auc: np.ndarray


def _compiled(model):
    shape = tuple(model.inputs[0].shape[1:])
    is_probability = ends_in_softmax(model)
    forward = checks.layer_model(model, [], output=True)  # a traced copy, same weights
    spec = tf.TensorSpec

    @tf.function(
        input_signature=[
            spec((None, *shape), tf.float32),
            spec((None, *shape), tf.float32),
            spec((None, *shape[:2]), tf.int32),
            spec((None,), tf.int32),
            spec((None,), tf.int32),
        ]
    )
    def run(start, end, rank, counts, cls):
        # pixel p shows ``end`` once ``rank[p] < count`` (it is among the first ``count``)
        switched = rank[:, None, :, :, None] < counts[None, :, None, None, None]
        x = tf.where(switched, end[:, None], start[:, None])
        s = tf.shape(counts)[0]
        z = forward(tf.reshape(x, [-1, *shape]), training=False)
        p = probabilities(z[0] if isinstance(z, (list, tuple)) else z, is_probability)
        p = tf.reshape(p, [-1, s, tf.shape(p)[-1]])
        return tf.gather(p, cls, axis=2, batch_dims=1)

    return run


def blur(images, size: int = 11, sigma: float = 5.0) -> np.ndarray:
    """Gaussian blur of ``(N, H, W, C)`` images (RISE's insertion start: an 11-tap window,
    sigma 5), borders reflected without repeating the edge pixel."""
    x = np.asarray(images, np.float64)
    g = np.exp(-0.5 * ((np.arange(size) - (size - 1) / 2) / sigma) ** 2)
    g /= g.sum()
    h = size // 2
    x = np.pad(x, ((0, 0), (h, h), (h, h), (0, 0)), mode="reflect")
    x = np.lib.stride_tricks.sliding_window_view(x, size, axis=1) @ g  # window axis last
    x = np.lib.stride_tricks.sliding_window_view(x, size, axis=2) @ g
    return x.astype(np.float32)


def _curve(
    model, images, heatmaps, class_index, steps, baseline, insert, batch_size, verbose
) -> Curve:
    checks.check_model(model)
    x = checks.images(model, images)
    heat = np.asarray(heatmaps, np.float64)
    if heat.ndim == 4:
        heat = np.abs(heat).sum(-1)
    if heat.shape != x.shape[:3] or not np.all(np.isfinite(heat)):
        raise ValueError(
            f"heatmaps must be finite (N, H, W) = {x.shape[:3]} maps (or "
            f"(N, H, W, C)) at image size, got shape {np.shape(heatmaps)}"
        )
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    checks.batch_size(batch_size)
    checks.verbose(verbose)
    if isinstance(baseline, str):
        if baseline != "blur":
            raise ValueError(
                f"baseline must be a number, an array broadcastable to the images "
                f"{x.shape} or 'blur', got {baseline!r}"
            )
        base = blur(x)
    else:
        b = np.asarray(baseline, np.float32)
        try:
            base = np.broadcast_to(b, x.shape).astype(np.float32)
        except ValueError:
            raise ValueError(
                f"baseline must broadcast to the images {x.shape}, got shape {b.shape}"
            ) from None
        if not np.all(np.isfinite(base)):
            raise ValueError("baseline must be finite, got NaN or inf values")
    cls = checks.predicted_classes(model, x, class_index, batch_size=batch_size)
    n, pixels = len(x), x.shape[1] * x.shape[2]
    order = np.argsort(-heat.reshape(n, -1), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(pixels)[None], axis=1)
    rank = rank.reshape(x.shape[:3]).astype(np.int32)
    counts = (np.arange(steps + 1) * pixels) // steps
    run = checks.cached(model, ("deletion",), lambda: _compiled(model))
    per = max(1, batch_size // (steps + 1))
    start, end = (base, x) if insert else (x, base)
    bar = checks.Progress(n, verbose=verbose, unit_name="image")
    scores = []
    for sl in checks.batches(n, per):
        scores.append(run(start[sl], end[sl], rank[sl], counts.astype(np.int32), cls[sl]).numpy())
        bar.update(sl.stop)
    scores = np.concatenate(scores).astype(np.float64)
    fractions = counts / pixels
    auc = ((scores[:, 1:] + scores[:, :-1]) / 2 * np.diff(fractions)).sum(1)
    return Curve(fractions, scores, auc)


def deletion_curve(
    model: keras.Model,
    images,
    heatmaps,
    class_index=None,
    *,
    steps: int = 32,
    baseline=0.0,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> Curve:
    """RISE deletion: the class probability as the pixels are removed, most important first.

    Args:
        model: a single-input classifier; its output is taken as probabilities when its last
            layer is a softmax, else a softmax is applied.
        images: model inputs ``(N, H, W, C)``, already preprocessed.
        heatmaps: ``(N, H, W)`` (or ``(N, H, W, C)``, reduced by the sum of absolute values)
            at image size; higher = more important. Ties keep the pixels' row-major order.
        class_index: ``None`` (the model's top class on each unmodified image), an int, or one
            int per image.
        steps: the curve has ``steps + 1`` points; step ``s`` removes the first
            ``floor(s * H * W / steps)`` pixels (all channels of a pixel at once).
        baseline: what a removed pixel becomes: a number (default 0, the dataset mean for
            zfkeras's mean-subtracted inputs), an array broadcastable to the images (a colour,
            an image, one image each) or ``"blur"`` (:func:`blur` of each image).
        batch_size: model inputs per forward pass (images per pass: ``batch_size // (steps +
            1)``, at least one).
        verbose: ``"auto"`` (a progress bar when the run looks longer than a few seconds),
            0 or 1.

    Returns:
        A :class:`Curve`. Lower ``auc`` = a more faithful heatmap.

    Raises:
        TypeError/ValueError: bad model, images, heatmaps, class_index, steps, baseline,
            batch_size or verbose (the shared checks of :mod:`zfkeras.methods.checks`).
    """
    return _curve(model, images, heatmaps, class_index, steps, baseline, False, batch_size, verbose)


def insertion_curve(
    model: keras.Model,
    images,
    heatmaps,
    class_index=None,
    *,
    steps: int = 32,
    baseline="blur",
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> Curve:
    """RISE insertion: start from ``baseline`` (default ``"blur"``: a blurred copy of each
    image, as in RISE) and put the image's pixels back, most important first. Arguments,
    return value and errors as in :func:`deletion_curve`; higher ``auc`` = more faithful."""
    return _curve(model, images, heatmaps, class_index, steps, baseline, True, batch_size, verbose)
