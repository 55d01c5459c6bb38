"""Filter patterns by gradient ascent in input space.

Course material beside the paper: start from a grey image with a
little noise and repeatedly add the normalized gradient of one filter's mean activation with
respect to the input. Plain ascent gives high-frequency patterns; regularizers (jitter, blur,
decay, scale changes) give clearer ones. Compare the paper's deconvnet projections (Fig. 2),
which show what excites a filter in *real* images rather than in an optimized one.

All requested filters are optimized together: image ``i`` of one batch maximizes filter
``filters[i]``, and one compiled step (``tf.function``) updates the whole batch.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.ascent import feature_model
from zfkeras.methods.checks import BATCH_SIZE, SEED, VERBOSE

RECIPES = ("plain", "regularized")
_BLUR = np.outer([1, 2, 1], [1, 2, 1]).astype(np.float32) / 16


def _step_fn(features, recipe, size, jitter, decay):
    """One compiled ascent step for the whole batch: ``step(x, filters, seed, lr, lo, hi)``
    returns (new x, gradient RMS, mean act); the learning rate and the input range are
    arguments, so one compiled step serves every value (nothing cached grows with them)."""
    blur = tf.constant(np.tile(_BLUR[:, :, None, None], (1, 1, features.inputs[0].shape[-1], 1)))

    def objective(x, filters):
        act = tf.cast(features(x, training=False), tf.float32)
        per_image = tf.reduce_mean(tf.gather(act, filters, axis=-1, batch_dims=1), axis=(1, 2))
        return tf.reduce_sum(per_image), per_image

    spec = [
        tf.TensorSpec((None, *size, features.inputs[0].shape[-1]), tf.float32),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((2,), tf.int32),
    ]
    spec += [tf.TensorSpec((), tf.float32)] * 3  # learning rate, low and high of the input

    @tf.function(input_signature=spec)
    def step(x, filters, seed, lr, lo, hi):
        if recipe == "regularized":
            shift = tf.random.stateless_uniform([2], seed, -jitter, jitter + 1, tf.int32)
            xt = tf.roll(x, shift, axis=[1, 2])
            zoom = tf.random.stateless_uniform([], seed + 1, 0.92, 1.08)
            new = tf.cast(tf.round(zoom * np.array(size, np.float32)), tf.int32)
            with tf.GradientTape() as tape:
                tape.watch(xt)
                xs = tf.image.resize(xt, new, "bilinear")
                xs = tf.image.resize_with_crop_or_pad(xs, size[0], size[1])
                total, per_image = objective(xs, filters)
            g = tf.roll(tape.gradient(total, xt), -shift, axis=[1, 2])
        else:
            with tf.GradientTape() as tape:
                tape.watch(x)
                total, per_image = objective(x, filters)
            g = tape.gradient(total, x)
        rms = tf.sqrt(tf.reduce_mean(tf.square(g), axis=(1, 2, 3), keepdims=True))
        x = x + lr * tf.math.divide_no_nan(g, rms + 1e-12)
        if recipe == "regularized":
            grey = (lo + hi) / 2
            x = grey + (1 - decay) * (x - grey)
            smooth = tf.nn.depthwise_conv2d(
                tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "SYMMETRIC"),
                blur,
                [1, 1, 1, 1],
                "VALID",
            )
            x = tf.clip_by_value(0.5 * x + 0.5 * smooth, lo, hi)
        return x, tf.reshape(rms, [-1]), per_image

    return step


def _check(model, layer, size, steps, seed, recipe, input_range, batch_size, verbose):
    checks.check_model(model)
    checks.batch_size(batch_size)
    checks.verbose(verbose)
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    checks.number(steps, "steps", 1, integer=True)
    checks.seed(seed)
    if len(input_range) != 2 or not input_range[0] < input_range[1]:
        raise ValueError(f"input_range must be (low, high) with low < high, got {input_range!r}")
    if size is None:
        size = tuple(model.inputs[0].shape[1:3])
        if None in size:
            raise ValueError(
                f"size must be given for a model with input shape "
                f"{tuple(model.inputs[0].shape[1:])}, got None"
            )
    elif isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    if (
        not isinstance(size, Sequence)
        or len(size) != 2
        or any(not isinstance(s, (int, np.integer)) or s < 8 for s in size)
    ):
        raise ValueError(f"size must be an int or (rows, cols) of ints >= 8, got {size!r}")
    checks.feature_layer(model, layer)
    return tuple(int(s) for s in size)


def visualize_filters(
    model: keras.Model,
    layer: str,
    *,
    channels=None,
    size=None,
    steps: int | None = None,
    recipe: str = "plain",
    learning_rate: float | None = None,
    input_range: tuple[float, float] = (-2.0, 2.0),
    pre_relu: bool = True,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
    seed: int = SEED,
) -> np.ndarray:
    """Input patterns that maximize channels' mean activation, by batched gradient ascent.

    Args:
        model: a Sequential, Functional or nested Keras model.
        layer: name (or ``"outer/inner"`` path) of a layer with a 4-D output.
        channels: the layer's channels (filters) to visualize: an int or a sequence; default
            every channel of the layer.
        size: pattern size, an int or ``(rows, cols)``; default the model's input size (other
            sizes work for the fully convolutional part of the graph).
        steps: ascent steps; default 60 (plain) or 200 (regularized).
        recipe: ``"plain"``: ``x += lr * g / rms(g)`` from grey + noise (the textbook recipe);
            ``"regularized"``: the same step taken through a random jitter (roll) and a random
            zoom of 0.92-1.08, followed by decay towards grey, a 3x3 blur and clipping to
            ``input_range``.
        learning_rate: step in input units per step (RMS over the pattern); default 1% of the
            input range for plain, 4% for regularized.
        input_range: ``(low, high)`` of the model's inputs; the start is its midpoint ("grey")
            plus noise of 2.5% of the range. The default suits the shipped models
            (mean-subtracted pixels / 64).
        pre_relu: when the layer's ReLU is fused into it (``Conv2D(..., activation="relu")``),
            climb the filter's response before that ReLU, as the textbook recipe does on
            Xception, whose convolutions are linear; after the ReLU the gradient is zero
            wherever the filter is off, which on a grey start is almost everywhere.
        batch_size: patterns optimized together (results do not depend on it).
        verbose: ``"auto"`` (a progress bar when the run looks longer than a few seconds),
            0 or 1.
        seed: seeds the starting noise (per channel index, so a channel's pattern is the same
            alone or in a batch) and the regularizers' random draws; same seed, same result.

    Returns:
        ``(n_channels, rows, cols, channels_in)`` float32 patterns in the model's input space
        (show them with ``zfkeras.figures.image_grid(patterns, scale=True)``). A channel whose
        gradient is zero throughout (a dead filter) gives a flat grey image and a warning;
        never NaN.

    Raises:
        TypeError/ValueError: bad model, layer, channels, size, steps, seed, recipe,
            input_range, batch_size or verbose.
    """
    if steps is None:
        steps = 200 if recipe == "regularized" else 60
    size = _check(model, layer, size, steps, seed, recipe, input_range, batch_size, verbose)
    lo, hi = float(input_range[0]), float(input_range[1])
    if learning_rate is None:
        learning_rate = (0.01 if recipe == "plain" else 0.04) * (hi - lo)
    features = checks.cached(
        model,
        ("features", layer, size, bool(pre_relu)),
        lambda: feature_model(model, layer, size=size, pre_relu=bool(pre_relu))[0],
    )
    chosen = checks.channels(
        channels, int(features.outputs[0].shape[-1]), layer, "channels", many=True
    )
    key = ("step", layer, size, recipe, bool(pre_relu))
    step = checks.cached(
        model,
        key,
        lambda: _step_fn(features, recipe, size, jitter=max(1, min(size) // 16), decay=0.01),
    )
    consts = [tf.constant(v, tf.float32) for v in (learning_rate, lo, hi)]

    n_in = features.inputs[0].shape[-1]
    parts = list(checks.batches(len(chosen), batch_size))
    bar = checks.Progress(
        steps * len(parts), verbose=verbose, unit_name="step", stateful_metrics=["mean activation"]
    )
    out, alive = [], []
    for k, b in enumerate(parts):
        noise = np.stack(
            [
                np.random.default_rng([seed, int(f)]).normal(0, 0.025 * (hi - lo), (*size, n_in))
                for f in chosen[b]
            ]
        ).astype(np.float32)
        x = tf.constant((lo + hi) / 2 + noise)
        target = tf.constant(chosen[b])
        live = tf.zeros(len(chosen[b]), tf.bool)
        for i in range(steps):
            x, rms, act = step(x, target, tf.constant([seed, 2 * i], tf.int32), *consts)
            live = tf.logical_or(live, rms > 0)
            bar.update(k * steps + i + 1, [("mean activation", float(np.mean(act)))])
        out.append(x.numpy())
        alive.append(live.numpy())
    out, alive = np.concatenate(out), np.concatenate(alive)
    bad = ~alive | ~np.isfinite(out).all(axis=(1, 2, 3))
    if bad.any():
        out[bad] = (lo + hi) / 2
        warnings.warn(
            f"layer {layer!r}: channels {chosen[bad].tolist()} had a zero (or "
            f"non-finite) gradient throughout (dead filters); returned flat grey "
            f"images for them",
            RuntimeWarning,
            stacklevel=2,
        )
    return out


def high_frequency_share(patterns, cutoff: float = 0.5) -> np.ndarray:
    """Share of each pattern's spectral energy (mean removed) above ``cutoff`` x Nyquist.

    A measure of "noisiness": about 0.75 for white noise at ``cutoff=0.5``, 1 for a pixel
    checkerboard, near 0 for smooth patterns. Returns ``(N,)`` floats (0 for a flat pattern).
    """
    p = np.asarray(patterns, np.float32)
    if p.ndim != 4:
        raise ValueError(f"patterns must be (N, H, W, C), got shape {p.shape}")
    if not 0 < cutoff < 1:
        raise ValueError(f"cutoff must be in (0, 1), got {cutoff!r}")
    p = p - p.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(p, axes=(1, 2))) ** 2).sum(-1)
    fy = np.abs(np.fft.fftfreq(p.shape[1]))[:, None] * 2
    fx = np.abs(np.fft.fftfreq(p.shape[2]))[None, :] * 2
    high = np.maximum(fy, fx) > cutoff
    total = power.sum(axis=(1, 2))
    return np.divide(power[:, high].sum(1), total, out=np.zeros_like(total), where=total > 0)
