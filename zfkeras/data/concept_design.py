"""The design of the concept world (:func:`zfkeras.data.concepts`): its named colours and
textures, the parts that recur across classes, and each class drawn as a body and parts.

A part is layers of polygons in part units, each with a colour slot (0 = main, 1 =
secondary); a class is body polygons (object-radius units, y down) and parts placed by
``(name, x, y, size, angle_deg)``. :data:`CLASS_DESIGNS` and :data:`LONE_PARTS` hold them
compiled (:func:`compile_design`) for drawing.
"""

from __future__ import annotations

import numpy as np

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 60, 220),
    "yellow": (240, 220, 30),
    "white": (240, 240, 240),
    "black": (20, 20, 20),
    "orange": (245, 140, 20),
    "purple": (130, 40, 170),
    "cyan": (40, 210, 220),
    "pink": (245, 140, 190),
    "brown": (120, 70, 30),
    "grey": (128, 128, 128),
}
NOISE = 6  # every channel of a palette-painted pixel lies within +-NOISE of its palette RGB
TEXTURES = (
    "plain",
    "stripes-horizontal",
    "stripes-vertical",
    "stripes-diagonal",
    "dots",
    "checker",
)
PARTS = ("eye", "mouth", "ear", "wheel", "window", "door", "handle")
CONCEPT_CLASSES = ("face", "cat", "robot", "car", "bus", "house", "mug", "cupboard", "suitcase")
PALETTE_RGB = np.array([(0, 0, 0)] + list(PALETTE.values()), np.uint8)  # row = colour label


def arc(cx, cy, rx, ry, a0=0.0, a1=360.0, k=28) -> np.ndarray:
    a = np.deg2rad(np.linspace(a0, a1, k, endpoint=(a1 - a0) < 360))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1)


def rect(x0, y0, x1, y1) -> np.ndarray:
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], float)


def annulus(ro, ri, a0, a1) -> np.ndarray:
    return np.concatenate([arc(0, 0, ro, ro, a0, a1, 16), arc(0, 0, ri, ri, a1, a0, 16)])


# A part: layers (polygon in part units, colour slot: 0 = main, 1 = secondary).
_PART_LAYERS = {
    "eye": [(arc(0, 0, 1, 1), 0), (arc(0, 0, 0.45, 0.45), 1)],
    "mouth": [(arc(0, -0.25, 1, 0.6, 0, 180, 16), 0)],  # a smile: lower half-ellipse
    "ear": [(np.array([(-0.75, 0.6), (0, -1), (0.75, 0.6)]), 0)],
    "wheel": [(arc(0, 0, 1, 1), 0), (arc(0, 0, 0.4, 0.4), 1)],
    "window": [
        (rect(-1, -0.8, 1, 0.8), 0),
        (rect(-0.9, -0.1, 0.9, 0.1), 1),
        (rect(-0.1, -0.7, 0.1, 0.7), 1),
    ],
    "door": [(rect(-0.5, -1, 0.5, 1), 0)],
    "handle": [(annulus(1, 0.55, -90, 90), 0)],  # a loop opening to the left
}
# Size of a lone (distractor) part, in object-radius units.
_LONE_SIZE = {
    "eye": 0.2,
    "mouth": 0.4,
    "ear": 0.4,
    "wheel": 0.28,
    "window": 0.2,
    "door": 0.42,
    "handle": 0.4,
}
# A class: body polygons (object-radius units, y down) and parts (name, x, y, size, angle_deg).
_CLASS_SPECS = {
    "face": (
        [arc(0, 0, 1, 1)],
        [("eye", -0.38, -0.22, 0.2, 0), ("eye", 0.38, -0.22, 0.2, 0), ("mouth", 0, 0.45, 0.42, 0)],
    ),
    "cat": (
        [arc(0, 0.05, 0.9, 0.9)],
        [
            ("ear", -0.55, -0.85, 0.42, -15),
            ("ear", 0.55, -0.85, 0.42, 15),
            ("eye", -0.35, -0.1, 0.2, 0),
            ("eye", 0.35, -0.1, 0.2, 0),
        ],
    ),
    "robot": (
        [rect(-0.8, -0.7, 0.8, 0.6)],
        [
            ("ear", -0.5, -0.9, 0.3, 0),
            ("ear", 0.5, -0.9, 0.3, 0),
            ("eye", -0.35, -0.3, 0.2, 0),
            ("eye", 0.35, -0.3, 0.2, 0),
            ("mouth", 0, 0.2, 0.38, 0),
            ("wheel", -0.5, 0.75, 0.25, 0),
            ("wheel", 0.5, 0.75, 0.25, 0),
        ],
    ),
    "car": (
        [
            rect(-1.1, -0.15, 1.1, 0.45),
            np.array([(-0.7, -0.15), (-0.4, -0.65), (0.45, -0.65), (0.75, -0.15)]),
        ],
        [
            ("window", -0.25, -0.38, 0.18, 0),
            ("window", 0.25, -0.38, 0.18, 0),
            ("wheel", -0.6, 0.45, 0.3, 0),
            ("wheel", 0.6, 0.45, 0.3, 0),
        ],
    ),
    "bus": (
        [rect(-1.2, -0.6, 1.2, 0.45)],
        [
            ("window", -0.85, -0.25, 0.2, 0),
            ("window", -0.35, -0.25, 0.2, 0),
            ("window", 0.15, -0.25, 0.2, 0),
            ("door", 0.8, -0.05, 0.42, 0),
            ("wheel", -0.7, 0.45, 0.27, 0),
            ("wheel", 0.25, 0.45, 0.27, 0),
        ],
    ),
    "house": (
        [rect(-0.75, -0.3, 0.75, 0.9), np.array([(-1.0, -0.3), (0, -1.1), (1.0, -0.3)])],
        [("window", -0.42, 0.02, 0.2, 0), ("window", 0.42, 0.02, 0.2, 0), ("door", 0, 0.6, 0.3, 0)],
    ),
    "mug": ([rect(-0.75, -0.75, 0.3, 0.75)], [("handle", 0.3, 0, 0.45, 0)]),
    "cupboard": (
        [rect(-0.7, -0.75, 0.7, 0.75)],
        [
            ("door", -0.35, 0, 0.6, 0),
            ("door", 0.35, 0, 0.6, 0),
            ("handle", -0.26, 0, 0.2, 0),
            ("handle", 0.1, 0, 0.2, 0),
        ],
    ),
    "suitcase": (
        [rect(-1.0, -0.45, 1.0, 0.6)],
        [
            ("handle", 0, -0.45, 0.4, -90),
            ("wheel", -0.7, 0.68, 0.16, 0),
            ("wheel", 0.7, 0.68, 0.16, 0),
        ],
    ),
}


def place(pts: np.ndarray, x: float, y: float, size: float, angle: float) -> np.ndarray:
    a = np.deg2rad(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return pts @ rot.T * size + (x, y)


def compile_design(body, parts) -> tuple:
    """Class spec -> (body polygons, layers (poly, part label, part-type slot, colour slot),
    extent radius, all layer points stacked, split indices)."""
    kinds = list(dict.fromkeys(p[0] for p in parts))
    layers = [
        (place(poly, x, y, size, ang), PARTS.index(name) + 1, kinds.index(name), slot)
        for name, x, y, size, ang in parts
        for poly, slot in _PART_LAYERS[name]
    ]
    extent = max(np.hypot(*np.concatenate([*body] + [ly[0] for ly in layers]).T))
    points = np.concatenate([ly[0] for ly in layers])
    splits = np.cumsum([len(ly[0]) for ly in layers])[:-1]
    return body, layers, float(extent), points, splits


CLASS_DESIGNS = {name: compile_design(*spec) for name, spec in _CLASS_SPECS.items()}
LONE_PARTS = {name: compile_design([], [(name, 0, 0, _LONE_SIZE[name], 0)]) for name in PARTS}
