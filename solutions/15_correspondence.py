"""Solutions to chapter 15's exercises (the consistency Delta, occluding parts, its baseline)."""

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


ANSWERS = {"15.1": consistency, "15.2": occlude, "15.3": 0.5}
