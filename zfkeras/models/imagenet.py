"""What every 224-px ImageNet classifier shares: the 1000 class names, the evaluation crop
(short side to 256, centre 224x224), and a bundle for any ``keras.applications`` network.

The class names are the shipped file ``imagenet-classes.json``, which states their source
(torchvision's ``_IMAGENET_CATEGORIES``) and licence (BSD-3-Clause), in the standard synset
order that every ImageNet-1k network uses for its outputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from zfkeras import config

SIZE, RESIZE = 224, 256  # the network's input side; the short side before the centre crop
CLASS_FILE = "imagenet-classes.json"


def class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in the networks' output order (``[967]`` is
    ``"espresso"``, ``[281]`` ``"tabby"``)."""
    info = json.loads(config.shipped_file(CLASS_FILE).read_text())
    return list(info["class_names"])


def crop(images) -> np.ndarray:
    """The evaluation crop: uint8 photos ``(N, H, W, 3)`` of one size (or one ``(H, W, 3)``)
    -> float32 ``(N, 224, 224, 3)`` in 0-255: the short side bilinearly resized (antialiased)
    to 256, then the centre 224x224.

    Raises:
        ValueError: not ``(N, H, W, 3)`` with ``H, W >= 32``.
        TypeError: not uint8.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3 or min(images.shape[1:3]) < 32:
        raise ValueError(
            f"images must be uint8 photos (N, H, W, 3) with H, W >= 32, got shape {images.shape}"
        )
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8 (0-255 photos), got dtype {images.dtype}")
    h, w = images.shape[1:3]
    scale = RESIZE / min(h, w)
    rh, rw = max(SIZE, round(h * scale)), max(SIZE, round(w * scale))
    x = tf.image.resize(tf.cast(images, tf.float32), (rh, rw), antialias=True)
    top, left = (rh - SIZE) // 2, (rw - SIZE) // 2
    return x[:, top : top + SIZE, left : left + SIZE].numpy().astype(np.float32)


def colour_map(normalize: Callable) -> tuple[np.ndarray, np.ndarray]:
    """``(A, b)`` with ``normalize(x) == x @ A.T + b`` per pixel, for a per-pixel affine colour
    transform (``keras.applications.*.preprocess_input``: scaling, mean, std, RGB->BGR), read
    off by probing it with black and the three primaries.

    Raises:
        ValueError: ``normalize`` is not such a transform (a probe does not fit it).
    """
    probes = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [70, 130, 200]])
    out = np.asarray(normalize(probes[:, None, None].astype(np.float32).copy()), np.float64)
    out = out.reshape(len(probes), 3)
    b = out[0]
    a = (out[1:4] - b).T / 255.0
    if not np.allclose(probes[4] @ a.T + b, out[4], atol=1e-3 * (1 + np.abs(out[4]).max())):
        raise ValueError("normalize must be a per-pixel affine colour transform")
    return a, b


def keras_application(model: keras.Model, normalize: Callable):
    """A :class:`zfkeras.models.zoo.Pretrained` for an ImageNet network of
    ``keras.applications``, so that a chapter written for
    ``zfkeras.pretrained("efficientnet-lite0-imagenet")`` runs on it unchanged, e.g.
    ``keras_application(keras.applications.VGG16(weights="imagenet"),
    keras.applications.vgg16.preprocess_input)`` (the weights are downloaded by Keras).

    Args:
        model: a 224-px ImageNet-1k classifier (1000 outputs).
        normalize: its ``preprocess_input`` (0-255 RGB -> model input), per-pixel affine.

    Returns:
        The bundle: ``preprocess`` is :func:`crop` then ``normalize``, ``deprocess`` its
        inverse, ``class_names`` :func:`class_names`.

    Raises:
        TypeError: ``model`` is not a keras.Model or ``normalize`` not callable.
        ValueError: not a ``(224, 224, 3)`` -> 1000 classifier, or ``normalize`` not affine.
    """
    from zfkeras.models.zoo import Pretrained

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if not callable(normalize):
        raise TypeError(f"normalize must be callable, got {type(normalize).__name__}")
    if tuple(model.input_shape[1:]) != (SIZE, SIZE, 3) or model.output_shape[-1] != 1000:
        raise ValueError(
            f"model must map (224, 224, 3) images to 1000 ImageNet classes, got "
            f"{model.input_shape} -> {model.output_shape}"
        )
    a, b = colour_map(normalize)
    inverse = np.linalg.inv(a)

    def preprocess(images) -> np.ndarray:
        return np.asarray(normalize(crop(images)), np.float32)

    def deprocess(x) -> np.ndarray:
        rgb = (np.asarray(x, np.float64) - b) @ inverse.T
        return np.clip(rgb, 0, 255).round().astype(np.uint8)

    info = {"name": model.name, "preprocess": "short side to 256, centre crop 224, normalize"}
    return Pretrained(
        model=model,
        preprocess=preprocess,
        deprocess=deprocess,
        class_names=class_names(),
        info=info,
    )
