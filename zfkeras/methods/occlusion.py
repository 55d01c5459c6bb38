"""Occlusion sensitivity (paper section 4.2, Fig. 7).

A grey square slides over the image; for every position the occluded copy goes through the model
and we record the probability of a class, the most probable class, and optionally the total
activation of one feature map. Every occluded copy is built inside one compiled function and
the copies go through the model in batches, so the cost is that of a batched prediction.

Python: :func:`occlusion_sensitivity`, :func:`pointing_hits`, :func:`pointing_chance`; figure:
:func:`zfkeras.figures.occlusion_figure`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE
from zfkeras.methods.pointing import box_hits, check_masks


def output_is_softmax(model: keras.Model) -> bool:
    """Deprecated alias of :func:`zfkeras.methods.checks.ends_in_softmax`."""
    warnings.warn(
        "occlusion.output_is_softmax is now zfkeras.methods.checks.ends_in_softmax",
        DeprecationWarning,
        stacklevel=2,
    )
    return checks.ends_in_softmax(model)


@dataclass(frozen=True, eq=False)
class OcclusionResult(checks.DeprecatedItems):
    """What :func:`occlusion_sensitivity` records for one image (paper Fig. 7).

    Attributes:
        probability: float32 ``(R, K)``, the probability of ``class_index`` per occluder
            position.
        top_class: int ``(R, K)``, the most probable class per position.
        top_probability: float32 ``(R, K)``, its probability.
        rows, cols: ``(R,)`` and ``(K,)`` top-left offsets of the occluder.
        class_index: the class mapped; base_probability: its unoccluded probability.
        patch_size, stride: the occluder's side and step.
        layer: the layer given (else None); channel: its feature map recorded;
        activation: float32 ``(R, K)``, that map's total activation per position;
        base_activation: its unoccluded total (these three None without ``layer``).
    """

    probability: np.ndarray
    top_class: np.ndarray
    top_probability: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    class_index: int
    base_probability: float
    patch_size: int
    stride: int
    layer: str | None = None
    channel: int | None = None
    activation: np.ndarray | None = None
    base_activation: float | None = None


def positions(size: int, patch_size: int, stride: int) -> np.ndarray:
    """Top-left offsets of the occluder along one axis: ``0, stride, 2*stride, ...`` up to
    ``size - patch_size`` (included when it falls on the grid)."""
    return np.arange(0, size - patch_size + 1, stride)


def _fill(fill, shape) -> np.ndarray:
    fill = np.zeros(1, np.float32) if fill is None else np.asarray(fill, np.float32)
    if fill.ndim > 3 or not np.all(np.isfinite(fill)):
        raise ValueError(
            f"fill must be a finite number, a (C,) colour or an (H, W, C) image, "
            f"got shape {fill.shape}"
        )
    try:
        return np.broadcast_to(fill, shape).astype(np.float32)
    except ValueError:
        raise ValueError(
            f"fill must broadcast to the image shape {shape}, got shape {fill.shape}"
        ) from None


def _check(
    model, image, patch_size, stride, class_index, layer, channel, fill, batch_size, verbose
):
    checks.check_model(model)
    image = checks.image(model, image)
    h, w, _ = image.shape
    if not isinstance(patch_size, (int, np.integer)) or not 1 <= patch_size <= min(h, w):
        raise ValueError(
            f"patch_size must be an int in [1, {min(h, w)}] for a {h}x{w} image, got {patch_size!r}"
        )
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    checks.batch_size(batch_size)
    checks.verbose(verbose)
    checks.class_index(class_index, 1, int(model.outputs[0].shape[-1]), per_image=False)
    if layer is not None:
        out = checks.feature_layer(model, layer)[3]
        checks.channels(channel, int(out.shape[-1]), layer)
    elif channel is not None:
        raise ValueError(f"channel needs a layer, got channel={channel!r} and layer=None")
    return image, _fill(fill, image.shape)


def _compiled(model: keras.Model, layer: str | None):
    """One compiled function per (model, layer), traced once for every image size, patch and
    batch: it builds the occluded copies of one image and returns the probabilities, the total
    activation of every feature map of ``layer`` and that of the chosen channel."""
    # a traced copy (same weights): nothing cached may hold the model itself
    forward = checks.layer_model(model, [layer] if layer else [], "layer", output=True)
    shape = [None, *model.inputs[0].shape[1:]]
    softmax = not checks.ends_in_softmax(model)
    spec = tf.TensorSpec

    @tf.function(
        input_signature=[
            spec([None, None, None], tf.float32),
            spec([None, None, None], tf.float32),
            spec([None, 2], tf.int32),
            spec([], tf.int32),
            spec([], tf.int32),
        ]
    )
    def run(img, fil, offsets, patch_size, channel):
        r = tf.range(tf.shape(img)[0])[None, :, None]
        c = tf.range(tf.shape(img)[1])[None, None, :]
        r0, c0 = offsets[:, 0, None, None], offsets[:, 1, None, None]
        inside = (r >= r0) & (r < r0 + patch_size) & (c >= c0) & (c < c0 + patch_size)
        x = tf.ensure_shape(tf.where(inside[..., None], fil[None], img[None]), shape)
        outs = forward(x, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        p = tf.nn.softmax(outs[-1], -1) if softmax else outs[-1]
        if layer:
            a = tf.reduce_sum(outs[0], axis=(1, 2))
            return p, a, tf.gather(a, channel, axis=1)
        return p, tf.zeros([tf.shape(p)[0], 1]), tf.zeros([tf.shape(p)[0]])

    return run


def occlusion_sensitivity(
    model: keras.Model,
    image,
    patch_size: int,
    stride: int,
    class_index: int | None = None,
    layer: str | None = None,
    fill=None,
    *,
    channel: int | None = None,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> OcclusionResult:
    """Slide an occluder over ``image`` and record the model's response (paper Fig. 7).

    Args:
        model: a classifier, input ``(batch, H, W, C)``, output ``(batch, classes)``. If it
            does not end in a softmax (:func:`zfkeras.methods.checks.ends_in_softmax`), a
            softmax is applied to its output.
        image: ONE model input ``(H, W, C)`` (or a batch of one ``(1, H, W, C)``), already
            preprocessed.
        patch_size: side of the square occluder in pixels.
        stride: step between occluder positions; the top-left offsets are ``0, stride, ...``
            up to ``H - patch_size`` (and likewise for columns).
        class_index: the class whose probability is mapped; default the top class of the
            unoccluded image.
        layer: name (or ``"outer/inner"`` path) of a layer with feature maps; if given, the
            total activation of one of its maps is recorded at every position (panel b).
        fill: the occluder's value, in model-input units: a number, a ``(C,)`` colour or an
            ``(H, W, C)`` image. Default 0, which is the dataset mean (grey, as in the paper)
            for the mean-subtracted inputs of every zfkeras model.
        channel: the feature map of ``layer`` recorded; default the strongest one for the
            unoccluded image (largest total activation).
        batch_size: occluded copies per forward pass (results do not depend on it).
        verbose: ``"auto"`` (a progress bar when the run looks longer than a few seconds),
            0 or 1.

    Returns:
        An :class:`OcclusionResult` (``result.probability``, ``result.rows``, ...).

    Raises:
        TypeError/ValueError: bad ``model``, ``image``, ``patch_size``, ``stride``,
            ``class_index``, ``layer``, ``channel``, ``fill``, ``batch_size`` or ``verbose``
            (the message says what was expected).
    """
    image, fill = _check(
        model, image, patch_size, stride, class_index, layer, channel, fill, batch_size, verbose
    )
    h, w, _ = image.shape
    rows, cols = positions(h, patch_size, stride), positions(w, patch_size, stride)
    run = checks.cached(model, ("occlusion", layer), lambda: _compiled(model, layer))
    img, fil = tf.constant(image), tf.constant(fill)
    none = tf.constant([[-h - w, -h - w]], tf.int32)  # an occluder outside the image: no change
    size = tf.constant(patch_size, tf.int32)
    p0, a0, _ = run(img, fil, none, size, tf.constant(0))
    p0, a0 = p0.numpy()[0], a0.numpy()[0]
    cls = int(np.argmax(p0)) if class_index is None else int(class_index)
    if layer:
        channel = int(np.argmax(a0)) if channel is None else int(channel)
    grid = np.stack(np.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2).astype(np.int32)
    parts = list(checks.batches(len(grid), batch_size))
    bar, probs, acts = checks.Progress(len(parts), verbose), [], []
    for k, b in enumerate(parts):
        p, _, a = run(img, fil, tf.constant(grid[b]), size, tf.constant(channel or 0))
        probs.append(p.numpy())
        acts.append(a.numpy())
        bar.update(k + 1)
    probs = np.concatenate(probs).reshape(len(rows), len(cols), -1)
    extra = {}
    if layer:
        extra = dict(
            layer=layer,
            channel=channel,
            base_activation=float(a0[channel]),
            activation=np.concatenate(acts).reshape(len(rows), len(cols)),
        )
    return OcclusionResult(
        probability=probs[..., cls],
        top_class=probs.argmax(-1),
        top_probability=probs.max(-1),
        rows=rows,
        cols=cols,
        class_index=cls,
        base_probability=float(p0[cls]),
        patch_size=int(patch_size),
        stride=int(stride),
        **extra,
    )


def lowest_probability_box(result: OcclusionResult) -> tuple[int, int, int, int]:
    """The occluder square ``(row0, col0, row1, col1)`` (end excluded) at the position where the
    class probability is lowest."""
    prob = result.probability
    i, j = np.unravel_index(np.argmin(prob), prob.shape)
    r0, c0, p = int(result.rows[i]), int(result.cols[j]), result.patch_size
    return r0, c0, r0 + p, c0 + p


def pointing_hits(results: Sequence[OcclusionResult], masks) -> np.ndarray:
    """For each occlusion result, whether the occluder at the lowest-probability position
    overlaps the object's mask: the pointing game of :func:`zfkeras.methods.cam.pointing_hits`
    with the occluder square in place of the window around a heatmap's peak (one test,
    :func:`zfkeras.methods.pointing.box_hits`).

    Args:
        results: a sequence of :class:`OcclusionResult`.
        masks: bool ``(N, H, W)``, one object mask per result, in model-input coordinates.

    Returns:
        bool ``(N,)``.
    """
    return box_hits([lowest_probability_box(r) for r in results], masks)


def pointing_chance(results: Sequence[OcclusionResult], masks) -> np.ndarray:
    """The chance level of :func:`pointing_hits`: for each result, the fraction of its occluder
    positions whose square overlaps the object's mask (the hit rate of a position picked at
    random).

    Args:
        results: a sequence of :class:`OcclusionResult`.
        masks: bool ``(N, H, W)``, one object mask per result, in model-input coordinates.

    Returns:
        float ``(N,)`` in [0, 1].
    """
    masks = check_masks(masks, len(results))
    rates = []
    for res, m in zip(results, masks):
        boxes = [(r, c, r + res.patch_size, c + res.patch_size) for r in res.rows for c in res.cols]
        rates.append(box_hits(boxes, np.broadcast_to(m, (len(boxes), *m.shape))).mean())
    return np.asarray(rates, float)
