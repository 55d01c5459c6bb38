"""Feature visualization with Lucid's recipe (Olah, Mordvintsev & Schubert, "Feature
Visualization", Distill 2017), in ``keras.ops`` and TensorFlow.

Course material beyond the paper, next to :func:`zfkeras.visualize_filters` (plain and
regularized ascent). Three changes make the optimized images look like the data rather than
high-frequency noise:

The image side lives in :mod:`.parameterization`.

* **Fourier parameterization** (:func:`fourier_image`): the image is the inverse real FFT of a
  spectrum whose every frequency ``f`` is scaled by ``1 / max(f, 1/size)`` (``decay_power``
  1), so all frequencies start on the 1/f spectrum of natural images and take equal steps.
* **Colour decorrelation** (:func:`colour_sqrt`): the three channels being optimized are
  decorrelated colours; the image's colours are their product with a square root of the colour
  covariance of the training images *themselves* (ImageNet's matrix fits neither CIFAR-10 nor
  the concept world), then a sigmoid into the model's input range.
* **Transformation robustness** (:func:`transforms`): each step sees the image on a grey pad,
  jittered, randomly scaled and rotated. Lucid's defaults at 224 px (pad 12, jitter 8, scale
  0.9-1.1, rotation +-10 degrees, jitter 4) are scaled to the image size; at 32 px that leaves
  pad 2 and jitters of 1 px, which small CNNs need (larger shifts are a large share of their
  receptive fields).

Objectives (maximized with Adam, learning rate 0.05, 512 steps, Lucid's defaults): a channel's
mean (``"channel"``), one unit at a location (``"neuron"``), or a class score before the
softmax (:func:`visualize_classes`, Simonyan, Vedaldi & Zisserman 2014's class model), plus a
``diversity`` term that pushes the ``variants`` images of one unit apart (Gram-matrix cosine
similarity, Lucid's). Batched over units: image ``i`` of a batch optimizes unit ``i``.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.ascent import step_fn, target_model
from zfkeras.methods.cache import cached
from zfkeras.methods.checks import BATCH_SIZE, SEED, VERBOSE
from zfkeras.methods.parameterization import colour_sqrt, random_draws

OBJECTIVES = ("channel", "neuron")


@dataclass(frozen=True)
class Visualization:
    """Optimized images. ``images``: ``(len(units) * variants, H, W, C)`` float32 in the
    model's input space, unit by unit; ``units``: the channel (or class) of each image;
    ``values``: the objective each reached (channel mean, neuron or class score), on the
    untransformed image; ``layer`` (None for classes) and ``objective``."""

    images: np.ndarray
    units: np.ndarray
    values: np.ndarray
    layer: str | None
    objective: str


def _optimize(model, images, layer, units, objective, location, options) -> Visualization:
    o = options
    variants = checks.number(o["variants"], "variants", 1, integer=True)
    weight = checks.number(o["diversity"], "diversity")
    steps = checks.number(o["steps"], "steps", 1, integer=True)
    lr = checks.number(o["learning_rate"], "learning_rate", 1e-12)
    seed = checks.seed(o["seed"])
    lo, hi = o["input_range"]
    mat = colour_sqrt(images) if o["decorrelate"] else np.eye(images.shape[-1], dtype=np.float32)
    size = tuple(model.inputs[0].shape[1:3])
    net, _ = cached(
        model,
        ("lucid-net", layer, bool(o["pre_relu"])),
        lambda: target_model(model, layer, size=size, pre_relu=bool(o["pre_relu"])),
    )
    key = ("lucid-step", layer, objective, variants)
    key += (bool(o["transforms"]), bool(o["pre_relu"]))
    n_in = int(mat.shape[0])
    step, final = cached(
        model,
        key,
        lambda: step_fn(net, size, objective, variants, n_in, bool(o["transforms"])),
    )
    consts = [tf.constant(c, tf.float32) for c in (lr, lo, hi, mat)]  # arguments, not key parts
    consts.append(tf.constant(location or (0, 0), tf.int32))
    rows = np.repeat(units, variants).astype(np.int32)
    shape = (mat.shape[0], size[0], size[1] // 2 + 1, 2)
    start, draws = [], []
    for j, u in enumerate(rows):  # everything random about an image: from (seed, unit, variant)
        gen = np.random.default_rng([seed, int(u), j % variants])
        start.append(gen.normal(0, 0.01, shape).astype(np.float32))
        draws.append(random_draws(gen, steps, min(size)))
    start, draws = np.stack(start), np.stack(draws)  # (rows, ...), (rows, steps, 4)
    parts = list(checks.batches(len(units), max(1, o["batch_size"] // variants)))
    bar = checks.Progress(steps * len(parts), verbose=o["verbose"], unit_name="step")
    out, vals = [], []
    for k, b in enumerate(parts):
        r = slice(b.start * variants, b.stop * variants)
        p, u = tf.constant(start[r]), tf.constant(rows[r])
        m = v = tf.zeros_like(p)
        for i in range(steps):
            d = tf.constant(draws[r, i])
            p, m, v = step(p, m, v, tf.constant(i + 1.0), u, tf.constant(weight), d, *consts)
            bar.update(k * steps + i + 1)
        x, val = final(p, u, *consts[1:])
        out.append(x.numpy())
        vals.append(val.numpy())
    return Visualization(np.concatenate(out), rows, np.concatenate(vals), layer, objective)


def _common(model, images, batch_size, verbose, input_range):
    checks.check_model(model)
    checks.batch_size(batch_size)
    checks.verbose(verbose)
    x = checks.images(model, images)
    if None in tuple(model.inputs[0].shape[1:3]):
        raise ValueError(
            f"model must have a fixed input size, got input shape {tuple(model.inputs[0].shape)}"
        )
    if (
        not isinstance(input_range, (tuple, list))
        or len(input_range) != 2
        or not float(input_range[0]) < float(input_range[1])
    ):
        raise ValueError(f"input_range must be (low, high) with low < high, got {input_range!r}")
    return x, (float(input_range[0]), float(input_range[1]))


def _visualize(model, images, layer, channels, objective, location=None, **options):
    """The checks of both public functions, then :func:`_optimize`."""
    x, options["input_range"] = _common(
        model, images, options["batch_size"], options["verbose"], options["input_range"]
    )
    if objective == "class":
        n = int(model.outputs[0].shape[-1])
        units = checks.channels(channels, n, None, "class_index", many=True)
        return _optimize(model, x, None, units, "class", None, options)
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    out = checks.feature_layer(model, layer)[3]
    units = checks.channels(channels, int(out.shape[-1]), layer, "channels", many=True)
    grid = tuple(out.shape[1:3])
    if objective == "neuron":
        location = tuple(g // 2 for g in grid) if location is None else location
        if (
            not isinstance(location, (tuple, list))
            or len(location) != 2
            or not all(
                isinstance(v, (int, np.integer)) and 0 <= v < g for v, g in zip(location, grid)
            )
        ):
            raise ValueError(
                f"location must be (row, col) inside the grid {grid}, got {location!r}"
            )
        location = (int(location[0]), int(location[1]))
    else:
        location = None
    return _optimize(model, x, layer, units, objective, location, options)


def visualize_units(
    model: keras.Model,
    images,
    layer: str,
    *,
    channels=None,
    objective: str = "channel",
    location=None,
    variants: int = 1,
    diversity: float = 0.0,
    steps: int = 512,
    learning_rate: float = 0.05,
    input_range: tuple[float, float] = (-2.0, 2.0),
    transforms: bool = True,
    decorrelate: bool = True,
    pre_relu: bool = True,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
    seed: int = SEED,
) -> Visualization:
    """Lucid-style feature visualization of a layer's units (see the module docstring).

    Args:
        model: a Keras CNN with a fixed input size (Sequential, Functional or nested).
        images: training images ``(N, H, W, C)`` in the model's input space: their colour
            covariance decorrelates the optimized colours (:func:`colour_sqrt`).
        layer: name or ``"outer/inner"`` path of a layer with a 4-D output.
        channels: an int, a sequence, or None (every channel).
        objective: ``"channel"`` (the channel's mean over space) or ``"neuron"`` (its value
            at ``location``).
        location: ``(row, col)`` in the layer's grid for ``"neuron"``; default the centre.
        variants: images per unit; with ``diversity > 0`` they are pushed apart.
        diversity: weight of Lucid's diversity term (computed on the layer itself).
        steps: Adam steps (Lucid: 512).
        learning_rate: Adam's learning rate (Lucid: 0.05).
        input_range: ``(low, high)`` of the model's inputs; a sigmoid maps into it.
        transforms: apply :func:`transforms` at every step (robustness).
        decorrelate: use the images' colour covariance (False: optimize plain channels).
        pre_relu: climb the response before a ReLU fused into the layer (a Conv2D or Dense).
        batch_size: images (units x variants) optimized together.
        verbose: ``"auto"``, 0 or 1 (a progress bar over steps).
        seed: the start and the transforms of unit ``u``'s variant ``j`` depend only on
            ``(seed, u, j)`` (not on the batching).

    Returns:
        :class:`Visualization`.

    Raises:
        TypeError/ValueError: a bad argument (named in the message).
    """
    return _visualize(**locals())


def visualize_classes(
    model: keras.Model,
    images,
    class_index=None,
    *,
    variants: int = 1,
    diversity: float = 0.0,
    steps: int = 512,
    learning_rate: float = 0.05,
    input_range: tuple[float, float] = (-2.0, 2.0),
    transforms: bool = True,
    decorrelate: bool = True,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
    seed: int = SEED,
) -> Visualization:
    """Class-model visualization (Simonyan et al., 2014) with Lucid's recipe: images that
    maximize a class score before the softmax.

    Args:
        class_index: ``None`` (the classes the model predicts for ``images``, each once, in
            increasing order; as everywhere, None is the predicted class), an int, a sequence
            of ints, or ``"all"`` (every class of the model's output).
        diversity: computed on the last 4-D feature maps.
        Others: as in :func:`visualize_units`.

    Returns:
        :class:`Visualization` (``layer`` None, ``objective`` ``"class"``).
    """
    options = locals()
    units = options.pop("class_index")
    if isinstance(units, str):
        if units != "all":
            raise ValueError(
                f"class_index must be None (the predicted classes), an int, a sequence of ints "
                f"or 'all' (every class), got {units!r}"
            )
        units = None  # every class, as checks.channels reads None
    elif units is None:  # the predicted classes of the images
        checks.check_model(model)
        x = checks.images(model, images)
        predicted = model.predict(x, batch_size=checks.batch_size(batch_size), verbose=0)
        units = sorted({int(c) for c in np.argmax(predicted, axis=-1)})
    return _visualize(layer=None, channels=units, objective="class", pre_relu=False, **options)
