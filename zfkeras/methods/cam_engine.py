"""The engine of the class activation maps (CAM) family, public to its members
(:mod:`zfkeras.methods.cam`: Grad-CAM; :mod:`zfkeras.methods.cams`: Grad-CAM++, LayerCAM,
Score-CAM).

:func:`maps_model` gives the feature maps of a layer and the class scores before the softmax
in one forward pass (the one graph walk of :mod:`zfkeras.methods.graph`, nested models too);
:func:`gradient_cam` weights the maps by any function of the maps and the gradient of the
class score, in one compiled forward and backward pass per batch, cached per model
(:mod:`zfkeras.methods.cache`); :func:`finish` applies the ReLU, places each cell at the
centre of its receptive field while upsampling (:func:`fading_weights`) and scales the maps.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.cache import cached
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE
from zfkeras.methods.graph import build, find, is_graph_model
from zfkeras.methods.ops import POOL
from zfkeras.methods.softmax import logits
from zfkeras.methods.upsampling import cell_weights

__all__ = [
    "class_score",
    "fading_weights",
    "finish",
    "gradient_cam",
    "maps_model",
    "score_signature",
]


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
            and not is_graph_model(op)
            and len(out.shape) == 4
            and not isinstance(op, POOL)
            and (out.shape[1] or 2) * (out.shape[2] or 2) > 1
        ):
            return path, out
    raise ValueError("layer=None but the model has no layer with a 4-D output: pass layer=")


def maps_model(model: keras.Model, layer: str | None):
    """The CAM family's forward pass: ``(a traced copy of model giving [feature maps of layer
    (N, h, w, K), class scores before the softmax (N, classes)], the layer's full path)``;
    ``layer=None`` is the last convolutional feature maps (see
    :func:`zfkeras.methods.cam.gradcam`)."""
    inputs, scores, entries = logits(model)  # the model's own graph: nested paths kept
    path, maps = _conv_layer(entries, layer)
    return build(inputs, [maps, scores]), path


def score_signature(model) -> list:
    """The input signature ``(images, classes)`` of the compiled passes of the class score
    (the CAM family's and :func:`zfkeras.methods.cam.class_projection`'s)."""
    return [
        tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    ]


def class_score(z, cls):
    """The class scores ``z`` ``(N, classes)`` summed over the batch, each image's class
    ``cls`` (``-1``: its predicted class), in float32 under mixed precision too."""
    z = tf.cast(z, tf.float32)
    cls = tf.where(cls < 0, tf.argmax(z, -1, output_type=tf.int32), cls)
    return tf.reduce_sum(tf.gather(z, cls, axis=1, batch_dims=1))


def _gradient_fn(model, layer, weighting):
    both, path = maps_model(model, layer)

    @tf.function(input_signature=score_signature(model))
    def run(x, cls):
        with tf.GradientTape() as tape:
            a, z = both(x, training=False)
            score = class_score(z, cls)
        g, a = tf.cast(tape.gradient(score, a), tf.float32), tf.cast(a, tf.float32)
        return weighting(a, g)

    return run, path


def fading_weights(model: keras.Model, path: str, grid, size):
    """Bilinear weights ``(H, n_rows)`` and ``(W, n_cols)`` that put each cell's value at the
    centre of its receptive field (``zfkeras.receptive_field``) and interpolate in between,
    fading to zero one stride beyond the outer centres (compare
    :func:`zfkeras.methods.dissection.holding_weights`, which holds the edge value).

    Padding makes the centres differ from an even spread of the cells over the image (ZFNet's
    conv5 at 96 px: 20, 36, ..., 84 px, not 9, 28, ..., 86), so a plain image resize shifts the
    map. Beyond the outer centres the map falls linearly to zero one stride further out (the
    feature map is zero outside its extent, as in the network's own padding), so every cell's
    value peaks at its own centre instead of spreading into a plateau up to the border.

    Returns ``None`` where the geometry is unknown (a layer the receptive-field walk does not
    support, named in a warning given once per layer); the caller then resizes the plain
    way."""
    from zfkeras.methods.mining import receptive_field  # deferred: mining imports the deconvnet

    try:
        rf = receptive_field(model, path)
    except ValueError as err:
        checks.warn_once(
            ("gradcam", id(model), path),
            f"layer {path!r}: no receptive-field geometry ({err}); Grad-CAM maps are "
            f"resized as plain images instead",
        )
        return None
    if tuple(rf.output_size) != tuple(grid):
        return None
    return [
        tf.constant(cell_weights(rf.centres(a)[0], rf.stride[a], grid[a], size[a], hold=False))
        for a in (0, 1)
    ]


def _flag(value, argument: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{argument} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def finish(
    model: keras.Model, layer, *, path: str, cams, size=None, relu=True, normalize=True
) -> np.ndarray:
    """The CAM family's last steps, in this order, on ``cams`` ``(N, h, w)`` (the weighted
    sum of the feature maps of ``layer``, full path ``path``): the ReLU (``relu``); the
    upsampling to ``size`` ``(H, W)`` (``None``: kept at ``(h, w)``), each cell at the centre
    of its receptive field when the geometry is known (:func:`fading_weights`, cached per
    model), else a plain bilinear resize; the scaling of each map by its largest absolute
    value (``normalize``: [0, 1] after the ReLU, [-1, 1] without). Returns float32 ``(N, H,
    W)`` or ``(N, h, w)``; an all-zero map stays zero."""
    relu, normalize = _flag(relu, "relu"), _flag(normalize, "normalize")
    cam = tf.convert_to_tensor(cams, tf.float32)
    if relu:
        cam = tf.nn.relu(cam)
    if size is not None:
        mats = cached(
            model,
            ("cam-up", path, tuple(int(s) for s in size)),
            lambda: fading_weights(model, path, cam.shape[1:3], size),
        )
        if mats is not None:
            cam = tf.einsum("hi,nij,wj->nhw", mats[0], cam, mats[1])
        else:
            cam = tf.image.resize(cam[..., None], size, "bilinear")[..., 0]
    if normalize:
        peak = tf.reduce_max(tf.abs(cam), axis=(1, 2), keepdims=True)
        cam = tf.math.divide_no_nan(cam, peak)
    return cam.numpy().astype(np.float32)


# the options of gradient_cam and their defaults (those of gradcam)
_OPTIONS = {"resize": True, "relu": True, "normalize": True}
_OPTIONS.update(batch_size=BATCH_SIZE, verbose=VERBOSE)


def gradient_cam(
    model: keras.Model, images, class_index=None, *, layer: str | None = None, weighting, **options
) -> np.ndarray:
    """The gradient CAM family's engine: ``weighting(A, g)`` from the feature maps ``A`` of
    ``layer`` and the gradient ``g`` of the class score before the softmax, one compiled
    forward and backward pass per batch (cached per model, layer and weighting), then
    :func:`finish`. ``weighting(a, g)`` maps two ``(N, h, w, K)`` float32 tensors to ``(N, h,
    w)`` (:func:`zfkeras.methods.cam.mean_gradient` for Grad-CAM;
    :data:`zfkeras.methods.cams.WEIGHTINGS`). The other arguments (``options``: ``resize``,
    ``relu``, ``normalize``, ``batch_size``, ``verbose``, keyword-only) and the result: see
    :func:`zfkeras.methods.cam.gradcam`."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise TypeError(f"gradient_cam got unknown options {unknown}; known: {list(_OPTIONS)}")
    o = {**_OPTIONS, **options}
    resize, relu, normalize = (_flag(o[n], n) for n in ("resize", "relu", "normalize"))
    batch_size, verbose = o["batch_size"], o["verbose"]
    x, cls = checks.prepare(
        model, images, class_index, layer=layer, batch_size=batch_size, verbose=verbose
    )
    run, path = cached(
        model, ("gradient_cam", weighting, layer), lambda: _gradient_fn(model, layer, weighting)
    )
    size = x.shape[1:3] if resize else None
    out = []
    for b in checks.each(checks.batches(len(x), batch_size), verbose=verbose):
        cams = run(tf.constant(x[b]), tf.constant(cls[b]))
        out.append(
            finish(model, layer, path=path, cams=cams, size=size, relu=relu, normalize=normalize)
        )
    return np.concatenate(out).astype(np.float32)
