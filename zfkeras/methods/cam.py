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
per model (:mod:`zfkeras.methods.cache`). The CAM engine (the feature maps and class scores,
the compiled pass, the ReLU, upsampling and scaling) is :mod:`zfkeras.methods.cam_engine`,
shared with :mod:`zfkeras.methods.cams`; its public names are re-exported here.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.cache import cached
from zfkeras.methods.cam_engine import (
    class_score,
    fading_weights,
    finish,
    gradient_cam,
    maps_model,
    score_signature,
)
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE
from zfkeras.methods.deconvnet.rules import MODES, relu_hook
from zfkeras.methods.graph import walk
from zfkeras.methods.registry import method
from zfkeras.methods.softmax import logits_model

__all__ = [
    "class_projection",
    "class_score",
    "fading_weights",
    "finish",
    "gradcam",
    "gradient_cam",
    "guided_gradcam",
    "maps_model",
    "mean_gradient",
    "score_signature",
]


def mean_gradient(a, g):
    """Grad-CAM's weighting: ``sum_k w_k A_k`` with ``w_k`` the gradient ``g_k`` averaged
    over space. ``a``, ``g``: ``(N, h, w, K)``; returns ``(N, h, w)`` (before the ReLU)."""
    return tf.reduce_sum(tf.reduce_mean(g, axis=(1, 2), keepdims=True) * a, -1)


@method("gradcam", takes=("layer",))
def gradcam(
    model: keras.Model,
    images,
    class_index=None,
    *,
    layer: str | None = None,
    resize: bool = True,
    relu: bool = True,
    normalize: bool = True,
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
            ``False`` keeps the layer's resolution ``(h, w)``.
        relu: keep only the positive evidence, ``ReLU(sum_k w_k A_k)`` (Grad-CAM's map);
            ``False`` keeps the signed sum (Captum's ``LayerGradCam`` default).
        normalize: scale each map by its largest absolute value: [0, 1] with ``relu``,
            [-1, 1] without; ``False`` keeps the units of the class score times the feature
            maps.
        batch_size: images per forward+backward pass.
        verbose: ``"auto"`` (a progress bar when the run looks longer than a few seconds),
            0 or 1.

    Returns:
        ``(N, H, W)`` float32 heatmaps (``(N, h, w)`` with ``resize=False``): in [0, 1] with
        the defaults (an all-zero map stays zero). The ReLU comes first, then the upsampling,
        then the scaling (:func:`finish`), so ``relu=False, normalize=False, resize=False``
        is the raw signed map ``sum_k w_k A_k`` at the layer's resolution, ``w_k`` the mean
        over space of ``d score / d A_k``.

    Raises:
        TypeError/ValueError: bad model, images, class_index, layer, batch_size or verbose
            (:mod:`zfkeras.methods.checks`); ``TypeError``: ``resize``, ``relu`` or
            ``normalize`` not a bool.
    """
    options = {"resize": resize, "relu": relu, "normalize": normalize}
    options.update(batch_size=batch_size, verbose=verbose)
    return gradient_cam(model, images, class_index, layer=layer, weighting=mean_gradient, **options)


def _projection_fn(model, mode):
    scores_model = logits_model(model)  # a traced copy: nothing cached holds the model

    @tf.function(input_signature=score_signature(model))
    def run(x, cls):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = class_score(walk(scores_model, x, hook=relu_hook(mode)), cls)
        return tape.gradient(score, x)

    return run


@method("deconvnet", mode="deconvnet")
@method("guided", mode="guided")
@method("backprop", mode="backprop")
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
    x, cls = checks.prepare(model, images, class_index, batch_size=batch_size, verbose=verbose)
    run = cached(model, ("projection", mode), lambda: _projection_fn(model, mode))
    out = []
    for b in checks.each(checks.batches(len(x), batch_size), verbose=verbose):
        out.append(run(tf.constant(x[b]), tf.constant(cls[b])).numpy())
    return np.concatenate(out)


@method("guided_gradcam", takes=("layer",))
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
