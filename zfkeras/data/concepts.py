"""Concept world: synthetic images with ground truth at four levels (colour, texture, part, object).

Each image holds one object of a class (face, cat, robot, car, bus, house, mug, cupboard,
suitcase) built from parts that recur across classes (eyes in face/cat/robot, wheels in
robot/car/bus/suitcase, windows in car/bus/house, doors in bus/house/cupboard, handles in
mug/cupboard/suitcase, ears in cat/robot, mouths in face/robot), so a part detector is not a
class detector. Objects vary in position, scale, rotation, mirror, colour and texture; the
background is a smooth random field with thin clutter lines, textured regions and a few
isolated distractor parts. Per-pixel label maps give the ground truth at the four levels used
to name what a unit detects (Bau et al. 2017, "Network Dissection"; the paper's figure 2 names
units by eye at the same levels).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import cv2
import numpy as np

from zfkeras.data.concept_design import (
    CLASS_DESIGNS,
    CONCEPT_CLASSES,
    LONE_PARTS,
    NOISE,
    PALETTE,
    PALETTE_RGB,
    PARTS,
    TEXTURES,
    arc,
    rect,
)

_SHIFT = 4  # fixed-point bits for sub-pixel polygon vertices


@dataclass(frozen=True)
class ConceptWorld:
    """What :func:`concepts` returns: ``n`` images of side ``S`` with ground truth at four
    levels.

    Attributes:
        images: uint8 ``(n, S, S, 3)``.
        labels: int32 ``(n,)``, indices into ``class_names``.
        class_names: the ``C`` class names.
        concept_maps: ``colour``/``texture``/``part``/``object`` -> uint8 ``(n, S, S)`` label
            maps, 0 = none.
        concept_names: the same keys -> list of names, index 0 ``"none"``; object index =
            class index + 1.
        palette: colour name -> RGB tuple.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    concept_maps: dict[str, np.ndarray]
    concept_names: dict[str, list[str]]
    palette: dict[str, tuple[int, int, int]]


# ----------------------------------------------------------------------------- drawing
def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _pattern(tex: int, rng: np.random.Generator, grid, sc: float, cache: dict):
    """Boolean (S, S) pattern of texture index ``tex`` (1-based into TEXTURES), True = colour 1
    (``True`` for plain). Period and phase are random; patterns are cached per call."""
    kind = TEXTURES[tex - 1]
    if kind == "plain":
        return True
    w = max(2, round(int(rng.integers(3, 6)) * sc))
    ph = int(rng.integers(0, 4 * w))
    key = (kind, w, ph)
    if key not in cache:
        yy, xx = grid
        if kind.startswith("stripes"):
            coord = {"stripes-horizontal": yy, "stripes-vertical": xx}.get(kind, yy + xx)
            cache[key] = ((coord + ph) // w) % 2 == 0
        elif kind == "checker":
            cache[key] = (((yy + ph) // w + (xx + ph // 2) // w) % 2) == 0
        else:  # dots: discs of radius ~0.3 period on a square lattice
            p = 2 * w + 1
            dy, dx = (yy + ph) % p - p // 2, (xx + ph // 2) % p - p // 2
            cache[key] = dy * dy + dx * dx <= (0.32 * p) ** 2
    return cache[key]


class _Canvas:
    """The four label maps of one image, drawn in place with cv2."""

    def __init__(self, maps: dict, i: int, s: int):
        self.col, self.tex = maps["colour"][i], maps["texture"][i]
        self.part, self.obj = maps["part"][i], maps["object"][i]
        self.tmp = np.zeros((s, s), np.uint8)

    def textured(self, polys, tex: int, pattern, c1: int, c2: int, obj: int | None):
        """Polygons filled with a two-colour texture: colour c1 where pattern, else c2
        (pattern ``True``: plain c1). Part label is reset to 0; object label set if given."""
        polys = [np.round(p * (1 << _SHIFT)).astype(np.int32) for p in polys]
        maps = [(self.tex, tex), (self.part, 0)] + ([] if obj is None else [(self.obj, obj)])
        if pattern is True or c1 == c2:
            maps.append((self.col, c1))
        else:
            self.tmp[:] = 0
            for poly in polys:  # one call per polygon: fillPoly XORs overlapping contours
                cv2.fillPoly(self.tmp, [poly], 1, cv2.LINE_8, _SHIFT)
            np.copyto(
                self.col, np.where(pattern, np.uint8(c1), np.uint8(c2)), where=self.tmp.view(bool)
            )
        for m, v in maps:
            for poly in polys:
                cv2.fillPoly(m, [poly], v, cv2.LINE_8, _SHIFT)


def _transform(pts: np.ndarray, r: float, angle: float, flip: float, centre) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c * flip * r, s * flip * r], [-s * r, c * r]])
    return pts @ rot + centre


def _draw(cv: _Canvas, spec, r, angle, flip, centre, colours, obj: int | None):
    """Draw a compiled spec's part layers: colours[(part slot, colour slot)] -> colour label.

    Texture (plain) and object labels are drawn for the outer layers only (colour slot 0); the
    inner layers (pupil, hub, window bars) lie inside them."""
    layers, points, splits = spec[1], spec[3], spec[4]
    pts = np.round(_transform(points, r, angle, flip, centre) * (1 << _SHIFT)).astype(np.int32)
    for poly, (_, part, kind, slot) in zip(np.split(pts, splits), layers):
        maps = ((cv.col, colours[kind, slot]), (cv.part, part))
        if slot == 0:
            maps += ((cv.tex, 1),) if obj is None else ((cv.tex, 1), (cv.obj, obj))
        for m, v in maps:
            cv2.fillPoly(m, [poly], v, cv2.LINE_8, _SHIFT)


def _part_colours(rng, n_kinds: int, exclude) -> dict:
    pool = [c for c in range(1, len(PALETTE_RGB)) if c not in exclude]
    mains = rng.permutation(pool)[:n_kinds]
    out = {}
    for k, m in enumerate(mains):
        out[k, 0] = int(m)
        second = rng.integers(1, len(PALETTE_RGB) - 1)
        out[k, 1] = int(second + (second >= m))  # any colour but the main one
    return out


def concepts(n: int, *, image_size: int = 128, seed: int = 0) -> ConceptWorld:
    """Generate the concept world: one object per image, with colour/texture/part/object maps.

    Objects are drawn with hard edges from the named :data:`PALETTE`; textures are aligned with
    the image axes (a "stripes-horizontal" region has horizontal stripes whatever the object's
    rotation); parts are plain. A small per-pixel noise (uniform, at most :data:`NOISE` per
    channel) is added to the whole image, so every pixel with a colour label lies within
    ``NOISE`` of that palette RGB. Clutter (the smooth background field and thin lines) is not
    from the palette and has colour and texture label 0. Distractor parts lie outside the
    object's bounding circle and have a part label but object label 0.

    Args:
        n: number of images (int >= 1). Classes are balanced: ``arange(n) % C`` shuffled.
        image_size: side S of the square images, int >= 64.
        seed: int >= 0; the output is a deterministic function of ``(n, image_size, seed)``.

    Returns:
        A :class:`ConceptWorld` (images, labels, class names, the four label maps and their
        names, the palette).

    Raises:
        TypeError: if ``n``, ``seed`` or ``image_size`` is not an int.
        ValueError: if ``n < 1``, ``seed < 0`` or ``image_size < 64``.
    """
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    s = _check_int("image_size", image_size, 64)
    rng = np.random.default_rng(seed)
    sc = s / 128
    names = list(CONCEPT_CLASSES)
    labels = rng.permutation(np.arange(n) % len(names)).astype(np.int32)
    maps = {k: np.zeros((n, s, s), np.uint8) for k in ("colour", "texture", "part", "object")}
    images = np.empty((n, s, s, 3), np.uint8)
    noise = rng.integers(0, 2 * NOISE + 1, (2 * s, 2 * s, 3)).astype(np.uint8)
    grid, cache = np.mgrid[:s, :s].astype(np.int32), {}
    lut = np.zeros((256, 1, 3), np.uint8)
    lut[: len(PALETTE_RGB), 0] = PALETTE_RGB
    n_tex, n_col = len(TEXTURES), len(PALETTE)
    for i in range(n):
        cv = _Canvas(maps, i, s)
        base = cv2.resize(
            rng.integers(60, 190, (4, 4, 3)).astype(np.uint8),
            (s, s),
            interpolation=cv2.INTER_LINEAR,
        )
        for _ in range(rng.integers(2, 5)):  # textured background regions
            c = rng.uniform(0, s, 2)
            a, b = rng.uniform(0.12, 0.35, 2) * s
            kind = rng.integers(3)
            if kind == 0:
                poly = rect(-a, -b, a, b)
            elif kind == 1:
                poly = arc(0, 0, a, b)
            else:
                poly = np.array([(-a, b), (0, -b), (a, b)])
            c1, c2 = (int(v) + 1 for v in rng.choice(n_col, 2, replace=False))
            tex = int(rng.integers(1, n_tex + 1))
            cv.textured(
                [_transform(poly, 1, rng.uniform(0, np.pi), 1, c)],
                tex,
                _pattern(tex, rng, grid, sc, cache),
                c1,
                c2,
                None,
            )
        for _ in range(rng.integers(2, 5)):  # clutter lines, not from the palette
            p0, p1 = (tuple(int(v) for v in rng.integers(0, s, 2)) for _ in range(2))
            width = int(rng.integers(1, 3))
            cv2.line(base, p0, p1, tuple(int(v) for v in rng.integers(0, 256, 3)), width)
            for m in (cv.col, cv.tex):
                cv2.line(m, p0, p1, 0, width)
        label = int(labels[i])
        spec = CLASS_DESIGNS[names[label]]
        big = rng.uniform(0.3, 0.42) * s  # extent radius of the object
        r, angle = big / spec[2], np.deg2rad(rng.uniform(-30, 30))
        flip = 1.0 if rng.random() < 0.5 else -1.0
        centre = rng.uniform(big + 1, s - big - 1, 2)
        for _ in range(rng.integers(2, 5)):  # distractor parts, outside the object's circle
            part = PARTS[rng.integers(len(PARTS))]
            lone = LONE_PARTS[part]
            rd = rng.uniform(0.26, 0.42) * s / 1.3
            xy = rng.uniform(0, s, (8, 2))
            far = np.hypot(*(xy - centre).T) > big + lone[2] * rd + 3
            if far.any():
                _draw(
                    cv,
                    lone,
                    rd,
                    rng.uniform(-np.pi, np.pi),
                    1.0,
                    xy[np.argmax(far)],
                    _part_colours(rng, 1, ()),
                    None,
                )
        # body colours avoid the palette colours already painted around the object
        y0, x0 = (np.maximum(centre[::-1] - big, 0)).astype(int)
        seen = np.unique(cv.col[y0 : int(centre[1] + big) + 1, x0 : int(centre[0] + big) + 1])
        pool = sorted(set(range(1, n_col + 1)) - set(seen.tolist()))
        pool = pool if len(pool) >= 2 else list(range(1, n_col + 1))
        c1, c2 = (int(v) for v in rng.choice(pool, 2, replace=False))
        tex = int(rng.integers(1, n_tex + 1))
        body = [_transform(p, r, angle, flip, centre) for p in spec[0]]
        cv.textured(
            body, tex, _pattern(tex, rng, grid, sc, cache), c1, c2 if tex > 1 else c1, label + 1
        )
        n_kinds = 1 + max(ly[2] for ly in spec[1])
        _draw(cv, spec, r, angle, flip, centre, _part_colours(rng, n_kinds, (c1, c2)), label + 1)
        oy, ox = rng.integers(0, s, 2)
        cv2.copyTo(cv2.LUT(cv2.merge([cv.col] * 3), lut), cv.col, base)
        cv2.subtract(cv2.add(base, noise[oy : oy + s, ox : ox + s]), NOISE, images[i])
    return ConceptWorld(
        images,
        labels,
        names,
        maps,
        {
            "colour": ["none", *PALETTE],
            "texture": ["none", *TEXTURES],
            "part": ["none", *PARTS],
            "object": ["none", *names],
        },
        dict(PALETTE),
    )
