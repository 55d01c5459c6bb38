"""Grad-CAM (Selvaraju et al., 2017), Guided Grad-CAM and the pointing game.

Course material beside the paper (``zfnet-paper.md`` section 10): the gradient of a class score
(before the softmax) with respect to the last convolutional feature maps, averaged over space,
weights each map; the ReLU of the weighted sum is a coarse heatmap, upsampled to the image.
Guided Grad-CAM multiplies it with guided backpropagation (Springenberg et al., 2015), the
gradient of the class score with respect to the image passed down only where both the forward
input and the backward signal of every ReLU are positive (compare the paper's deconvnet, section
2.1). The pointing game (Zhang et al., 2016) asks whether a heatmap's peak lies on the object.

Every function works on Sequential, Functional and nested models (see
:mod:`zfkeras.activations`); one forward and one backward pass per batch, compiled and cached
per model.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE
from zfkeras.methods.graph import _POOL, _is_graph_model, build, find, trace, walk
from zfkeras.methods.pointing import box_hits as box_hits  # public here too
from zfkeras.methods.pointing import check_masks as check_masks
from zfkeras.methods.pointing import peak_scores
from zfkeras.methods.rules import relu_hook
from zfkeras.models.architectures import pre_softmax


def _conv_layer(entries, layer):
    """The feature-map entry: a named layer (already checked on the model), or the last layer
    with a 4-D output of more than 1x1 that is not a pooling layer (Grad-CAM's "last
    convolutional feature maps")."""
    if layer is not None:
        path, op, out = find(entries, layer)
        return path, out
    for path, op, out in reversed(entries):
        if (
            isinstance(op, keras.layers.Layer)
            and not _is_graph_model(op)
            and len(out.shape) == 4
            and not isinstance(op, _POOL)
            and (out.shape[1] or 2) * (out.shape[2] or 2) > 1
        ):
            return path, out
    raise ValueError("layer=None but the model has no layer with a 4-D output: pass layer=")


def _gradcam_fn(model, layer):
    logits_model = pre_softmax(model)
    inputs, logits, entries = trace(logits_model)
    path, maps = _conv_layer(entries, layer)
    both = build(inputs, [maps, logits])
    spec = [
        tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    ]

    @tf.function(input_signature=spec)
    def run(x, cls):
        with tf.GradientTape() as tape:
            a, z = both(x, training=False)
            cls = tf.where(cls < 0, tf.argmax(z, -1, output_type=tf.int32), cls)
            score = tf.reduce_sum(tf.gather(z, cls, axis=1, batch_dims=1))
        g = tape.gradient(score, a)
        weights = tf.reduce_mean(g, axis=(1, 2), keepdims=True)
        return tf.nn.relu(tf.reduce_sum(weights * a, -1)), cls

    return run, int(logits.shape[-1]), path


def upsampling(model: keras.Model, path: str, grid, size):
    """Bilinear weights ``(H, n_rows)`` and ``(W, n_cols)`` that put each cell's value at the
    centre of its receptive field (``zfkeras.receptive_field``) and interpolate in between.

    Padding makes the centres differ from an even spread of the cells over the image (ZFNet's
    conv5 at 96 px: 20, 36, ..., 84 px, not 9, 28, ..., 86), so a plain image resize shifts the
    map. Beyond the outer centres the map falls linearly to zero one stride further out (the
    feature map is zero outside its extent, as in the network's own padding), so every cell's
    value peaks at its own centre instead of spreading into a plateau up to the border. Returns
    None where the geometry is unknown (layers the receptive-field walk does not support); the
    caller then resizes the plain way."""
    from zfkeras.methods.mining import receptive_field  # deferred: mining imports the deconvnet

    try:
        rf = receptive_field(model, path.split("/")[-1])
    except (ValueError, KeyError, TypeError):
        return None
    if tuple(rf.output_size) != tuple(grid):
        return None
    mats = []
    for axis in (0, 1):
        n, out = grid[axis], size[axis]
        u = (np.arange(out) - rf.centres(axis)[0]) / rf.stride[axis]  # fractional cell index
        m = np.maximum(0.0, 1.0 - np.abs(u[:, None] - np.arange(n)[None, :]))  # hat functions
        mats.append(tf.constant(m.astype(np.float32)))
    return mats


def _normalize(cam, size=None, mats=None):
    cam = tf.convert_to_tensor(cam)
    if size is not None and mats is not None:
        cam = tf.einsum("hi,nij,wj->nhw", mats[0], cam, mats[1])
    elif size is not None:
        cam = tf.image.resize(cam[..., None], size, "bilinear")[..., 0]
    peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
    return tf.math.divide_no_nan(tf.nn.relu(cam), peak).numpy()


def _prepare(model, images, class_index, batch_size, verbose, layer=None):
    """The checks shared by gradcam and guided backpropagation."""
    checks.check_model(model)
    checks.batch_size(batch_size)
    checks.verbose(verbose)
    x = checks.images(model, images, single=True)
    if layer is not None:
        checks.feature_layer(model, layer)
    num_classes = int(model.outputs[0].shape[-1])
    return x, checks.class_index(class_index, len(x), num_classes)


def gradcam(
    model: keras.Model,
    images,
    class_index=None,
    layer: str | None = None,
    resize: bool = True,
    *,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> np.ndarray:
    """Grad-CAM heatmaps of a class score.

    Args:
        model: a Keras classifier (Sequential, Functional or nested); when it ends in a softmax
            the score is taken before it (:func:`zfkeras.pre_softmax`).
        images: model inputs ``(N, H, W, C)``, already preprocessed; one image ``(H, W, C)`` is
            accepted too (a batch of one).
        class_index: ``None`` (the predicted class of each image), an int, or one int per image.
        layer: name (or ``"outer/inner"`` path) of a layer with a 4-D output; default the last
            4-D layer before the classifier that is not a pooling layer (the last convolutional
            feature maps), found inside nested models too.
        resize: upsample (bilinear) to ``(H, W)``, each cell placed at the centre of its
            receptive field when the layers' geometry is known (else a plain image resize);
            ``False`` keeps the layer's resolution.
        batch_size: images per forward+backward pass.
        verbose: ``"auto"`` (a progress bar when the run looks longer than a few seconds),
            0 or 1.

    Returns:
        ``(N, H, W)`` float32 heatmaps in [0, 1], each scaled by its maximum (an all-zero map
        stays zero).

    Raises:
        TypeError/ValueError: bad model, images, class_index, layer, batch_size or verbose
            (:mod:`zfkeras.methods.checks`).
    """
    x, cls = _prepare(model, images, class_index, batch_size, verbose, layer)
    run, num_classes, path = checks.cached(
        model, ("gradcam", layer), lambda: _gradcam_fn(model, layer)
    )
    size = x.shape[1:3] if resize else None
    maps, mats = [], None
    parts = list(checks.batches(len(x), batch_size))
    bar = checks.Progress(len(parts), verbose)
    for k, b in enumerate(parts):
        cam = run(tf.constant(x[b]), tf.constant(cls[b]))[0]
        if size is not None and mats is None:
            mats = checks.cached(
                model,
                ("gradcam-up", layer, tuple(size)),
                lambda cam=cam: upsampling(model, path, cam.shape[1:3], size),
            )
        maps.append(_normalize(cam, size, mats))
        bar.update(k + 1)
    return np.concatenate(maps).astype(np.float32)


def _guided_fn(model):
    logits_model = pre_softmax(model)
    if logits_model is model:  # a traced copy: nothing cached may hold the model itself
        logits_model = checks.layer_model(model, [], output=True)
    spec = [
        tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    ]

    @tf.function(input_signature=spec)
    def run(x, cls):
        with tf.GradientTape() as tape:
            tape.watch(x)
            z = walk(logits_model, x, hook=relu_hook("guided"))
            cls = tf.where(cls < 0, tf.argmax(z, -1, output_type=tf.int32), cls)
            score = tf.reduce_sum(tf.gather(z, cls, axis=1, batch_dims=1))
        return tape.gradient(score, x)

    return run, int(logits_model.outputs[0].shape[-1])


def guided_backprop(
    model: keras.Model,
    images,
    class_index=None,
    *,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> np.ndarray:
    """Guided backpropagation of the class score (before the softmax) down to the image.

    Arguments and errors as in :func:`gradcam`. Returns ``(N, H, W, C)`` float32 gradients
    (signed; show them with ``zfkeras.figures.to_display(g, symmetric=True)``).
    """
    x, cls = _prepare(model, images, class_index, batch_size, verbose)
    run, _ = checks.cached(model, ("guided",), lambda: _guided_fn(model))
    parts = list(checks.batches(len(x), batch_size))
    bar, out = checks.Progress(len(parts), verbose), []
    for k, b in enumerate(parts):
        out.append(run(tf.constant(x[b]), tf.constant(cls[b])).numpy())
        bar.update(k + 1)
    return np.concatenate(out)


def guided_gradcam(
    model: keras.Model,
    images,
    class_index=None,
    layer: str | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> np.ndarray:
    """Guided Grad-CAM: the upsampled Grad-CAM heatmap times guided backpropagation.

    Arguments and errors as in :func:`gradcam`. Returns ``(N, H, W, C)`` float32 (signed).
    """
    heat = gradcam(
        model, images, class_index, layer, resize=True, batch_size=batch_size, verbose=verbose
    )
    guided = guided_backprop(model, images, class_index, batch_size=batch_size, verbose=verbose)
    return (guided * heat[..., None]).astype(np.float32)


def pointing_hits(heatmaps, masks, tolerance: int = 0) -> np.ndarray:
    """The pointing game per image: whether the heatmap's maximum (the first one, row-major)
    lies on the object (:func:`zfkeras.methods.pointing.peak_scores` with ``first=True``).

    Args:
        heatmaps: ``(N, h, w)``; resized (bilinear) to the masks' size when it differs.
        masks: ``(N, H, W)`` bool ground-truth object masks.
        tolerance: a peak within this many pixels (square window) of the mask still hits.

    Returns:
        bool ``(N,)``. A flat heatmap (no peak) is a miss.

    Raises:
        ValueError: bad ``heatmaps``, ``masks`` or ``tolerance``.
    """
    heat = np.asarray(heatmaps, np.float32)
    masks = np.asarray(masks)
    check_masks(masks, len(masks) if masks.ndim == 3 else 0)
    if heat.ndim != 3 or len(heat) != len(masks):
        raise ValueError(
            f"heatmaps must be (N, h, w) with N = {len(masks)} (the masks), got shape {heat.shape}"
        )
    if not isinstance(tolerance, (int, np.integer)) or tolerance < 0:
        raise ValueError(f"tolerance must be an int >= 0, got {tolerance!r}")
    if heat.shape[1:] != masks.shape[1:]:
        heat = tf.image.resize(heat[..., None], masks.shape[1:], "bilinear").numpy()[..., 0]
    heat = np.nan_to_num(heat, nan=-np.inf)
    return peak_scores(heat, masks, int(tolerance), first=True) > 0


def pointing_game(heatmaps, masks, tolerance: int = 0, return_hits: bool | None = None):
    """The pointing game (Zhang et al., 2016): the fraction of heatmaps whose maximum lies on
    the object (:func:`pointing_hits`, averaged).

    Args:
        heatmaps, masks, tolerance: as in :func:`pointing_hits`.
        return_hits: deprecated (the return type changed with it): ``True`` returns
            ``(rate, hits)`` with a ``DeprecationWarning``; call :func:`pointing_hits` instead.

    Returns:
        The hit rate, a float in [0, 1] (0 for no images).
    """
    hits = pointing_hits(heatmaps, masks, tolerance)
    rate = float(hits.mean()) if len(hits) else 0.0
    if return_hits is not None:
        warnings.warn(
            "pointing_game(..., return_hits=...) is deprecated: use "
            "hits = pointing_hits(heatmaps, masks, tolerance) and hits.mean()",
            DeprecationWarning,
            stacklevel=2,
        )
        if return_hits:
            return rate, hits
    return rate
