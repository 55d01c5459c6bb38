"""Feature invariance to translation, scale and rotation (paper section 4.1, Fig. 5).

A set of images is transformed by increasing amounts; for each amount we measure, at a low and a
high layer, the Euclidean distance between the feature vector of the original and that of the
transformed image, and the probability of the true class. All transformed copies of one amount
are built in one batched op and go through one model with several outputs.

Python: :func:`transform`, :func:`invariance_curves`; figure: :func:`invariance_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

KINDS = ("translation", "scale", "rotation")
IDENTITY = {"translation": 0.0, "scale": 1.0, "rotation": 0.0}
UNITS = {"translation": "vertical shift (pixels)", "scale": "scale factor",
         "rotation": "rotation (degrees)"}


def _matrix(kind: str, amount: float, h: int, w: int) -> np.ndarray:
    """The 8 projective parameters mapping output pixel (x, y) to input pixel coordinates."""
    cy, cx = (h - 1) / 2, (w - 1) / 2
    if kind == "translation":  # content moves down by ``amount`` pixels
        return np.array([1, 0, 0, 0, 1, -amount, 0, 0], np.float32)
    if kind == "scale":  # zoom about the centre
        s = 1.0 / amount
        return np.array([s, 0, cx * (1 - s), 0, s, cy * (1 - s), 0, 0], np.float32)
    t = np.deg2rad(amount)  # counter-clockwise on screen, about the centre
    c, s = np.cos(t), np.sin(t)
    return np.array([c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy, 0, 0], np.float32)


def transform(images, kind: str, amount: float, fill: float = 0.0) -> np.ndarray:
    """Translate (vertically), scale or rotate a batch of images about their centre.

    Args:
        images: float ``(N, H, W, C)`` (model inputs).
        kind: ``"translation"`` (``amount`` pixels, positive moves the content down),
            ``"scale"`` (``amount`` is the zoom factor, 1 = unchanged) or ``"rotation"``
            (``amount`` degrees, counter-clockwise on screen).
        amount: the size of the transformation.
        fill: value of the pixels that come from outside the image (0 is the dataset mean for
            mean-subtracted inputs).

    Returns:
        float32 ``(N, H, W, C)``, bilinear resampling; the identity amount returns the images
        unchanged.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not np.isfinite(amount) or (kind == "scale" and amount <= 0):
        raise ValueError(f"amount must be finite (and > 0 for scale), got {amount!r}")
    x = tf.convert_to_tensor(np.asarray(images, np.float32))
    if x.shape.rank != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {tuple(x.shape)}")
    h, w = int(x.shape[1]), int(x.shape[2])
    m = tf.tile(tf.constant(_matrix(kind, float(amount), h, w))[None], [tf.shape(x)[0], 1])
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=m, output_shape=tf.constant([h, w]),
        fill_value=tf.constant(fill, tf.float32), interpolation="BILINEAR",
        fill_mode="CONSTANT").numpy()


def invariance_curves(model: keras.Model, images, labels, kind: str, amounts: Sequence[float],
                      layers: Sequence[str] = ("conv1", "fc7"), fill: float = 0.0,
                      batch_size: int = 64) -> dict:
    """Distances between features of original and transformed images (paper Fig. 5).

    Args:
        model: a classifier with a softmax output (a softmax is applied otherwise).
        images: model inputs ``(N, H, W, C)``.
        labels: ``(N,)`` true classes.
        kind: ``"translation"``, ``"scale"`` or ``"rotation"`` (see :func:`transform`).
        amounts: the amounts to sweep, ``(A,)``.
        layers: names of the layers whose outputs are compared (each flattened to a vector).
        fill: value of pixels that come from outside the image.
        batch_size: images per forward pass.

    Returns:
        A dict with ``kind``, ``amounts`` ``(A,)``, ``layers``, ``distance`` and ``relative``
        (dicts layer -> ``(A, N)``: the Euclidean distance, and that distance divided by the
        norm of the original's feature vector), ``probability`` ``(A, N)`` (true class) and
        ``prediction`` ``(A, N)`` (top class).

    Raises:
        ValueError: bad ``kind``, ``amounts``, ``labels`` or unknown ``layers``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    x = np.asarray(images, np.float32)
    labels = np.asarray(labels)
    if x.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {x.shape}")
    if labels.shape != (len(x),):
        raise ValueError(f"labels must be ({len(x)},), got shape {labels.shape}")
    amounts = np.asarray(amounts, np.float64)
    if amounts.ndim != 1 or len(amounts) == 0:
        raise ValueError(f"amounts must be a non-empty 1-D sequence, got {amounts!r}")
    names = [lay.name for lay in model.layers]
    if isinstance(layers, str) or not all(name in names for name in layers):
        raise ValueError(f"layers must be names of layers of the model ({names}), got {layers!r}")
    probe = keras.Model(model.inputs[0], [model.get_layer(n).output for n in layers]
                        + [model.outputs[0]])
    softmax = getattr(getattr(model.layers[-1], "activation", None), "__name__", "") != "softmax"

    @tf.function(reduce_retracing=True)
    def forward(batch):
        outs = probe(batch, training=False)
        feats = [tf.reshape(o, [tf.shape(o)[0], -1]) for o in outs[:-1]]
        p = tf.nn.softmax(outs[-1], -1) if softmax else outs[-1]
        return feats, p

    def features(batch_images):
        parts = [forward(tf.constant(batch_images[i:i + batch_size]))
                 for i in range(0, len(batch_images), batch_size)]
        feats = [np.concatenate([p[0][k].numpy() for p in parts]) for k in range(len(layers))]
        return feats, np.concatenate([p[1].numpy() for p in parts])

    base, _ = features(x)
    norms = [np.linalg.norm(f, axis=1) for f in base]
    dist = {n: np.zeros((len(amounts), len(x)), np.float32) for n in layers}
    rel = {n: np.zeros((len(amounts), len(x)), np.float32) for n in layers}
    prob = np.zeros((len(amounts), len(x)), np.float32)
    pred = np.zeros((len(amounts), len(x)), np.int64)
    for a, amount in enumerate(amounts):
        feats, p = features(transform(x, kind, amount, fill))
        for k, n in enumerate(layers):
            d = np.linalg.norm(feats[k] - base[k], axis=1)
            dist[n][a] = d
            rel[n][a] = np.divide(d, norms[k], out=np.zeros_like(d), where=norms[k] > 0)
        prob[a] = p[np.arange(len(x)), labels]
        pred[a] = p.argmax(1)
    return {"kind": kind, "amounts": amounts, "layers": list(layers), "distance": dist,
            "relative": rel, "probability": prob, "prediction": pred}


