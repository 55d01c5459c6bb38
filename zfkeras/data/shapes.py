"""The synthetic shapes dataset: objects with ground-truth masks and, for the face-like class,
part positions (what makes the course's claims measurable)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SHAPES_CLASSES = ("disk", "square", "triangle", "cross", "face")


FACE_PARTS = ("left_eye", "right_eye", "mouth")


@dataclass(frozen=True)
class Shapes:
    """What :func:`shapes` returns: ``n`` images of side ``S`` with their ground truth.

    Attributes:
        images: uint8 ``(n, S, S, 3)``.
        labels: int32 ``(n,)``, indices into ``class_names``.
        masks: bool ``(n, S, S)``, the labelled object's pixels (parts included).
        class_names: the class of each label.
        parts: ``left_eye``/``right_eye``/``mouth`` -> float ``(n, 2)`` (row, col) pixel
            positions, NaN where the image is not a face; left and right as seen by the viewer.
        part_radius: float ``(n,)``, the radius of an eye (NaN if no face).
        object_radius: float ``(n,)``.
    """

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    class_names: list[str]
    parts: dict[str, np.ndarray]
    part_radius: np.ndarray
    object_radius: np.ndarray


def _polygon(kind: str, r: float) -> np.ndarray:
    if kind == "square":
        t = np.deg2rad([45, 135, 225, 315])
        return np.stack([np.cos(t), np.sin(t)], 1) * r
    if kind == "triangle":
        t = np.deg2rad([-90, 30, 150])
        return np.stack([np.cos(t), np.sin(t)], 1) * r
    if kind == "cross":
        a, b = r, r * 0.36
        return np.array(
            [
                [-b, -a],
                [b, -a],
                [b, -b],
                [a, -b],
                [a, b],
                [b, b],
                [b, a],
                [-b, a],
                [-b, b],
                [-a, b],
                [-a, -b],
                [-b, -b],
            ]
        )
    raise ValueError(kind)


def _rot(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def shapes(
    n: int = 1000,
    *,
    image_size: int = 96,
    classes: tuple[str, ...] = SHAPES_CLASSES,
    seed: int = 0,
) -> Shapes:
    """Generate the synthetic dataset: one labelled object per image on clutter.

    Every image holds one object of a class (disk, square, triangle, cross, face), of random
    colour, size, position and rotation, on a smooth random background with distractors (thin
    lines and small dots) that belong to no class, so only the object tells the class. A face
    is a disk with two eyes and a mouth in a contrasting colour; a plain disk has none, so
    telling them apart needs the parts.

    Args:
        n: number of images.
        image_size: side of the square images (at least 32).
        classes: subset (and order) of :data:`SHAPES_CLASSES` to draw.
        seed: the generator is deterministic for a given seed.

    Returns:
        A :class:`Shapes` (images, labels, masks, class names, face parts and radii).
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
            cv2.line(img, tuple(int(v) for v in p0), tuple(int(v) for v in p1), col, 1, cv2.LINE_AA)
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
            offsets = {
                "left_eye": (-0.38 * r, -0.28 * r),
                "right_eye": (0.38 * r, -0.28 * r),
                "mouth": (0.0, 0.42 * r),
            }
            for part, off in offsets.items():
                xy = _rot(np.array([off]), angle)[0] + centre
                parts[part][i] = (xy[1], xy[0])
                if part == "mouth":
                    axes = (int(0.4 * r * scale), int(0.13 * r * scale))
                    cv2.ellipse(
                        img,
                        tuple(int(v) for v in np.round(xy * scale)),
                        axes,
                        float(np.rad2deg(angle)),
                        0,
                        360,
                        inv,
                        -1,
                        cv2.LINE_AA,
                        shift,
                    )
                else:
                    cv2.circle(
                        img,
                        tuple(int(v) for v in np.round(xy * scale)),
                        int(er * scale),
                        inv,
                        -1,
                        cv2.LINE_AA,
                        shift,
                    )
            part_radius[i] = er
        images[i] = img
        masks[i] = m.astype(bool)
    return Shapes(images, labels, masks, list(classes), parts, part_radius, radii)
