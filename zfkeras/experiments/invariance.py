"""Feature invariance to translation, scale and rotation (paper section 4, Fig. 5).

A set of images is transformed by increasing amounts; for each amount we measure, at a low and a
high layer, the Euclidean distance between the feature vector of the original and that of the
transformed image, and the probability of the true class. All transformed copies of one amount
are built in one batched op and go through one model with several outputs.

Python: :func:`transform`, :func:`invariance_curves`; figure:
:func:`zfkeras.figures.invariance_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE
from zfkeras.methods.softmax import ends_in_softmax, probabilities

KINDS = ("translation", "scale", "rotation")
IDENTITY = {"translation": 0.0, "scale": 1.0, "rotation": 0.0}
UNITS = {
    "translation": "vertical shift (pixels)",
    "scale": "scale factor",
    "rotation": "rotation (degrees)",
}


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
    # keras.ops.image.affine_transform: the same projective-transform kernel (bit-identical
    # to the raw TensorFlow op used before), through the public Keras API
    return np.asarray(
        keras.ops.image.affine_transform(
            x, m, interpolation="bilinear", fill_mode="constant", fill_value=float(fill)
        )
    )


@dataclass(frozen=True, eq=False)
class InvarianceCurves:
    """What :func:`invariance_curves` measures for one kind of transformation (paper Fig. 5).

    Attributes:
        kind: ``"translation"``, ``"scale"`` or ``"rotation"``.
        amounts: ``(A,)`` the amounts swept.
        layers: the layers compared, in order.
        distance: layer -> float32 ``(A, N)``, the Euclidean distance between the feature
            vectors of the original and the transformed image.
        relative: layer -> float32 ``(A, N)``, that distance divided by the norm of the
            original's feature vector.
        aligned: layer -> float32 ``(A, N)``, the distance after the transformed image's map
            is moved back (translated, scaled or rotated back at the map's own resolution),
            over the positions that stay inside both maps: what remains once *equivariance*
            (the same features, moved) is removed, the invariance the paper means. For a
            layer without spatial axes (fc7) it equals ``distance``.
        aligned_relative: layer -> float32 ``(A, N)``, ``aligned`` divided by the norm of the
            original's map over the same positions.
        probability: float32 ``(A, N)``, the probability of ``class_index`` (per image).
        prediction: int ``(A, N)``, the top class.
        class_index: int ``(N,)``, the class whose probability is recorded.
    """

    kind: str
    amounts: np.ndarray
    layers: tuple[str, ...]
    distance: Mapping[str, np.ndarray]
    relative: Mapping[str, np.ndarray]
    probability: np.ndarray
    prediction: np.ndarray
    class_index: np.ndarray
    aligned: Mapping[str, np.ndarray] | None = None
    aligned_relative: Mapping[str, np.ndarray] | None = None


def _back(maps, kind: str, amount: float, image_rows: int):
    """The maps of transformed images moved back at the maps' resolution, and the mask of the
    positions that came from inside the image both ways: ``(maps, mask (1, h, w, 1))``."""
    scale = maps.shape[1] / image_rows
    fwd = amount * scale if kind == "translation" else amount
    inv = 1 / fwd if kind == "scale" else -fwd
    ones = np.ones((1, *maps.shape[1:3], 1), np.float32)
    mask = transform(transform(ones, kind, fwd), kind, inv) > 1 - 1e-3
    return transform(maps, kind, inv), mask


def _forward(model, layers):
    probe = checks.layer_model(model, layers, "layers", output=True)
    is_probability = ends_in_softmax(model)
    spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)

    @tf.function(input_signature=[spec])
    def forward(batch):
        outs = probe(batch, training=False)
        feats = [tf.cast(o, tf.float32) for o in outs[:-1]]
        return feats, probabilities(outs[-1], is_probability)

    return forward


def invariance_curves(
    model: keras.Model,
    images,
    class_index=None,
    *,
    kind: str | None = None,
    amounts: Sequence[float] | None = None,
    layers: Sequence[str] = ("conv1", "fc7"),
    fill: float = 0.0,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> InvarianceCurves:
    """Distances between features of original and transformed images (paper Fig. 5).

    Args:
        model: a classifier; its output is taken as probabilities when it ends in a softmax
            (:func:`zfkeras.methods.softmax.ends_in_softmax`), else a softmax is applied.
        images: model inputs ``(N, H, W, C)``.
        class_index: the class whose probability is recorded: ``None`` (each image's predicted
            class, untransformed), an int, or one int per image (the true labels, as in the
            paper).
        kind: ``"translation"``, ``"scale"`` or ``"rotation"`` (see :func:`transform`).
        amounts: the amounts to sweep, ``(A,)``.
        layers: names (or ``"outer/inner"`` paths) of the layers whose outputs are compared
            (each flattened to a vector).
        fill: value of pixels that come from outside the image.
        batch_size: images per forward pass.
        verbose: ``"auto"`` (a progress bar over the amounts when the run looks longer than a
            few seconds), 0 or 1.

    Returns:
        An :class:`InvarianceCurves`. Its ``aligned`` distances move the transformed image's
        map back before comparing: exact for a translation by a multiple of the layer's
        stride (input rows per map row); for other shifts, scales and rotations the map is
        resampled (bilinear, about its centre), an approximation that also blurs the map.

    Raises:
        TypeError/ValueError: bad ``model``, ``images``, ``class_index``, ``kind``,
            ``amounts``, ``layers``, ``batch_size`` or ``verbose``.
    """
    checks.check_model(model)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    x = checks.images(model, images)
    amounts = np.asarray([] if amounts is None else amounts, np.float64)
    if amounts.ndim != 1 or len(amounts) == 0 or not np.all(np.isfinite(amounts)):
        raise ValueError(
            f"amounts must be a non-empty 1-D sequence of finite numbers, got {amounts!r}"
        )
    layers = tuple(checks.layer_names(model, layers))
    batch_size = checks.batch_size(batch_size)
    checks.verbose(verbose)
    cls = checks.class_index(class_index, len(x), int(model.outputs[0].shape[-1]))
    forward = checks.cached(model, ("invariance", layers), lambda: _forward(model, layers))

    def features(batch_images):
        parts = [
            forward(tf.constant(batch_images[b]))
            for b in checks.batches(len(batch_images), batch_size)
        ]
        feats = [np.concatenate([p[0][k].numpy() for p in parts]) for k in range(len(layers))]
        return feats, np.concatenate([p[1].numpy() for p in parts])

    base, p_base = features(x)
    cls = np.where(cls < 0, p_base.argmax(1), cls)
    norms = [np.linalg.norm(f.reshape(len(x), -1), axis=1) for f in base]
    dist, rel, aligned, aligned_rel = (
        {n: np.zeros((len(amounts), len(x)), np.float32) for n in layers} for _ in range(4)
    )
    prob = np.zeros((len(amounts), len(x)), np.float32)
    pred = np.zeros((len(amounts), len(x)), np.int64)
    bar = checks.Progress(len(amounts), verbose=verbose, unit_name="amount")
    for a, amount in enumerate(amounts):
        feats, p = features(transform(x, kind, amount, fill))
        for k, n in enumerate(layers):
            d = np.linalg.norm((feats[k] - base[k]).reshape(len(x), -1), axis=1)
            dist[n][a] = d
            rel[n][a] = np.divide(d, norms[k], out=np.zeros_like(d), where=norms[k] > 0)
            if base[k].ndim == 4:  # a map: move it back, compare inside both
                back, mask = _back(feats[k], kind, float(amount), x.shape[1])
                d = np.linalg.norm(((back - base[k]) * mask).reshape(len(x), -1), axis=1)
                ref = np.linalg.norm((base[k] * mask).reshape(len(x), -1), axis=1)
            else:
                ref = norms[k]
            aligned[n][a] = d
            aligned_rel[n][a] = np.divide(d, ref, out=np.zeros_like(d), where=ref > 0)
        prob[a] = p[np.arange(len(x)), cls]
        pred[a] = p.argmax(1)
        bar.update(a + 1)
    return InvarianceCurves(
        kind=kind,
        amounts=amounts,
        layers=layers,
        distance=dist,
        relative=rel,
        probability=prob,
        prediction=pred,
        class_index=cls.astype(np.int64),
        aligned=aligned,
        aligned_relative=aligned_rel,
    )
