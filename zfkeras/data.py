"""Datasets and the paper's preprocessing (section 3), at CPU size.

* :func:`cifar10` reads CIFAR-10 from a one-folder-per-class tree (offline) or falls back to
  ``keras.datasets.cifar10`` (online).
* :func:`shapes` generates the synthetic dataset: objects with ground-truth masks and, for the
  face-like class, part positions.
* :func:`crop_resize`, :func:`augment_batch`, :func:`ten_crops` implement the paper's
  pipeline: per-pixel mean subtraction, random crops with horizontal flips for training, the
  centre crop for single-crop evaluation, and the 10-crop evaluation (4 corners + centre, each
  with its mirror image).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from zfkeras.config import CIFAR10_ENV

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
SHAPES_CLASSES = ("disk", "square", "triangle", "cross", "face")
FACE_PARTS = ("left_eye", "right_eye", "mouth")
_LAYOUT = "<dir>/{train,test}/<class name>/<image>.jpg|png, class names " + ", ".join(
    CIFAR10_CLASSES)


class DatasetFolderError(FileNotFoundError, ValueError):
    """A dataset folder is missing or not laid out as expected (both a ``FileNotFoundError``
    and a ``ValueError``)."""


# --------------------------------------------------------------------------- CIFAR-10
def cifar10(split: str = "test", data_dir: str | os.PathLike | None = None,
            limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load a CIFAR-10 split as ``(images, labels)``.

    Args:
        split: ``"train"`` (50,000 images) or ``"test"`` (10,000).
        data_dir: folder laid out ``data_dir/<split>/<class>/<file>.jpg``; if None, the
            environment variable ``ZFKERAS_CIFAR10``; if that is unset too,
            ``keras.datasets.cifar10`` (which downloads).
        limit: keep only the first ``limit`` images of every class (a fast subset).

    Returns:
        ``images`` uint8 ``(N, 32, 32, 3)`` RGB and ``labels`` int32 ``(N,)`` indexing
        :data:`CIFAR10_CLASSES`, in class order.

    Raises:
        ValueError: for a bad ``split`` or ``limit``.
        DatasetFolderError: the folder is missing or malformed; the message names the path,
            the environment variable and the expected layout.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    source = data_dir if data_dir is not None else os.environ.get(CIFAR10_ENV)
    if source is None:
        (xtr, ytr), (xte, yte) = __import__("keras").datasets.cifar10.load_data()
        x, y = (xtr, ytr) if split == "train" else (xte, yte)
        y = y.reshape(-1).astype(np.int32)
        order = np.argsort(y, kind="stable")
        x, y = x[order], y[order]
        if limit is not None:
            keep = np.concatenate([np.flatnonzero(y == c)[:limit] for c in range(10)])
            x, y = x[keep], y[keep]
        return x, y
    origin = "data_dir" if data_dir is not None else f"${CIFAR10_ENV}"
    images, labels = _read_folder(str(Path(source).expanduser().resolve()), split, limit, origin)
    return images.copy(), labels.copy()


@functools.lru_cache(maxsize=4)
def _read_folder(root: str, split: str, limit: int | None, origin: str):
    where = f"(given by {origin})"
    folder = Path(root) / split
    if not folder.is_dir():
        raise DatasetFolderError(
            f"CIFAR-10 folder {folder} does not exist {where}. Pass data_dir= or set "
            f"${CIFAR10_ENV} to a folder laid out as {_LAYOUT}")
    found = sorted(p.name for p in folder.iterdir() if p.is_dir())
    missing = [c for c in CIFAR10_CLASSES if c not in found]
    if missing:
        raise DatasetFolderError(
            f"CIFAR-10 folder {folder} is malformed: class folders {missing} are missing "
            f"(found {found}). Expected layout {_LAYOUT}; set ${CIFAR10_ENV} or data_dir.")
    images, labels = [], []
    for c, name in enumerate(CIFAR10_CLASSES):
        files = sorted(p for p in (folder / name).iterdir()
                       if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:limit]
        if not files:
            raise DatasetFolderError(
                f"CIFAR-10 class folder {folder / name} holds no .jpg/.png images. "
                f"Expected layout {_LAYOUT}; set ${CIFAR10_ENV} or data_dir.")
        for f in files:
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is None or img.shape != (32, 32, 3):
                raise DatasetFolderError(
                    f"{f} is not a readable 32x32 colour image. Expected layout {_LAYOUT}.")
            images.append(img[:, :, ::-1])
        labels += [c] * len(files)
    return np.stack(images), np.asarray(labels, np.int32)


# --------------------------------------------------------------------------- synthetic shapes
def _polygon(kind: str, r: float) -> np.ndarray:
    if kind == "square":
        t = np.deg2rad([45, 135, 225, 315])
        return np.stack([np.cos(t), np.sin(t)], 1) * r
    if kind == "triangle":
        t = np.deg2rad([-90, 30, 150])
        return np.stack([np.cos(t), np.sin(t)], 1) * r
    if kind == "cross":
        a, b = r, r * 0.36
        return np.array([[-b, -a], [b, -a], [b, -b], [a, -b], [a, b], [b, b], [b, a], [-b, a],
                         [-b, b], [-a, b], [-a, -b], [-b, -b]])
    raise ValueError(kind)


def _rot(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def shapes(n: int = 1000, seed: int = 0, image_size: int = 96,
           classes: tuple[str, ...] = SHAPES_CLASSES) -> dict:
    """Generate the synthetic dataset: one labelled object per image on clutter.

    Every image holds one object of a class (disk, square, triangle, cross, face), of random
    colour, size, position and rotation, on a smooth random background with distractors (thin
    lines and small dots) that belong to no class, so only the object tells the class. A face
    is a disk with two eyes and a mouth in a contrasting colour; a plain disk has none, so
    telling them apart needs the parts.

    Args:
        n: number of images.
        seed: the generator is deterministic for a given seed.
        image_size: side of the square images (at least 32).
        classes: subset (and order) of :data:`SHAPES_CLASSES` to draw.

    Returns:
        A dict with ``images`` uint8 ``(n, S, S, 3)``, ``labels`` int32 ``(n,)``,
        ``masks`` bool ``(n, S, S)`` (the labelled object's pixels, parts included),
        ``class_names``, ``parts`` (dict ``left_eye``/``right_eye``/``mouth`` -> float
        ``(n, 2)`` (row, col) pixel positions, NaN where the image is not a face; left and right
        as seen by the viewer), ``part_radius`` float ``(n,)`` (radius of an eye, NaN if no face)
        and ``object_radius`` float ``(n,)``.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(image_size, int) or image_size < 32:
        raise ValueError(f"image_size must be an int >= 32, got {image_size!r}")
    unknown = [c for c in classes if c not in SHAPES_CLASSES]
    if unknown or not classes:
        raise ValueError(f"classes must be a non-empty subset of {SHAPES_CLASSES}, got {classes!r}")
    rng = np.random.default_rng(seed)
    s = image_size
    low = rng.uniform(70, 185, (n, 4, 4, 3)).astype(np.float32)
    images = np.empty((n, s, s, 3), np.uint8)
    masks = np.zeros((n, s, s), bool)
    labels = rng.integers(0, len(classes), n).astype(np.int32)
    parts = {p: np.full((n, 2), np.nan) for p in FACE_PARTS}
    part_radius = np.full(n, np.nan)
    radii = rng.uniform(0.16, 0.28, n) * s
    shift = 16  # fixed-point bits for sub-pixel drawing
    scale = 1 << shift

    def pts(p):
        return np.round(p * scale).astype(np.int32).reshape(-1, 1, 2)

    for i in range(n):
        bg = cv2.resize(low[i], (s, s), interpolation=cv2.INTER_CUBIC)
        bg += rng.normal(0, 6, bg.shape).astype(np.float32)
        img = np.clip(bg, 0, 255).astype(np.uint8)
        for _ in range(rng.integers(2, 5)):  # distractor lines
            p0, p1 = rng.uniform(0, s, 2), rng.uniform(0, s, 2)
            col = tuple(int(v) for v in rng.integers(0, 256, 3))
            cv2.line(img, tuple(int(v) for v in p0), tuple(int(v) for v in p1), col, 1,
                     cv2.LINE_AA)
        for _ in range(rng.integers(2, 6)):  # distractor dots
            c = tuple(int(v) for v in rng.uniform(0, s, 2))
            col = tuple(int(v) for v in rng.integers(0, 256, 3))
            cv2.circle(img, c, int(rng.integers(1, 3)), col, -1, cv2.LINE_AA)
        kind, r = classes[labels[i]], radii[i]
        centre = rng.uniform(r + 1, s - r - 1, 2)  # (x, y)
        colour = np.where(rng.random(3) < 0.5, rng.uniform(0, 45, 3), rng.uniform(210, 255, 3))
        col = tuple(float(v) for v in colour)
        m = np.zeros((s, s), np.uint8)
        angle = rng.uniform(-np.pi / 6, np.pi / 6) if kind == "face" else rng.uniform(0, 2 * np.pi)
        if kind in ("disk", "face"):
            c = tuple(int(v) for v in np.round(centre * scale))
            cv2.circle(img, c, int(r * scale), col, -1, cv2.LINE_AA, shift)
            cv2.circle(m, c, int(r * scale), 1, -1, cv2.LINE_8, shift)
        else:
            poly = pts(_rot(_polygon(kind, r), angle) + centre)
            cv2.fillPoly(img, [poly], col, cv2.LINE_AA, shift)
            cv2.fillPoly(m, [poly], 1, cv2.LINE_8, shift)
        if kind == "face":
            inv = tuple(float(255 - v) for v in colour)
            er = 0.17 * r
            offsets = {"left_eye": (-0.38 * r, -0.28 * r), "right_eye": (0.38 * r, -0.28 * r),
                       "mouth": (0.0, 0.42 * r)}
            for part, off in offsets.items():
                xy = _rot(np.array([off]), angle)[0] + centre
                parts[part][i] = (xy[1], xy[0])
                if part == "mouth":
                    axes = (int(0.4 * r * scale), int(0.13 * r * scale))
                    cv2.ellipse(img, tuple(int(v) for v in np.round(xy * scale)), axes,
                                float(np.rad2deg(angle)), 0, 360, inv, -1, cv2.LINE_AA, shift)
                else:
                    cv2.circle(img, tuple(int(v) for v in np.round(xy * scale)),
                               int(er * scale), inv, -1, cv2.LINE_AA, shift)
            part_radius[i] = er
        images[i] = img
        masks[i] = m.astype(bool)
    return {"images": images, "labels": labels, "masks": masks, "class_names": list(classes),
            "parts": parts, "part_radius": part_radius, "object_radius": radii}


# --------------------------------------------------------------------------- preprocessing
def per_pixel_mean(images: np.ndarray, batch: int = 4096) -> np.ndarray:
    """Mean image over a uint8 ``(N, H, W, 3)`` set, as float32 ``(H, W, 3)`` (paper section 3)."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {images.shape}")
    total = np.zeros(images.shape[1:], np.float64)
    for i in range(0, len(images), batch):
        total += images[i:i + batch].sum(0, dtype=np.float64)
    return (total / len(images)).astype(np.float32)


def crop_boxes(n: int, scale: float, offsets: np.ndarray | None = None,
               flip: np.ndarray | None = None) -> np.ndarray:
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
    return tf.image.crop_and_resize(images, tf.convert_to_tensor(boxes, tf.float32),
                                    tf.range(n), (size, size))


def normalize(images, mean: np.ndarray, scale: float = 1.0 / 64) -> tf.Tensor:
    """``(images - mean) * scale`` as float32: per-pixel mean subtraction, roughly in [-2, 2]."""
    return (tf.cast(images, tf.float32) - tf.constant(mean, tf.float32)) * scale


def centre_crop(x, size: int, crop_scale: float) -> tf.Tensor:
    """The single-crop evaluation view: the centre window covering ``1 / crop_scale`` of each
    (normalized) image ``(N, H, W, C)``, resampled to ``(N, size, size, C)``. Graph-friendly."""
    x = tf.convert_to_tensor(x, tf.float32)
    return crop_resize(x, size, tf.tile(crop_boxes(1, crop_scale), [tf.shape(x)[0], 1]))


def augment_batch(images, mean: np.ndarray, size: int, crop_scale: float,
                  seed: tf.Tensor | None = None) -> tf.Tensor:
    """Training augmentation on a uint8 batch: mean subtraction, a random crop of ``size``
    from the image resized to ``crop_scale * size``, and a random horizontal flip (paper
    section 3). Runs inside ``tf.data`` (graph mode)."""
    x = normalize(images, mean)
    n = tf.shape(x)[0]
    seed = tf.random.uniform([2], 0, 2**31 - 1, tf.int32) if seed is None else seed
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
