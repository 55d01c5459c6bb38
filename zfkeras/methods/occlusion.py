"""Occlusion sensitivity (paper section 4.2, Fig. 7).

A grey square slides over each image; for every position the occluded copy goes through the
model and we record the probability of a class, the most probable class, and optionally the
total activation of one feature map. Every occluded copy is built inside one compiled function
and the copies go through the model in batches, so the cost is that of a batched prediction.

Python: :func:`occlusion_sensitivity`; the pointing game on its results:
:func:`zfkeras.evaluation.pointing.occlusion_hits`; figure:
:func:`zfkeras.figures.occlusion_figure`.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE
from zfkeras.methods.registry import method
from zfkeras.methods.softmax import ends_in_softmax, probabilities


@dataclass(frozen=True, eq=False)
class OcclusionResult:
    """What :func:`occlusion_sensitivity` records for ``N`` images (paper Fig. 7).

    Attributes:
        probability: float32 ``(N, R, K)``, the probability of each image's class per occluder
            position.
        top_class: int ``(N, R, K)``, the most probable class per position.
        top_probability: float32 ``(N, R, K)``, its probability.
        rows, cols: ``(R,)`` and ``(K,)`` top-left offsets of the occluder.
        class_index: int ``(N,)``, the class mapped per image.
        base_probability: float32 ``(N,)``, its unoccluded probability.
        patch_size, stride: the occluder's side and step.
        layer: the layer given (else None).
        channels: int ``(N,)``, the feature map of ``layer`` recorded per image.
        activation: float32 ``(N, R, K)``, that map's total activation per position.
        base_activation: float32 ``(N,)``, its unoccluded total (these three None without
            ``layer``).
    """

    probability: np.ndarray
    top_class: np.ndarray
    top_probability: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    class_index: np.ndarray
    base_probability: np.ndarray
    patch_size: int
    stride: int
    layer: str | None = None
    channels: np.ndarray | None = None
    activation: np.ndarray | None = None
    base_activation: np.ndarray | None = None


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


def _check(model, images, patch_size, stride, class_index, layer, channels, fill, batch_size):
    checks.check_model(model)
    x = checks.images(model, images)
    h, w, _ = x.shape[1:]
    if not isinstance(patch_size, (int, np.integer)) or not 1 <= patch_size <= min(h, w):
        raise ValueError(
            f"patch_size must be an int in [1, {min(h, w)}] for {h}x{w} images, got {patch_size!r}"
        )
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    checks.batch_size(batch_size)
    cls = checks.class_index(class_index, len(x), int(model.outputs[0].shape[-1]))
    ch = None
    if layer is not None:
        out = checks.feature_layer(model, layer)[3]
        n_maps = int(out.shape[-1])
        ch = checks.channels(channels, n_maps, layer, per_image=len(x))
    elif channels is not None:
        raise ValueError(f"channels needs a layer, got channels={channels!r} and layer=None")
    return x, cls, ch, _fill(fill, x.shape[1:])


def _compiled(model: keras.Model, layer: str | None):
    """One compiled function per (model, layer), traced once for every image size, patch and
    batch: it builds the occluded copies of one image and returns the probabilities, the total
    activation of every feature map of ``layer`` and that of the chosen channel."""
    # a traced copy (same weights): nothing cached may hold the model itself
    forward = checks.layer_model(model, [layer] if layer else [], "layer", output=True)
    shape = [None, *model.inputs[0].shape[1:]]
    is_probability = ends_in_softmax(model)
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
        p = probabilities(outs[-1], is_probability)
        if layer:
            a = tf.reduce_sum(tf.cast(outs[0], tf.float32), axis=(1, 2))
            return p, a, tf.gather(a, channel, axis=1)
        return p, tf.zeros([tf.shape(p)[0], 1]), tf.zeros([tf.shape(p)[0]])

    return run


def occlusion_sensitivity(
    model: keras.Model,
    images,
    class_index=None,
    *,
    patch_size: int,
    stride: int,
    layer: str | None = None,
    fill=None,
    channels=None,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> OcclusionResult:
    """Slide an occluder over each image and record the model's response (paper Fig. 7).

    Args:
        model: a classifier, input ``(batch, H, W, C)``, output ``(batch, classes)``. If it
            does not end in a softmax (:func:`zfkeras.methods.softmax.ends_in_softmax`), a
            softmax is applied to its output.
        images: model inputs ``(N, H, W, C)`` (one image is a batch of one), already
            preprocessed.
        class_index: the class whose probability is mapped: ``None`` (the top class of each
            unoccluded image), an int, or one int per image.
        patch_size: side of the square occluder in pixels (keyword-only, as every argument
            after ``class_index``).
        stride: step between occluder positions; the top-left offsets are ``0, stride, ...``
            up to ``H - patch_size`` (and likewise for columns).
        layer: name (or ``"outer/inner"`` path) of a layer with feature maps; if given, the
            total activation of one of its maps is recorded at every position (panel b).
        fill: the occluder's value, in model-input units: a number, a ``(C,)`` colour or an
            ``(H, W, C)`` image. Default 0, which is the dataset mean (grey, as in the paper)
            for the mean-subtracted inputs of every zfkeras model.
        channels: the feature map of ``layer`` recorded: ``None`` (per image the strongest one
            for the unoccluded image, largest total activation), an int, or one per image.
        batch_size: occluded copies per forward pass (results do not depend on it).
        verbose: ``"auto"``, 0 or 1: one progress bar over all images' batches.

    Returns:
        An :class:`OcclusionResult` (``result.probability[i]`` for image ``i``, ...).

    Raises:
        TypeError/ValueError: bad ``model``, ``images``, ``patch_size``, ``stride``,
            ``class_index``, ``layer``, ``channels``, ``fill``, ``batch_size`` or ``verbose``
            (the message says what was expected).
    """
    verbose = checks.verbose(verbose)
    x, cls, ch, fill = _check(
        model, images, patch_size, stride, class_index, layer, channels, fill, batch_size
    )
    h, w, _ = x.shape[1:]
    rows, cols = positions(h, patch_size, stride), positions(w, patch_size, stride)
    run = checks.cached(model, ("occlusion", layer), lambda: _compiled(model, layer))
    fil = tf.constant(fill)
    none = tf.constant([[-h - w, -h - w]], tf.int32)  # an occluder outside the image: no change
    size = tf.constant(patch_size, tf.int32)
    grid = np.stack(np.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2).astype(np.int32)
    parts = list(checks.batches(len(grid), batch_size))
    bar = checks.Progress(len(parts) * len(x), verbose=verbose)
    out = {k: [] for k in ("p", "a", "c", "base_p", "base_a", "ch")}
    for i, image in enumerate(x):
        img = tf.constant(image)
        p0, a0, _ = run(img, fil, none, size, tf.constant(0))
        p0, a0 = p0.numpy()[0], a0.numpy()[0]
        c = int(np.argmax(p0)) if cls[i] < 0 else int(cls[i])
        k = int(np.argmax(a0)) if ch is not None and ch[i] < 0 else int(0 if ch is None else ch[i])
        probs, acts = [], []
        for j, b in enumerate(parts):
            p, _, a = run(img, fil, tf.constant(grid[b]), size, tf.constant(k))
            probs.append(p.numpy())
            acts.append(a.numpy())
            bar.update(i * len(parts) + j + 1)
        out["p"].append(np.concatenate(probs).reshape(len(rows), len(cols), -1))
        out["a"].append(np.concatenate(acts).reshape(len(rows), len(cols)))
        out["c"].append(c)
        out["base_p"].append(p0[c])
        out["base_a"].append(a0[k])
        out["ch"].append(k)
    probs, cls = np.stack(out["p"]), np.asarray(out["c"], np.int32)
    extra = {}
    if layer:
        extra = dict(
            layer=layer,
            channels=np.asarray(out["ch"], np.int32),
            base_activation=np.asarray(out["base_a"], np.float32),
            activation=np.stack(out["a"]).astype(np.float32),
        )
    return OcclusionResult(
        probability=np.take_along_axis(probs, cls[:, None, None, None], -1)[..., 0],
        top_class=probs.argmax(-1),
        top_probability=probs.max(-1),
        rows=rows,
        cols=cols,
        class_index=cls,
        base_probability=np.asarray(out["base_p"], np.float32),
        patch_size=int(patch_size),
        stride=int(stride),
        **extra,
    )


@method("occlusion")
def _drop_map(
    model: keras.Model,
    images,
    class_index=None,
    *,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> np.ndarray:
    """Occlusion as a map for :func:`zfkeras.evaluation.explain`: ``(N, R, K)`` float32, the
    drop of the class probability at each occluder position (patch ``max(1, round(min(H, W)
    / 8))`` px, stride half of it, the default fill)."""
    x = checks.images(checks.check_model(model), images)
    patch = max(1, round(min(x.shape[1:3]) / 8))
    r = occlusion_sensitivity(
        model,
        x,
        patch_size=patch,
        stride=max(1, patch // 2),
        class_index=class_index,
        batch_size=batch_size,
        verbose=verbose,
    )
    return r.base_probability[:, None, None] - r.probability
