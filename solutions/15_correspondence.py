"""Solutions to chapter 15's exercises (the consistency Delta, occluding parts, its baseline),
and the mistakes they catch."""

import itertools

import numpy as np


def consistency(eps):
    signs = np.sign(eps)
    pairs = itertools.combinations(range(len(eps)), 2)
    return float(np.mean([np.mean(signs[i] != signs[j]) for i, j in pairs]))


def occlude(image, row, col, size, fill):
    out = image.copy()
    top, left = max(row - size // 2, 0), max(col - size // 2, 0)
    out[top : row - size // 2 + size, left : col - size // 2 + size] = fill
    return out


def _occlude_moved_inside(image, row, col, size, fill):
    h, w = image.shape[:2]
    top = min(max(row - size // 2, 0), h - size)
    left = min(max(col - size // 2, 0), w - size)
    out = image.copy()
    out[top : top + size, left : left + size] = fill
    return out


ANSWERS = {"15.1": consistency, "15.2": occlude, "15.3": 0.5}

MISTAKES = {
    "15.1": [
        lambda eps: float(np.mean(np.sign(eps)[:, None] != np.sign(eps)[None])),  # i = j included
        lambda eps: consistency(np.where(eps > 0, 1.0, -1.0)),  # a zero change taken as negative
        lambda eps: consistency(eps) * eps.shape[1],  # a count of features, not a share
    ],
    "15.2": [
        lambda image, row, col, size, fill: occlude(
            image, row + size // 2, col + size // 2, size, fill
        ),  # (row, col) taken as the corner, not the centre
        lambda image, row, col, size, fill: occlude(
            image, row - (size - 1) // 2 + size // 2, col - (size - 1) // 2 + size // 2, size, fill
        ),  # an even square's half rounded the other way
        _occlude_moved_inside,  # the square moved inside the image instead of clipped
    ],
    "15.3": [
        0.0,  # random signs taken to agree
        1.0,  # random signs taken to always differ
        0.25,  # both coins must come up a given way
    ],
}
