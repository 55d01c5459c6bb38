"""Grad-CAM (Selvaraju et al., 2017), Guided Grad-CAM and the projections of a class score.

Course material beside the paper: the gradient of a class score (before the softmax) with
respect to the last convolutional feature maps, averaged over space, weights each map; the ReLU
of the weighted sum is a coarse heatmap, upsampled to the image. :func:`class_projection` sends
the class score down to the image with one of the three ReLU rules of
:mod:`zfkeras.methods.deconvnet.rules` (``"guided"``: guided backpropagation, Springenberg et
al., 2015; ``"deconvnet"``: paper section 2.1; ``"backprop"``: the gradient). Guided Grad-CAM
multiplies the heatmap with guided backpropagation. The pointing game on these maps:
:mod:`zfkeras.evaluation.pointing`.

Every function works on Sequential, Functional and nested models (the one graph walk of
:mod:`zfkeras.methods.graph`); one forward and one backward pass per batch, compiled and cached
per model (:mod:`zfkeras.methods.cache`).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.attribution import prepare
from zfkeras.methods.cache import cached
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE
from zfkeras.methods.deconvnet.rules import MODES, relu_hook
from zfkeras.methods.graph import _POOL, _is_graph_model, build, find, walk
from zfkeras.methods.softmax import logits


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


def _maps_model(model, layer):
    """(the model giving (feature maps, logits) as a traced copy, the layer's full path)."""
    inputs, scores, entries = logits(model)  # the model's own graph: nested paths kept
    path, maps = _conv_layer(entries, layer)
    return build(inputs, [maps, scores]), path


def _spec(model) -> list:
    """The input signature ``(images, classes)`` of the compiled passes of the class score."""
    return [
        tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    ]


def _class_score(z, cls):
    """The class scores ``z`` ``(N, classes)`` summed over the batch, each image's class
    ``cls`` (``-1``: its predicted class), in float32 under mixed precision too."""
    z = tf.cast(z, tf.float32)
    cls = tf.where(cls < 0, tf.argmax(z, -1, output_type=tf.int32), cls)
    return tf.reduce_sum(tf.gather(z, cls, axis=1, batch_dims=1))


def _mean_gradient(a, g):
    """Grad-CAM's weighting: ``sum_k w_k A_k`` with ``w_k`` the gradient ``g_k`` averaged
    over space. ``a``, ``g``: ``(N, h, w, K)``; returns ``(N, h, w)`` (before the ReLU)."""
    return tf.reduce_sum(tf.reduce_mean(g, axis=(1, 2), keepdims=True) * a, -1)


def _gradient_fn(model, layer, weighting):
    both, path = _maps_model(model, layer)

    @tf.function(input_signature=_spec(model))
    def run(x, cls):
        with tf.GradientTape() as tape:
            a, z = both(x, training=False)
            score = _class_score(z, cls)
        g, a = tf.cast(tape.gradient(score, a), tf.float32), tf.cast(a, tf.float32)
        return tf.nn.relu(weighting(a, g))

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


def _finish(model, layer, path, cams, size):
    """``cams`` ``(N, h, w)`` of ``layer`` (full path ``path``) upsampled to ``size`` as
    Grad-CAM's (receptive-field centres when known; ``None``: kept) and scaled to [0, 1]."""
    if size is None:
        return _normalize(cams)
    mats = cached(
        model,
        ("cam-up", layer, tuple(size)),
        lambda: fading_weights(model, path, cams.shape[1:3], size),
    )
    return _normalize(cams, size, mats)


def _gradient_cam(kind, weighting, model, images, class_index, layer, resize, batch_size, verbose):
    """The gradient CAM family in one compiled pass per batch, cached per model under
    ``(kind, layer)``: ``ReLU(weighting(A, g))`` from the feature maps ``A`` of ``layer`` and
    the gradient ``g`` of the class score before the softmax, finished by :func:`_finish`.
    ``weighting(a, g)`` maps two ``(N, h, w, K)`` float32 tensors to ``(N, h, w)``
    (``_mean_gradient`` for Grad-CAM; :data:`zfkeras.methods.cams.WEIGHTINGS`)."""
    x, cls = prepare(
        model, images, class_index, layer=layer, batch_size=batch_size, verbose=verbose
    )
    run, path = cached(model, (kind, layer), lambda: _gradient_fn(model, layer, weighting))
    size = x.shape[1:3] if resize else None
    parts = list(checks.batches(len(x), batch_size))
    bar, out = checks.Progress(len(parts), verbose=verbose), []
    for k, b in enumerate(parts):
        out.append(_finish(model, layer, path, run(tf.constant(x[b]), tf.constant(cls[b])), size))
        bar.update(k + 1)
    return np.concatenate(out).astype(np.float32)


def gradcam(
    model: keras.Model,
    images,
    class_index=None,
    *,
    layer: str | None = None,
    resize: bool = True,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> np.ndarray:
    """Grad-CAM heatmaps of a class score.

    Args:
        model: a Keras classifier (Sequential, Functional or nested); when it ends in a softmax
            the score is taken before it (:func:`zfkeras.pre_softmax`).
        images: model inputs ``(N, H, W, C)``, already preprocessed (one image is a batch of
            one).
        class_index: ``None`` (the predicted class of each image), an int, or one int per image.
        layer: name (or ``"outer/inner"`` path) of a layer with a 4-D output; default the last
            4-D layer before the classifier that is not a pooling layer (the last convolutional
            feature maps), found inside nested models too.
        resize: upsample (bilinear) to ``(H, W)``, each cell placed at the centre of its
            receptive field when the layers' geometry is known (else a plain image resize,
            with a warning given once);
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
    args = (model, images, class_index, layer, resize, batch_size, verbose)
    return _gradient_cam("gradcam", _mean_gradient, *args)


def _projection_fn(model, mode):
    inputs, scores, _ = logits(model)
    scores_model = build(inputs, scores)  # a traced copy: nothing cached holds the model

    @tf.function(input_signature=_spec(model))
    def run(x, cls):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = _class_score(walk(scores_model, x, hook=relu_hook(mode)), cls)
        return tape.gradient(score, x)

    return run


def class_projection(
    model: keras.Model,
    images,
    class_index=None,
    *,
    mode: str = "deconvnet",
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> np.ndarray:
    """The class score (before the softmax) sent down to the image, every ReLU crossed with
    ``mode``'s rule (:mod:`zfkeras.methods.deconvnet.rules`, the one implementation used by
    :class:`zfkeras.Deconvnet` too): ``"guided"`` is guided backpropagation, ``"backprop"``
    the gradient, ``"deconvnet"`` the paper's rule (section 2.1) through the classifier.

    Arguments and errors as in :func:`gradcam`; ``mode`` is one of
    :data:`~zfkeras.methods.deconvnet.rules.MODES`, default ``"deconvnet"`` (the paper's
    rule, the default of :meth:`zfkeras.Deconvnet.project` too). Returns ``(N, H, W, C)``
    float32 (signed; show with ``zfkeras.figures.to_display(g, symmetric=True)``).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    x, cls = prepare(model, images, class_index, batch_size=batch_size, verbose=verbose)
    run = cached(model, ("projection", mode), lambda: _projection_fn(model, mode))
    parts = list(checks.batches(len(x), batch_size))
    bar, out = checks.Progress(len(parts), verbose=verbose), []
    for k, b in enumerate(parts):
        out.append(run(tf.constant(x[b]), tf.constant(cls[b])).numpy())
        bar.update(k + 1)
    return np.concatenate(out)


def guided_gradcam(
    model: keras.Model,
    images,
    class_index=None,
    *,
    layer: str | None = None,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> np.ndarray:
    """Guided Grad-CAM: the upsampled Grad-CAM heatmap times guided backpropagation
    (:func:`class_projection` with ``mode="guided"``).

    Arguments and errors as in :func:`gradcam`. Returns ``(N, H, W, C)`` float32 (signed).
    """
    common = {"batch_size": batch_size, "verbose": verbose}
    heat = gradcam(model, images, class_index, layer=layer, resize=True, **common)
    guided = class_projection(model, images, class_index, mode="guided", **common)
    return (guided * heat[..., None]).astype(np.float32)
