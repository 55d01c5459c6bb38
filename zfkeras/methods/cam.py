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

import weakref
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods.graph import _POOL, _is_graph_model, build, find, trace, walk
from zfkeras.methods.rules import relu_hook
from zfkeras.models import pre_softmax

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached(model, key, make):
    slot = _CACHE.setdefault(model, {})
    if key not in slot:
        slot[key] = make()
    return slot[key]


def _images(model, images) -> np.ndarray:
    x = np.asarray(images, np.float32) if not tf.is_tensor(images) else images.numpy()
    if x.ndim == 3:
        x = x[None]
    want = tuple(model.inputs[0].shape[1:])
    if x.ndim != 4 or any(w is not None and w != g for w, g in zip(want, x.shape[1:])):
        raise ValueError(f"images must be (N, {', '.join(map(str, want))}) model inputs, got "
                         f"shape {np.shape(images)}")
    if len(x) == 0:
        raise ValueError(f"images must hold at least one image, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("images must be finite, got NaN or inf values")
    return x


def _classes(class_index, n: int, num_classes: int) -> np.ndarray:
    """-1 marks "the predicted class"."""
    if class_index is None:
        return np.full(n, -1, np.int32)
    if isinstance(class_index, (int, np.integer)) and not isinstance(class_index, bool):
        c = np.full(n, int(class_index), np.int32)
    elif isinstance(class_index, (Sequence, np.ndarray)) and len(class_index) == n and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in class_index):
        c = np.asarray(class_index, np.int32)
    else:
        raise TypeError(f"class_index must be None, an int or {n} ints (one per image), got "
                        f"{class_index!r}")
    if c.min() < 0 or c.max() >= num_classes:
        raise ValueError(f"class_index must be in [0, {num_classes}), got {class_index!r}")
    return c


def _conv_layer(entries, layer):
    """The feature-map entry: a named layer, or the last layer with a 4-D output of more than
    1x1 that is not a pooling layer (Grad-CAM's "last convolutional feature maps")."""
    if layer is not None:
        path, op, out = find(entries, layer)
        if len(out.shape) != 4:
            raise ValueError(f"layer must have a 4-D (N, H, W, C) output, got {layer!r} with "
                             f"output shape {tuple(out.shape)}")
        return path, out
    for path, op, out in reversed(entries):
        if (isinstance(op, keras.layers.Layer) and not _is_graph_model(op) and len(out.shape) == 4
                and not isinstance(op, _POOL) and (out.shape[1] or 2) * (out.shape[2] or 2) > 1):
            return path, out
    raise ValueError("layer=None but the model has no layer with a 4-D output: pass layer=")


def _gradcam_fn(model, layer):
    logits_model = pre_softmax(model)
    inputs, logits, entries = trace(logits_model)
    path, maps = _conv_layer(entries, layer)
    both = build(inputs, [maps, logits])
    spec = [tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32),
            tf.TensorSpec((None,), tf.int32)]

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


def _upsampling(model, path, grid, size):
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


def gradcam(model: keras.Model, images, class_index=None, layer: str | None = None,
            resize: bool = True, *, batch_size: int = 128) -> np.ndarray:
    """Grad-CAM heatmaps of a class score.

    Args:
        model: a Keras classifier (Sequential, Functional or nested); when it ends in a softmax
            the score is taken before it (:func:`zfkeras.pre_softmax`).
        images: model inputs ``(N, H, W, C)`` (or one ``(H, W, C)``), already preprocessed.
        class_index: ``None`` (the predicted class of each image), an int, or one int per image.
        layer: name (or ``"outer/inner"`` path) of a layer with a 4-D output; default the last
            4-D layer before the classifier that is not a pooling layer (the last convolutional
            feature maps), found inside nested models too.
        resize: upsample (bilinear) to ``(H, W)``, each cell placed at the centre of its
            receptive field when the layers' geometry is known (else a plain image resize);
            ``False`` keeps the layer's resolution.
        batch_size: images per forward+backward pass.

    Returns:
        ``(N, H, W)`` float32 heatmaps in [0, 1], each scaled by its maximum (an all-zero map
        stays zero).

    Raises:
        TypeError/ValueError: bad model, images, class_index, layer or batch_size.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    run, num_classes, path = _cached(model, ("gradcam", layer),
                                     lambda: _gradcam_fn(model, layer))
    x = _images(model, images)
    cls = _classes(class_index, len(x), num_classes)
    size = x.shape[1:3] if resize else None
    maps, mats = [], None
    for i in range(0, len(x), batch_size):
        cam = run(tf.constant(x[i:i + batch_size]), tf.constant(cls[i:i + batch_size]))[0]
        if size is not None and mats is None:
            mats = _cached(model, ("gradcam-up", layer, tuple(size)),
                           lambda cam=cam: _upsampling(model, path, cam.shape[1:3], size))
        maps.append(_normalize(cam, size, mats))
    return np.concatenate(maps).astype(np.float32)


@tf.custom_gradient
def guided_relu(x):
    """ReLU whose gradient passes only where the input and the incoming gradient are positive
    (guided backpropagation)."""
    def grad(dy):
        return dy * tf.cast(dy > 0, dy.dtype) * tf.cast(x > 0, dy.dtype)
    return tf.nn.relu(x), grad


def _is_relu(fn) -> bool:
    return getattr(fn, "__name__", "") == "relu"


def _guided_hook(op, args, kwargs):
    """Run ``op`` with every ReLU (a ReLU layer, a relu Activation, a fused relu) guided."""
    act = getattr(op, "activation", None)
    plain_relu = isinstance(op, keras.layers.ReLU) and op.max_value is None and not (
        op.negative_slope) and not op.threshold
    if plain_relu or (isinstance(op, keras.layers.Activation) and _is_relu(act)):
        return guided_relu(args[0])
    if _is_relu(act) and not isinstance(op, keras.layers.Activation):
        op.activation = keras.activations.linear
        try:
            out = op(*args, **kwargs)
        finally:
            op.activation = act
        return guided_relu(out)
    return op(*args, **kwargs)


def _guided_fn(model):
    logits_model = pre_softmax(model)
    spec = [tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32),
            tf.TensorSpec((None,), tf.int32)]

    @tf.function(input_signature=spec)
    def run(x, cls):
        with tf.GradientTape() as tape:
            tape.watch(x)
            z = walk(logits_model, x, hook=relu_hook("guided"))
            cls = tf.where(cls < 0, tf.argmax(z, -1, output_type=tf.int32), cls)
            score = tf.reduce_sum(tf.gather(z, cls, axis=1, batch_dims=1))
        return tape.gradient(score, x)

    return run, int(logits_model.outputs[0].shape[-1])


def guided_backprop(model: keras.Model, images, class_index=None, *,
                    batch_size: int = 128) -> np.ndarray:
    """Guided backpropagation of the class score (before the softmax) down to the image.

    Arguments as in :func:`gradcam`. Returns ``(N, H, W, C)`` float32 gradients (signed; show
    them with ``zfkeras.plot.to_display(g, symmetric=True)``).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    run, num_classes = _cached(model, ("guided",), lambda: _guided_fn(model))
    x = _images(model, images)
    cls = _classes(class_index, len(x), num_classes)
    return np.concatenate([run(tf.constant(x[i:i + batch_size]),
                               tf.constant(cls[i:i + batch_size])).numpy()
                           for i in range(0, len(x), batch_size)])


def guided_gradcam(model: keras.Model, images, class_index=None, layer: str | None = None, *,
                   batch_size: int = 128) -> np.ndarray:
    """Guided Grad-CAM: the upsampled Grad-CAM heatmap times guided backpropagation.

    Arguments as in :func:`gradcam`. Returns ``(N, H, W, C)`` float32 (signed).
    """
    heat = gradcam(model, images, class_index, layer, resize=True, batch_size=batch_size)
    guided = guided_backprop(model, images, class_index, batch_size=batch_size)
    return (guided * heat[..., None]).astype(np.float32)


def pointing_game(heatmaps, masks, tolerance: int = 0, return_hits: bool = False):
    """The pointing game: the fraction of heatmaps whose maximum lies on the object.

    Args:
        heatmaps: ``(N, h, w)``; resized (bilinear) to the masks' size when it differs.
        masks: ``(N, H, W)`` bool ground-truth object masks.
        tolerance: a peak within this many pixels (square window) of the mask still hits.
        return_hits: also return the ``(N,)`` bool hits.

    Returns:
        The hit rate in [0, 1] (and the hits). A flat heatmap (no peak) is a miss.
    """
    heat = np.asarray(heatmaps, np.float32)
    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.dtype != bool:
        raise ValueError(f"masks must be (N, H, W) bool, got shape {masks.shape} dtype "
                         f"{masks.dtype}")
    if heat.ndim != 3 or len(heat) != len(masks):
        raise ValueError(f"heatmaps must be (N, h, w) with N = {len(masks)} (the masks), got "
                         f"shape {heat.shape}")
    if not isinstance(tolerance, (int, np.integer)) or tolerance < 0:
        raise ValueError(f"tolerance must be an int >= 0, got {tolerance!r}")
    if heat.shape[1:] != masks.shape[1:]:
        heat = tf.image.resize(heat[..., None], masks.shape[1:], "bilinear").numpy()[..., 0]
    heat = np.nan_to_num(heat, nan=-np.inf)
    flat = heat.reshape(len(heat), -1)
    peak = flat.argmax(1)
    rows, cols = np.unravel_index(peak, masks.shape[1:])
    t = tolerance
    hits = np.array([masks[i, max(r - t, 0):r + t + 1, max(c - t, 0):c + t + 1].any()
                     for i, (r, c) in enumerate(zip(rows, cols))])
    hits &= flat.max(1) > flat.min(1)
    rate = float(hits.mean()) if len(hits) else 0.0
    return (rate, hits) if return_hits else rate


