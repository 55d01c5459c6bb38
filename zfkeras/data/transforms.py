"""The paper's preprocessing (section 3), at CPU size (the datasets themselves are in
:mod:`zfkeras.data.cifar`, :mod:`zfkeras.data.shapes` and :mod:`zfkeras.data.concepts`).

* :func:`per_pixel_mean` and :func:`normalize`: the per-pixel mean subtraction;
* :func:`crop_boxes`, :func:`crop_resize`, :func:`centre_crop`, :func:`augment_batch`,
  :func:`ten_crops` implement the paper's pipeline: per-pixel mean subtraction, random
  crops with horizontal flips for training, the centre crop for single-crop evaluation, and the
  10-crop evaluation (4 corners + centre, each with its mirror image).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

# --------------------------------------------------------------------------- CIFAR-10


# --------------------------------------------------------------------------- synthetic shapes


# --------------------------------------------------------------------------- preprocessing
def per_pixel_mean(images: np.ndarray, batch: int = 4096) -> np.ndarray:
    """Mean image over a uint8 ``(N, H, W, 3)`` set, as float32 ``(H, W, 3)`` (paper section 3)."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {images.shape}")
    total = np.zeros(images.shape[1:], np.float64)
    for i in range(0, len(images), batch):
        total += images[i : i + batch].sum(0, dtype=np.float64)
    return (total / len(images)).astype(np.float32)


def crop_boxes(
    n: int, scale: float, offsets: np.ndarray | None = None, flip: np.ndarray | None = None
) -> np.ndarray:
    """Normalized boxes for :func:`crop_resize`.

    The image is (virtually) resized to ``scale`` times the output size and an output-sized
    window taken at fractional ``offsets`` in [0, 1] (``(n, 2)`` rows/cols; 0.5 = centre).
    ``flip`` (bool ``(n,)``) mirrors a crop left-right.
    """
    offsets = np.full((n, 2), 0.5) if offsets is None else np.asarray(offsets, float)
    span = 1.0 / scale
    y0 = offsets[:, 0] * (1 - span)
    x0 = offsets[:, 1] * (1 - span)
    boxes = np.stack([y0, x0, y0 + span, x0 + span], 1)
    if flip is not None:
        f = np.asarray(flip, bool)
        boxes[f] = boxes[f][:, [0, 3, 2, 1]]
    return boxes.astype(np.float32)


def crop_resize(images, size: int, boxes) -> tf.Tensor:
    """Resample float images ``(N, H, W, C)`` to ``(N, size, size, C)`` over ``boxes``.

    One bilinear ``tf.image.crop_and_resize`` does the resize, the crop and the mirror, so
    train- and test-time crops use the same arithmetic. Box ``[0, 0, 1, 1]`` resizes the whole
    image (corner pixels kept), which is the identity when ``H == W == size``.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    n = tf.shape(images)[0]
    return tf.image.crop_and_resize(
        images, tf.convert_to_tensor(boxes, tf.float32), tf.range(n), (size, size)
    )


def normalize(images, mean: np.ndarray, scale: float = 1.0 / 64) -> tf.Tensor:
    """``(images - mean) * scale`` as float32: per-pixel mean subtraction, roughly in [-2, 2]."""
    return (tf.cast(images, tf.float32) - tf.constant(mean, tf.float32)) * scale


def centre_crop(x, size: int, crop_scale: float) -> tf.Tensor:
    """The single-crop evaluation view: the centre window covering ``1 / crop_scale`` of each
    (normalized) image ``(N, H, W, C)``, resampled to ``(N, size, size, C)``. Graph-friendly."""
    x = tf.convert_to_tensor(x, tf.float32)
    return crop_resize(x, size, tf.tile(crop_boxes(1, crop_scale), [tf.shape(x)[0], 1]))


def _check_count(name: str, value, unit: str = "") -> None:
    """Raise unless ``value`` is an int >= 1 (``unit``, e.g. "pixel", named in the messages)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        kind = f"an int ({unit}s)" if unit else "an int"
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1{' ' + unit if unit else ''}, got {value!r}")


def _stateless_seed(seed) -> tf.Tensor:
    """``seed`` (an int >= 0, or a ``[2]`` int tensor) as the ``[2]`` int64 seed of the
    stateless random ops."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed must be an int >= 0 or a [2] int tensor, got {seed!r}")
        return tf.constant([int(seed), 0], tf.int64)
    if isinstance(seed, bool) or not isinstance(seed, (tf.Tensor, np.ndarray, tf.Variable)):
        raise TypeError(
            f"seed must be an int >= 0 or a [2] int tensor, got {type(seed).__name__} {seed!r}"
        )
    return tf.cast(seed, tf.int64)


def augment_batch(
    images, mean: np.ndarray, size: int, crop_scale: float, *, seed: int | tf.Tensor = 0
) -> tf.Tensor:
    """Training augmentation on a uint8 batch: mean subtraction, a random crop of ``size``
    from the image resized to ``crop_scale * size``, and a random horizontal flip (paper
    section 3). Runs inside ``tf.data`` (graph mode).

    ``seed`` (an int, or a ``[2]`` int tensor such as a per-batch seed in a pipeline) makes
    every draw: the same seed gives the same crops and flips; no global generator is used.
    """
    x = normalize(images, mean)
    n = tf.shape(x)[0]
    seed = _stateless_seed(seed)
    offsets = tf.random.stateless_uniform([n, 2], seed)
    flip = tf.random.stateless_uniform([n], seed + 1) < 0.5
    span = 1.0 / crop_scale
    y0 = offsets[:, 0] * (1 - span)
    x0 = offsets[:, 1] * (1 - span)
    x1 = x0 + span
    left = tf.where(flip, x1, x0)
    right = tf.where(flip, x0, x1)
    boxes = tf.stack([y0, left, y0 + span, right], 1)
    return crop_resize(x, size, boxes)


def photometric_batch(
    x,
    colour_jitter: float = 0.0,
    noise: float = 0.0,
    blur: float = 0.0,
    *,
    blur_passes: int = 1,
    seed: int | tf.Tensor = 0,
) -> tf.Tensor:
    """Photometric augmentation of a normalized float batch ``(N, H, W, 3)`` (not in the paper).

    * ``colour_jitter`` ``c``: each image's channels get a gain drawn from ``U(1 - c, 1 + c)`` and
      an offset from ``N(0, c)`` (normalized units: 1 is 64 grey levels), so colour alone
      cannot name the class;
    * ``noise`` ``s``: pixel noise ``N(0, s * u)`` with ``u ~ U(0, 1)`` per image;
    * ``blur`` ``p``: with probability ``p`` an image is blurred by a 5-tap binomial filter
      applied ``blur_passes`` times (2 passes are the 9-tap binomial, 3 the 13-tap), so that
      the first layer sees fewer hard, pixel-sharp edges than the synthetic worlds draw.

    All zero returns ``x`` unchanged. Graph-friendly (runs inside ``tf.data``); ``seed`` (an
    int, or a ``[2]`` int tensor such as a per-batch seed in a pipeline) makes every draw; no
    global generator is used.
    """
    for name, v in (("colour_jitter", colour_jitter), ("noise", noise), ("blur", blur)):
        if not 0 <= v:
            raise ValueError(f"{name} must be >= 0, got {v!r}")
    if blur > 1:
        raise ValueError(f"blur must be a probability in [0, 1], got {blur!r}")
    _check_count("blur_passes", blur_passes)
    x = tf.convert_to_tensor(x, tf.float32)
    if not (colour_jitter or noise or blur):
        return x
    n = tf.shape(x)[0]
    seed = _stateless_seed(seed)
    if colour_jitter:
        gain = tf.random.stateless_uniform([n, 1, 1, 3], seed, 1 - colour_jitter, 1 + colour_jitter)
        offset = tf.random.stateless_normal([n, 1, 1, 3], seed + 1, 0.0, colour_jitter)
        x = x * gain + offset
    if noise:
        level = noise * tf.random.stateless_uniform([n, 1, 1, 1], seed + 2)
        x = x + tf.random.stateless_normal(tf.shape(x), seed + 3) * level
    if blur:
        taps = tf.constant([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
        kernel = tf.tile((taps[:, None] * taps[None, :])[:, :, None, None], [1, 1, 3, 1])
        soft = x
        for _ in range(int(blur_passes)):
            soft = tf.nn.depthwise_conv2d(soft, kernel, [1, 1, 1, 1], "SAME")
        x = tf.where(tf.random.stateless_uniform([n, 1, 1, 1], seed + 4) < blur, soft, x)
    return x


def hide_patches(x, hide: float = 0.0, patch: int = 16, *, seed: int | tf.Tensor = 0) -> tf.Tensor:
    """Hide-and-Seek (Singh & Lee, ICCV 2017) on a normalized float batch ``(N, H, W, C)``: the
    image is cut into a grid of ``patch`` x ``patch`` squares from its top-left corner (the last
    row and column may be narrower) and each square of each image is set to 0, the per-pixel
    mean after :func:`normalize`, with probability ``hide``. A network trained so cannot name the
    class from its single most telling part, which may be hidden, and learns to use the whole
    object; Singh & Lee found that it moves class activation maps from the most discriminative
    part to the object's extent (they hid each patch with probability 0.5; not in the paper).

    ``hide=0`` returns ``x`` unchanged. Graph-friendly; ``seed`` (an int, or a ``[2]`` int
    tensor) makes every draw; no global generator is used.

    Raises:
        ValueError: ``hide`` outside [0, 1] or ``patch`` < 1.
        TypeError: ``patch`` is not an int.
    """
    if not 0 <= hide <= 1:
        raise ValueError(f"hide must be a probability in [0, 1], got {hide!r}")
    _check_count("patch", patch, "pixel")
    x = tf.convert_to_tensor(x, tf.float32)
    if not hide:
        return x
    shape = tf.shape(x)
    rows = (shape[1] + patch - 1) // patch
    cols = (shape[2] + patch - 1) // patch
    keep = tf.random.stateless_uniform([shape[0], rows, cols, 1], _stateless_seed(seed)) >= hide
    keep = tf.repeat(tf.repeat(keep, patch, axis=1), patch, axis=2)[:, : shape[1], : shape[2]]
    return tf.where(keep, x, tf.zeros_like(x))


def ten_crops(x, size: int, crop_scale: float) -> tf.Tensor:
    """The paper's 10 crops of each normalized image: four corners and the centre, each with its
    mirror image. Returns ``(10, N, size, size, C)``."""
    x = tf.convert_to_tensor(x, tf.float32)
    n = tf.shape(x)[0]
    corners = [(0, 0), (0, 1), (1, 0), (1, 1), (0.5, 0.5)]
    crops = []
    for flip in (False, True):
        for off in corners:
            box = crop_boxes(1, crop_scale, np.array([off]), np.array([flip]))
            crops.append(crop_resize(x, size, tf.tile(box, [n, 1])))
    return tf.stack(crops)
