"""Exercises of chapters 10-11: occlusion sensitivity, deletion curves, sanity checks.

References are plain loops over positions and pixels (Zeiler & Fergus 2014, Sec. 4.2 and
Fig. 7; Petsiuk et al. 2018; Adebayo et al. 2018).
"""

from __future__ import annotations

import numpy as np

from zfkeras.exercises.compare import (
    Wrong,
    close_array,
    close_number,
    each_case,
    function,
    rng,
)
from zfkeras.exercises.registry import exercise


def linear_score(weights: np.ndarray):
    """A cheap stand-in for a network's class score: ``images (N, H, W, C) -> (N,)``."""

    def score(images):
        images = np.asarray(images, dtype=np.float64)
        if images.ndim != 4 or images.shape[1:] != weights.shape:
            raise Wrong(f"score takes a batch of shape (N, *{weights.shape}), got {images.shape}")
        return np.tensordot(images, weights, axes=3)

    return score


# --- 10 · occlusion ------------------------------------------------------------------------


@exercise(
    "10.1",
    "Implement occlusion_map(score, image, size, stride, fill): the class score per occluder spot",
    "Positions top = 0, stride, ... while top + size <= H (same for columns): "
    "(H - size) // stride + 1 of them; the square covers every channel.",
)
def _(answer):
    fn = function(answer, "occlusion_map(score, image, size, stride, fill) -> (rows, cols)")
    gen = rng(101)
    image, weights = gen.uniform(size=(10, 12, 3)), gen.normal(size=(10, 12, 3))
    score = linear_score(weights)

    def compare(case):
        size, stride = case
        rows, cols = (10 - size) // stride + 1, (12 - size) // stride + 1
        expected = np.zeros((rows, cols))
        for i in range(rows):
            for j in range(cols):
                occluded = image.copy()
                occluded[i * stride : i * stride + size, j * stride : j * stride + size] = 0.5
                expected[i, j] = score(occluded[None])[0]
        got = fn(score, image.copy(), size, stride, 0.5)
        return close_array(got, expected, what=f"map for size {size}, stride {stride}")

    return each_case([(4, 2), (3, 3), (5, 1)], compare)


@exercise(
    "10.2",
    "How many forward passes does occlusion take on a 32x32 image, a 12 px square, stride 5?",
    "Count the positions where the whole square fits, per side, then square the count.",
)
def _(answer):
    spots = [top for top in range(32) if top + 12 <= 32 and top % 5 == 0]
    return close_number(answer, len(spots) ** 2, atol=0.5, what="forward passes")


@exercise(
    "10.3",
    "Logits (12, 0, 0): by how much does class 0's probability fall when its logit drops by 2?",
    "Compute softmax before and after: a saturated probability barely moves, which is why an "
    "occlusion map on the probability can look blank while the logit drops.",
)
def _(answer):
    def p0(logits):
        e = np.exp(np.asarray(logits, dtype=np.float64) - max(logits))
        return e[0] / e.sum()

    return close_number(answer, p0([12, 0, 0]) - p0([10, 0, 0]), rtol=0.02, what="drop")


# --- 11 · trust the deconvnet (sanity checks) ----------------------------------------------


@exercise(
    "11.1",
    "Implement deletion_curve(score, image, saliency, steps, fill): remove the most salient first",
    "After t of `steps` steps the (t * H * W) // steps most salient pixels (all channels) are "
    "set to fill; the curve starts with the intact image (steps + 1 scores).",
)
def _(answer):
    fn = function(answer, "deletion_curve(score, image, saliency, steps, fill) -> (steps + 1,)")
    gen = rng(111)
    image, weights = gen.uniform(size=(6, 7, 3)), gen.normal(size=(6, 7, 3))
    saliency, score = gen.uniform(size=(6, 7)), linear_score(weights)
    ranked = sorted(range(42), key=lambda p: -saliency.flat[p])
    expected = []
    for t in range(5):
        current = image.copy()
        for p in ranked[: t * 42 // 4]:
            current[p // 7, p % 7] = 0.0
        expected.append(score(current[None])[0])
    return close_array(
        fn(score, image.copy(), saliency.copy(), 4, 0.0), np.array(expected), what="deletion curve"
    )


@exercise(
    "11.2",
    "Implement auc(curve): the area under a curve sampled at equally spaced points on [0, 1]",
    "The trapezoid rule: mean of neighbouring values times the spacing 1 / (len(curve) - 1).",
)
def _(answer):
    fn = function(answer, "auc(curve) -> float")

    def compare(n):
        curve = np.sort(rng(112 + n).uniform(size=n))[::-1].copy()
        h = 1 / (n - 1)
        expected = sum(h * (a + b) / 2 for a, b in zip(curve[:-1], curve[1:]))
        return close_number(fn(curve.copy()), expected, what=f"area ({n} points)")

    return each_case([5, 11], compare)


@exercise(
    "11.3",
    "Implement rank_correlation(a, b): Spearman's correlation of two maps (the randomization test)",
    "Replace each flattened value by its rank (0, 1, ...), then take Pearson's correlation of "
    "the ranks.",
)
def _(answer):
    fn = function(answer, "rank_correlation(a, b) -> float")
    gen = rng(113)
    a = gen.normal(size=(8, 8))
    b = np.exp(2 * a) + gen.normal(scale=0.5, size=(8, 8))
    ra, rb = (np.argsort(np.argsort(v.ravel())).astype(float) for v in (a, b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    expected = float(np.sum(ra * rb) / np.sqrt(np.sum(ra**2) * np.sum(rb**2)))
    return close_number(fn(a.copy(), b.copy()), expected, atol=1e-6, what="Spearman")
