"""Grad-CAM's successors: Grad-CAM++, LayerCAM and Score-CAM.

Course material beyond the paper, next to :func:`zfkeras.gradcam`. Each weighs the feature
maps ``A_k`` of a convolutional layer (default: the last one, as Grad-CAM) for class ``c``; the
map is ``ReLU(sum_k w_k A_k)`` (per cell for LayerCAM), upsampled to the image as Grad-CAM's
and scaled to a maximum of 1. ``g = d f_c / d A`` is the gradient of the class score before the
softmax.

* Grad-CAM++ (Chattopadhay, Sarkar, Howlader & Balasubramanian, WACV 2018), the closed form for
  an exponential score: ``alpha_kij = g_kij^2 / (2 g_kij^2 + sum_ab A_kab g_kij^3)`` (0 where
  the denominator is 0) and ``w_k = sum_ij alpha_kij ReLU(g_kij)``.
* LayerCAM (Jiang, Zhang, Hou, Cheng & Wei, IEEE TIP 2021): ``ReLU(sum_k ReLU(g_kij) A_kij)``,
  a weight per cell rather than per map.
* Score-CAM (Wang, Wang, Du, Yang, Zhang, Ding, Mardziel & Hu, CVPR-W 2020): no gradient.
  Each map, upsampled (bilinear) to the image and scaled to [0, 1], masks the image; ``w_k`` is
  the class probability of the masked image (the softmax of the class scores). Every image x
  channel pair is one row of a batch of at most ``batch_size`` rows (the memory cap); maps
  that are zero everywhere (common after a ReLU) are skipped, as they add nothing;
  ``top_channels`` keeps only each image's channels whose maps vary most (largest standard
  deviation; Faster Score-CAM, the fast mode of other libraries).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.cache import cached
from zfkeras.methods.cam import mean_gradient
from zfkeras.methods.cam_engine import finish, gradient_cam, maps_model
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE
from zfkeras.methods.registry import method
from zfkeras.methods.softmax import logits_model


def _plus_plus(a, g):
    g2 = tf.square(g)
    denom = 2 * g2 + tf.reduce_sum(a, axis=(1, 2), keepdims=True) * g2 * g
    alpha = tf.math.divide_no_nan(g2, denom)
    w = tf.reduce_sum(alpha * tf.nn.relu(g), axis=(1, 2), keepdims=True)
    return tf.reduce_sum(w * a, -1)


def _layer(a, g):
    return tf.reduce_sum(tf.nn.relu(g) * a, -1)


# How each gradient CAM weighs the feature maps A with the gradient g (both (N, h, w, K));
# one compiled pass serves them all (``zfkeras.methods.cam_engine.gradient_cam``).
WEIGHTINGS = {"gradcam": mean_gradient, "gradcam_plus_plus": _plus_plus, "layercam": _layer}


@method("gradcam_plus_plus", takes=("layer",))
def gradcam_plus_plus(
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
    """Grad-CAM++ heatmaps (Chattopadhay et al., 2018); see the module docstring.

    Args:
        model: a Keras classifier (Sequential, Functional or nested); the score is taken
            before its softmax.
        images: model inputs ``(N, H, W, C)``.
        class_index: ``None`` (each image's predicted class), an int, or one int per image.
        layer: name or ``"outer/inner"`` path of a layer with a 4-D output; default the last
            convolutional feature maps (as :func:`zfkeras.gradcam`).
        resize: upsample to ``(H, W)`` as :func:`zfkeras.gradcam` does; ``False`` keeps the
            layer's resolution.
        relu, normalize: as in :func:`zfkeras.gradcam` (the ReLU of the weighted sum, then
            the upsampling, then the scaling by the largest absolute value): both ``False``
            with ``resize=False`` give the raw signed map at the layer's resolution.
        batch_size: images per compiled pass.
        verbose: ``"auto"``, 0 or 1 (a progress bar).

    Returns:
        ``(N, H, W)`` (or the layer's ``(N, h, w)``) float32, in [0, 1] with the defaults.

    Raises:
        TypeError/ValueError: bad model, images, class_index, layer, resize, relu, normalize,
            batch_size or verbose.
    """
    options = {"resize": resize, "relu": relu, "normalize": normalize}
    options.update(batch_size=batch_size, verbose=verbose)
    return gradient_cam(
        model,
        images,
        class_index,
        layer=layer,
        weighting=WEIGHTINGS["gradcam_plus_plus"],
        **options,
    )


@method("layercam", takes=("layer",))
def layercam(
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
    """LayerCAM heatmaps (Jiang et al., 2021); see the module docstring. Arguments, result and
    errors as in :func:`gradcam_plus_plus`; LayerCAM is meant for earlier layers too."""
    options = {"resize": resize, "relu": relu, "normalize": normalize}
    options.update(batch_size=batch_size, verbose=verbose)
    return gradient_cam(
        model, images, class_index, layer=layer, weighting=WEIGHTINGS["layercam"], **options
    )


def _score_fn(model, layer):
    both, path = maps_model(model, layer)
    net = logits_model(model)
    shape = tuple(model.inputs[0].shape[1:])
    grid = tuple(both.outputs[0].shape[1:])
    x_spec = tf.TensorSpec((None, *shape), tf.float32)

    @tf.function(input_signature=[x_spec])
    def maps(x):
        a, z = both(x, training=False)  # float32 maps under mixed precision too
        return tf.cast(a, tf.float32), tf.argmax(z, -1, output_type=tf.int32)

    spec = [
        x_spec,
        tf.TensorSpec((None, *grid), tf.float32),  # the images' feature maps
        tf.TensorSpec((None,), tf.int32),  # each row's image (an index into x)
        tf.TensorSpec((None,), tf.int32),  # each row's channel
        tf.TensorSpec((None,), tf.int32),  # the images' classes
    ]

    @tf.function(input_signature=spec)
    def scores(x, a, image, channel, cls):
        sel = tf.gather_nd(tf.transpose(a, (0, 3, 1, 2)), tf.stack([image, channel], 1))
        up = tf.image.resize(sel[..., None], shape[:2], "bilinear")
        lo = tf.reduce_min(up, axis=(1, 2, 3), keepdims=True)
        hi = tf.reduce_max(up, axis=(1, 2, 3), keepdims=True)
        rows = tf.gather(x, image) * tf.math.divide_no_nan(up - lo, hi - lo)
        p = tf.nn.softmax(tf.cast(net(rows, training=False), tf.float32), -1)
        return tf.gather(p, tf.gather(cls, image), axis=1, batch_dims=1)

    return maps, scores, path


@method("scorecam", takes=("layer",))
def scorecam(
    model: keras.Model,
    images,
    class_index=None,
    *,
    layer: str | None = None,
    resize: bool = True,
    top_channels: int | None = None,
    relu: bool = True,
    normalize: bool = True,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> np.ndarray:
    """Score-CAM heatmaps (Wang et al., 2020); see the module docstring.

    Args:
        model, images, class_index, layer, resize, relu, normalize, verbose: as in
            :func:`gradcam_plus_plus` (``relu=False``: the signed sum of the maps weighted by
            the masked images' class probabilities).
        top_channels: ``None`` (every channel of the layer) or an int: only each image's
            ``top_channels`` channels of largest spatial standard deviation mask the image
            (Faster Score-CAM); the others get weight 0.
        batch_size: masked images (image x channel rows) per compiled pass: the memory cap.

    Returns:
        ``(N, H, W)`` (or the layer's ``(N, h, w)``) float32, in [0, 1] with the defaults.

    Raises:
        TypeError/ValueError: bad model, images, class_index, layer, top_channels, resize,
            relu, normalize, batch_size or verbose.
    """
    x, cls = checks.prepare(
        model, images, class_index, layer=layer, batch_size=batch_size, verbose=verbose
    )
    maps, scores, path = cached(model, ("scorecam", layer), lambda: _score_fn(model, layer))
    a, top = [], []
    for b in checks.batches(len(x), batch_size):
        a_b, top_b = maps(tf.constant(x[b]))
        a.append(a_b.numpy())
        top.append(top_b.numpy())
    a = np.concatenate(a)
    cls = np.where(cls < 0, np.concatenate(top), cls).astype(np.int32)  # the predicted class
    n_maps = a.shape[-1]
    use = np.ones((len(x), n_maps), bool)
    if top_channels is not None:
        top_channels = checks.number(top_channels, "top_channels", 1, n_maps, integer=True)
        spread = a.std(axis=(1, 2))
        order = np.argsort(-spread, axis=1, kind="stable")[:, :top_channels]
        use = np.zeros_like(use)
        np.put_along_axis(use, order, True, axis=1)
    use &= (a != 0).any(axis=(1, 2))  # an all-zero map adds nothing whatever its weight
    pairs = np.argwhere(use).astype(np.int32)  # (image, channel) rows, image by image
    weights = np.zeros((len(x), n_maps), np.float32)
    for b in checks.each(checks.batches(len(pairs), batch_size), verbose=verbose):
        img, ch = pairs[b, 0], pairs[b, 1]
        i0, i1 = int(img[0]), int(img[-1]) + 1
        args = (x[i0:i1], a[i0:i1], img - i0, ch, cls[i0:i1])
        weights[img, ch] = scores(*map(tf.constant, args)).numpy()
    cams = np.einsum("nhwk,nk->nhw", a, weights)
    size = x.shape[1:3] if resize else None
    return finish(model, layer, path=path, cams=cams, size=size, relu=relu, normalize=normalize)
