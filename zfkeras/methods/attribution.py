"""Gradient attributions of the class score: SmoothGrad and Integrated Gradients.

Course material beyond the paper: both explain the class score *before the softmax*
(:func:`zfkeras.pre_softmax`) by gradients with respect to the image, like the ``"backprop"``
projection of the sanity checks, but averaged so that the map is less noisy (SmoothGrad) or
sums to the change of the score (Integrated Gradients).

* SmoothGrad (Smilkov, Thorat, Kim, Viegas & Wattenberg, "SmoothGrad: removing noise by adding
  noise", 2017): the gradient averaged over ``samples`` copies of the image with Gaussian noise
  of standard deviation ``noise * (max(x) - min(x))`` added.
* Integrated Gradients (Sundararajan, Taly & Yan, "Axiomatic Attribution for Deep Networks",
  ICML 2017): ``(x - x') * mean over alpha of grad f(x' + alpha (x - x'))`` with the baseline
  ``x'``; the midpoint rule over ``steps`` values of ``alpha``. Completeness: the attributions
  sum to ``f(x) - f(x')`` (up to the integration error).

Every image x sample (or step) pair is one row of a batch of at most ``batch_size`` rows, run
in one compiled function (``tf.function``, cached per model); the noise of image ``i`` depends
only on ``seed`` and ``i``, so results do not depend on ``batch_size``. The argument checks
and the batch planning are :mod:`.checks`'s.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks, softmax
from zfkeras.methods.cache import cached
from zfkeras.methods.checks import BATCH_SIZE, SEED, VERBOSE
from zfkeras.methods.registry import method


def _score_gradient(net, x, cls):
    """d(sum of each row's class score) / d x, for a batch of rows."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = net(x, training=False)
        score = tf.reduce_sum(tf.gather(z, cls, axis=1, batch_dims=1))
    return tape.gradient(score, x)


def _smoothgrad_fn(model):
    """The compiled SmoothGrad pass, one per model: ``samples`` is an argument (a scalar
    tensor), so varying it adds no cache entry and no trace."""
    net = softmax.logits_model(model)
    shape = tuple(model.inputs[0].shape[1:])
    spec = [
        tf.TensorSpec((None, *shape), tf.float32),  # images
        tf.TensorSpec((None,), tf.int32),  # classes
        tf.TensorSpec((None,), tf.float32),  # noise standard deviations
        tf.TensorSpec((None, 2), tf.int32),  # each image's noise seed (seed, image index)
        tf.TensorSpec((), tf.int32),  # first sample
        tf.TensorSpec((), tf.int32),  # end sample
        tf.TensorSpec((), tf.int32),  # samples (each image's noise is drawn for all of them)
    ]

    @tf.function(input_signature=spec)
    def run(x, cls, sigma, index, start, stop, samples):
        def draw(pair):
            return tf.random.stateless_normal((samples, *shape), pair)[start:stop]

        eps = tf.map_fn(draw, index, fn_output_signature=tf.float32)  # (k, s, H, W, C)
        s = stop - start
        rows = x[:, None] + sigma[:, None, None, None, None] * eps
        g = _score_gradient(net, tf.reshape(rows, (-1, *shape)), tf.repeat(cls, s))
        return tf.reduce_sum(tf.reshape(g, (-1, s, *shape)), axis=1)

    return run


def _accumulate(run_chunk, n, per, batch_size, verbose, shape):
    """Sum ``run_chunk(items, start, stop)`` over :func:`~zfkeras.methods.checks.plan`, with a
    progress bar."""
    total = np.zeros((n, *shape), np.float32)
    for b, start, stop in checks.each(checks.plan(n, per, batch_size=batch_size), verbose=verbose):
        total[b] += run_chunk(b, start, stop)
    return total


@method("smoothgrad", takes=("seed",))
def smoothgrad(
    model: keras.Model,
    images,
    class_index=None,
    *,
    samples: int = 50,
    noise: float = 0.15,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
    seed: int = SEED,
) -> np.ndarray:
    """SmoothGrad (Smilkov et al., 2017): the gradient of the class score before the softmax,
    averaged over noisy copies of each image.

    ``mean over s of grad f_c(x + e_s)``, ``e_s ~ N(0, sigma^2)``, ``sigma = noise *
    (max(x) - min(x))`` per image (the paper's noise level; 10-20% works best there, 50
    samples).

    Args:
        model: a Keras classifier (Sequential, Functional or nested).
        images: model inputs ``(N, H, W, C)``.
        class_index: ``None`` (each image's predicted class), an int, or one int per image.
        samples: noisy copies per image (int >= 1).
        noise: the noise level, a number >= 0 (0: the plain gradient).
        batch_size: rows (image x sample pairs) per compiled pass.
        verbose: ``"auto"`` (a progress bar when the run looks longer than a few seconds),
            0 or 1.
        seed: the noise of image ``i`` depends only on ``(seed, i)``.

    Returns:
        ``(N, H, W, C)`` float32 signed gradients.

    Raises:
        TypeError/ValueError: bad model, images, class_index, samples, noise, batch_size,
            verbose or seed.
    """
    x, cls = checks.prepare(model, images, class_index, batch_size=batch_size, verbose=verbose)
    samples = checks.number(samples, "samples", 1, integer=True)
    noise = checks.number(noise, "noise")
    seed = checks.seed(seed)
    cls = softmax.resolve(model, x, cls, batch_size=batch_size)
    run = cached(model, ("smoothgrad",), lambda: _smoothgrad_fn(model))
    sigma = (noise * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))).astype(np.float32)
    index = np.stack([np.full(len(x), seed), np.arange(len(x))], 1).astype(np.int32)

    def chunk(b, start, stop):
        args = (x[b], cls[b], sigma[b], index[b], np.int32(start), np.int32(stop))
        args += (np.int32(samples),)
        return run(*map(tf.constant, args)).numpy()

    total = _accumulate(chunk, len(x), samples, batch_size, verbose, x.shape[1:])
    return total / samples


def _ig_fn(model):
    """The compiled Integrated Gradients pass, one per model: ``steps`` is an argument (a
    scalar tensor), so varying it adds no cache entry and no trace."""
    net = softmax.logits_model(model)
    shape = tuple(model.inputs[0].shape[1:])
    spec = [
        tf.TensorSpec((None, *shape), tf.float32),  # images
        tf.TensorSpec(shape, tf.float32),  # baseline
        tf.TensorSpec((None,), tf.int32),  # classes
        tf.TensorSpec((), tf.int32),  # first step
        tf.TensorSpec((), tf.int32),  # end step
        tf.TensorSpec((), tf.int32),  # steps
    ]

    @tf.function(input_signature=spec)
    def run(x, base, cls, start, stop, steps):
        alpha = (tf.cast(tf.range(start, stop), tf.float32) + 0.5) / tf.cast(steps, tf.float32)
        s = stop - start
        rows = base + alpha[None, :, None, None, None] * (x - base)[:, None]
        g = _score_gradient(net, tf.reshape(rows, (-1, *shape)), tf.repeat(cls, s))
        return tf.reduce_sum(tf.reshape(g, (-1, s, *shape)), axis=1)

    return run


def _baseline(model, baseline) -> np.ndarray:
    shape = tuple(model.inputs[0].shape[1:])
    if isinstance(baseline, (int, float, np.integer, np.floating)) and not isinstance(
        baseline, bool
    ):
        b = np.full(shape, float(baseline), np.float32)
    else:
        try:
            b = np.asarray(baseline, np.float32)
        except (TypeError, ValueError):
            raise TypeError(
                f"baseline must be a number or an array shaped like one image {shape}, "
                f"got {type(baseline).__name__}"
            ) from None
        if b.shape != shape:
            raise ValueError(
                f"baseline must be a number or an array of shape {shape} (one image), "
                f"got shape {b.shape}"
            )
    if not np.isfinite(b).all():
        raise ValueError("baseline must be finite, got NaN or inf values")
    return b


@method("integrated_gradients")
def integrated_gradients(
    model: keras.Model,
    images,
    class_index=None,
    *,
    baseline=0.0,
    steps: int = 64,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> np.ndarray:
    """Integrated Gradients (Sundararajan et al., 2017) of the class score before the softmax.

    ``(x - x') * (1/steps) * sum_k grad f_c(x' + alpha_k (x - x'))`` with ``alpha_k =
    (k + 1/2) / steps`` (the midpoint rule). The attributions of an image sum to ``f_c(x) -
    f_c(x')`` up to the integration error (under 2% at 64 steps on the course's ReLU nets).

    Args:
        model: a Keras classifier (Sequential, Functional or nested).
        images: model inputs ``(N, H, W, C)``.
        class_index: ``None`` (each image's predicted class), an int, or one int per image.
        baseline: the reference input ``x'``: a number (every pixel; 0 is the mean image for
            mean-subtracted inputs) or an array shaped like one image ``(H, W, C)``.
        steps: points of the path integral (int >= 1).
        batch_size: rows (image x step pairs) per compiled pass.
        verbose: ``"auto"``, 0 or 1 (a progress bar).

    Returns:
        ``(N, H, W, C)`` float32 attributions.

    Raises:
        TypeError/ValueError: bad model, images, class_index, baseline, steps, batch_size or
            verbose.
    """
    x, cls = checks.prepare(model, images, class_index, batch_size=batch_size, verbose=verbose)
    base = _baseline(model, baseline)
    steps = checks.number(steps, "steps", 1, integer=True)
    cls = softmax.resolve(model, x, cls, batch_size=batch_size)
    run = cached(model, ("integrated_gradients",), lambda: _ig_fn(model))
    tb = tf.constant(base)

    def chunk(b, start, stop):
        args = (tf.constant(x[b]), tb, tf.constant(cls[b]), np.int32(start), np.int32(stop))
        args += (np.int32(steps),)
        return run(*args).numpy()

    total = _accumulate(chunk, len(x), steps, batch_size, verbose, x.shape[1:])
    return ((x - base) * total / steps).astype(np.float32)
