"""Occlusion sensitivity (paper section 4.2, Fig. 7).

A grey square slides over the image; for every position the occluded copy goes through the model
and we record the probability of a class, the most probable class, and optionally the total
activation of one feature map. Every occluded copy is built inside one compiled function and
the copies go through the model in batches, so the cost is that of a batched prediction.

Python: :func:`occlusion_sensitivity`, :func:`pointing_hits`, :func:`pointing_chance`; figure:
:func:`occlusion_figure`.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
import tensorflow as tf


def output_is_softmax(model: keras.Model) -> bool:
    """True when the model's last layer is a softmax (a ``Softmax`` layer or a layer whose
    ``activation`` is ``softmax``), so that its output is already a probability."""
    last = model.layers[-1]
    act = getattr(last, "activation", None)
    return isinstance(last, keras.layers.Softmax) or (
        act is not None and getattr(act, "__name__", "") == "softmax")


def positions(size: int, patch_size: int, stride: int) -> np.ndarray:
    """Top-left offsets of the occluder along one axis: ``0, stride, 2*stride, ...`` up to
    ``size - patch_size`` (included when it falls on the grid)."""
    return np.arange(0, size - patch_size + 1, stride)


def _check(model, image, patch_size, stride, class_index, layer, fill, batch_size):
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    image = np.asarray(image, np.float32)
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3:
        raise ValueError(f"image must be (H, W, C) (or (1, H, W, C)), got shape {image.shape}")
    h, w, c = image.shape
    want = tuple(model.inputs[0].shape[1:])
    if len(want) != 3 or any(a is not None and a != b for a, b in zip(want, image.shape)):
        raise ValueError(f"image must match the model input {want}, got shape {image.shape}")
    if not isinstance(patch_size, (int, np.integer)) or not 1 <= patch_size <= min(h, w):
        raise ValueError(f"patch_size must be an int in [1, {min(h, w)}] for a {h}x{w} image, "
                         f"got {patch_size!r}")
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if class_index is not None and (not isinstance(class_index, (int, np.integer))
                                    or class_index < 0):
        raise ValueError(f"class_index must be a non-negative int or None, got {class_index!r}")
    if layer is not None:
        names = [lay.name for lay in model.layers]
        if not isinstance(layer, str) or layer not in names:
            raise ValueError(f"layer must be the name of a layer of the model ({names}), "
                             f"got {layer!r}")
        if len(model.get_layer(layer).output.shape) != 4:
            raise ValueError(f"layer {layer!r} must output feature maps (batch, H, W, C), "
                             f"got shape {model.get_layer(layer).output.shape}")
    fill = np.zeros(1, np.float32) if fill is None else np.asarray(fill, np.float32)
    if fill.ndim > 3 or not np.all(np.isfinite(fill)):
        raise ValueError(f"fill must be a finite number, a (C,) colour or an (H, W, C) image, "
                         f"got shape {fill.shape}")
    try:
        fill = np.broadcast_to(fill, image.shape).astype(np.float32)
    except ValueError:
        raise ValueError(f"fill must broadcast to the image shape {image.shape}, got shape "
                         f"{fill.shape}") from None
    return image, fill


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled(model: keras.Model, layer: str | None):
    """One compiled function per (model, layer), traced once for every image size, patch and
    batch: it builds the occluded copies of one image and returns the probabilities, the total
    activation of every feature map of ``layer`` and that of the chosen channel."""
    cache = _COMPILED.setdefault(model, {})
    if layer in cache:
        return cache[layer]
    probe = keras.Model(model.inputs[0], [model.outputs[0], model.get_layer(layer).output]) \
        if layer else model
    softmax = not output_is_softmax(model)
    spec = tf.TensorSpec

    @tf.function(input_signature=[spec([None, None, None], tf.float32),
                                  spec([None, None, None], tf.float32),
                                  spec([None, 2], tf.int32), spec([], tf.int32),
                                  spec([], tf.int32)])
    def run(img, fil, offsets, patch_size, channel):
        r = tf.range(tf.shape(img)[0])[None, :, None]
        c = tf.range(tf.shape(img)[1])[None, None, :]
        r0, c0 = offsets[:, 0, None, None], offsets[:, 1, None, None]
        inside = (r >= r0) & (r < r0 + patch_size) & (c >= c0) & (c < c0 + patch_size)
        x = tf.where(inside[..., None], fil[None], img[None])
        x = tf.ensure_shape(x, [None, *model.inputs[0].shape[1:]])
        outs = probe(x, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        p = tf.nn.softmax(outs[0], -1) if softmax else outs[0]
        if layer:
            a = tf.reduce_sum(outs[1], axis=(1, 2))
            return p, a, tf.gather(a, channel, axis=1)
        return p, tf.zeros([tf.shape(p)[0], 1]), tf.zeros([tf.shape(p)[0]])

    cache[layer] = run
    return run


def occlusion_sensitivity(model: keras.Model, image, patch_size: int, stride: int,
                          class_index: int | None = None, layer: str | None = None,
                          fill=None, batch_size: int = 128) -> dict:
    """Slide an occluder over ``image`` and record the model's response (paper Fig. 7).

    Args:
        model: a classifier, input ``(batch, H, W, C)``, output ``(batch, classes)``. If its
            last layer is not a softmax, a softmax is applied to its output.
        image: one model input ``(H, W, C)`` (or ``(1, H, W, C)``), already preprocessed.
        patch_size: side of the square occluder in pixels.
        stride: step between occluder positions; the top-left offsets are ``0, stride, ...``
            up to ``H - patch_size`` (and likewise for columns).
        class_index: the class whose probability is mapped; default the top class of the
            unoccluded image.
        layer: name of a convolutional layer; if given, the strongest feature map of that
            layer for the unoccluded image (largest total activation) is chosen and its total
            activation recorded at every position (panel b).
        fill: the occluder's value, in model-input units: a number, a ``(C,)`` colour or an
            ``(H, W, C)`` image. Default 0, which is the dataset mean (grey, as in the paper)
            for the mean-subtracted inputs of every zfkeras model.
        batch_size: occluded copies per forward pass (results do not depend on it).

    Returns:
        A dict with ``probability`` float32 ``(R, K)`` (the class's probability per position),
        ``top_class`` int ``(R, K)``, ``top_probability`` ``(R, K)``, ``rows`` ``(R,)`` and
        ``cols`` ``(K,)`` (top-left offsets), ``class_index``, ``base_probability`` (the
        unoccluded image's), ``patch_size``, ``stride``; with ``layer``: ``activation``
        ``(R, K)``, ``channel`` (the chosen feature map), ``base_activation`` and ``layer``.

    Raises:
        TypeError: ``model`` is not a ``keras.Model``.
        ValueError: bad ``image``, ``patch_size``, ``stride``, ``class_index``, ``layer``,
            ``fill`` or ``batch_size`` (the message says what was expected).
    """
    image, fill = _check(model, image, patch_size, stride, class_index, layer, fill, batch_size)
    h, w, _ = image.shape
    rows, cols = positions(h, patch_size, stride), positions(w, patch_size, stride)
    run = _compiled(model, layer)
    img, fil = tf.constant(image), tf.constant(fill)
    none = tf.constant([[-h - w, -h - w]], tf.int32)  # an occluder outside the image: no change
    size = tf.constant(patch_size, tf.int32)
    p0, a0, _ = run(img, fil, none, size, tf.constant(0))
    p0, a0 = p0.numpy()[0], a0.numpy()[0]
    if class_index is not None and class_index >= len(p0):
        raise ValueError(f"class_index must be an int in [0, {len(p0)}) or None, "
                         f"got {class_index!r}")
    cls = int(np.argmax(p0)) if class_index is None else int(class_index)
    channel = int(np.argmax(a0)) if layer else 0
    grid = np.stack(np.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2).astype(np.int32)
    probs, acts = [], []
    bar = keras.utils.Progbar(len(grid), verbose=1) if len(grid) > 20 * batch_size else None
    for i in range(0, len(grid), batch_size):
        p, _, a = run(img, fil, tf.constant(grid[i:i + batch_size]), size,
                      tf.constant(channel))
        probs.append(p.numpy())
        acts.append(a.numpy())
        if bar is not None:
            bar.update(min(i + batch_size, len(grid)))
    probs = np.concatenate(probs).reshape(len(rows), len(cols), -1)
    out = {"probability": probs[..., cls], "top_class": probs.argmax(-1),
           "top_probability": probs.max(-1), "rows": rows, "cols": cols, "class_index": cls,
           "base_probability": float(p0[cls]), "patch_size": int(patch_size),
           "stride": int(stride)}
    if layer:
        out.update(activation=np.concatenate(acts).reshape(len(rows), len(cols)),
                   channel=channel, base_activation=float(a0[channel]), layer=layer)
    return out


def lowest_probability_box(result: dict) -> tuple[int, int, int, int]:
    """The occluder square ``(row0, col0, row1, col1)`` (end excluded) at the position where the
    class probability is lowest."""
    i, j = np.unravel_index(np.argmin(result["probability"]), result["probability"].shape)
    r0, c0, p = int(result["rows"][i]), int(result["cols"][j]), result["patch_size"]
    return r0, c0, r0 + p, c0 + p


def _masks(results, masks) -> np.ndarray:
    masks = np.asarray(masks, bool)
    if masks.ndim != 3 or len(masks) != len(results):
        raise ValueError(f"masks must be (N, H, W) with N = {len(results)} results, got shape "
                         f"{masks.shape}")
    return masks


def pointing_hits(results, masks) -> np.ndarray:
    """For each occlusion result, whether the occluder at the lowest-probability position
    overlaps the object's mask (a pointing game on data with ground truth).

    Args:
        results: a sequence of dicts from :func:`occlusion_sensitivity`.
        masks: bool ``(N, H, W)``, one object mask per result, in model-input coordinates.

    Returns:
        bool ``(N,)``.
    """
    hits = []
    for res, m in zip(results, _masks(results, masks)):
        r0, c0, r1, c1 = lowest_probability_box(res)
        hits.append(bool(m[r0:r1, c0:c1].any()))
    return np.asarray(hits, bool)


def pointing_chance(results, masks) -> np.ndarray:
    """The chance level of :func:`pointing_hits`: for each result, the fraction of its occluder
    positions whose square overlaps the object's mask (the hit rate of a position picked at
    random).

    Args:
        results: a sequence of dicts from :func:`occlusion_sensitivity`.
        masks: bool ``(N, H, W)``, one object mask per result, in model-input coordinates.

    Returns:
        float ``(N,)`` in [0, 1].
    """
    rates = []
    for res, m in zip(results, _masks(results, masks)):
        p = res["patch_size"]
        rates.append(np.mean([m[r:r + p, c:c + p].any() for r in res["rows"]
                              for c in res["cols"]]))
    return np.asarray(rates, float)


