"""Exercises of chapters 09-11: Grad-CAM, occlusion sensitivity, deletion curves, sanity
checks.

References are ``tf.GradientTape`` on a tiny seeded model built for each check, and plain
loops over positions and pixels (Selvaraju et al. 2017; Zeiler & Fergus 2014, Sec. 4.2 and
Fig. 7; Petsiuk et al. 2018; Adebayo et al. 2018).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from zfkeras.exercises.compare import (
    Wrong,
    close_array,
    close_number,
    each_case,
    function,
    layer_model,
    rng,
    tiny_cnn,
)
from zfkeras.exercises.registry import exercise

# --- 09 · Grad-CAM -------------------------------------------------------------------------


@exercise(
    "09.1",
    "Implement channel_weights(model, images, layer, class_index): Grad-CAM's alpha_k",
    "Check three things: which score you differentiate (this model ends in a softmax), with "
    "respect to which tensor, and over which axes you average.",
    "Grad-CAM differentiates the class score before the softmax with respect to the layer's "
    "maps, then averages that gradient over every position of the map: one weight per "
    "channel. With a flattening head the gradient differs from position to position.",
)
def _(answer):
    fn = function(answer, "channel_weights(model, images, layer, class_index) -> (channels,)")
    reference = tiny_cnn(seed=9, head="flatten", softmax=True)
    images = rng(seed=91).uniform(size=(1, 12, 12, 3)).astype("float32")
    maps = layer_model(reference, "conv2")(images)
    head = reference.get_layer("logits")
    kernel, bias = (tf.constant(w) for w in head.get_weights())

    def compare(class_index):
        with tf.GradientTape() as tape:
            tape.watch(maps)
            flat = tf.reshape(maps, (1, -1))
            score = (flat @ kernel + bias)[0, class_index]  # the logit, before the softmax
        g = tape.gradient(score, maps).numpy()[0]
        expected = g.reshape(-1, g.shape[-1]).mean(axis=0)
        model = tiny_cnn(seed=9, head="flatten", softmax=True)
        got = fn(model, images.copy(), "conv2", class_index)
        return close_array(got, expected, atol=1e-6, what=f"alpha for class {class_index}")

    return each_case([1, 3], compare)


@exercise(
    "09.2",
    "Implement cam(maps, weights): the Grad-CAM map from the maps and the channel weights",
    "Look at the sign of the entry the message names: can your map be negative there?",
    "Weigh each channel's map by its weight, add them up over the channels, and keep only "
    "the positive part: only the evidence for the class is drawn.",
)
def _(answer):
    fn = function(answer, "cam(maps, weights) -> (H, W)")
    gen = rng(seed=92)
    maps, weights = np.maximum(gen.uniform(size=(6, 7, 5)) - 0.5, 0), gen.normal(size=5)
    expected = np.zeros((6, 7))
    for k in range(5):
        expected += weights[k] * maps[:, :, k]
    return close_array(fn(maps.copy(), weights.copy()), np.maximum(expected, 0), what="map")


def _pointing_cases():
    """Saliency maxima near masks at distances that only the tolerance decides."""
    gen = rng(seed=93)
    cases = []
    # (mask pixels, tolerance): the maximum sits at (2, 9) of a 10x14 map
    layouts = [
        ([(2, 9)], 0),  # on the mask
        ([(4, 9)], 1),  # two rows away: a miss with tolerance 1
        ([(4, 9)], 2),  # a hit with tolerance 2
        ([(3, 11)], 1),  # one row, two columns: both must be within the tolerance
        ([(4, 11)], 2),  # two and two: a hit (not a Euclidean distance)
        ([(9, 2)], 2),  # the transposed position: far away
        ([(7, 0), (7, 1)], 2),
    ]
    for pixels, tol in layouts:
        saliency = gen.uniform(size=(10, 14))
        saliency[2, 9] = 2.0
        mask = np.zeros((10, 14), dtype=bool)
        for r, c in pixels:
            mask[r, c] = True
        cases.append((saliency, mask, tol))
    return cases


@exercise(
    "09.3",
    "Implement pointing_hit(saliency, mask, tolerance): does the map's maximum hit the object?",
    "The message gives the tolerance of the case that differs: measure by hand how far the "
    "nearest mask pixel is from the maximum, in rows and in columns.",
    "Find the row and column of the saliency maximum; it hits when some mask pixel lies at "
    "most `tolerance` rows and at most `tolerance` columns away (a square window around the "
    "maximum, edges included).",
)
def _(answer):
    fn = function(answer, "pointing_hit(saliency, mask, tolerance) -> bool")

    def compare(case):
        saliency, mask, tol = case
        r, c = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
        rows, cols = np.nonzero(mask)
        expected = bool(np.any((abs(rows - r) <= tol) & (abs(cols - c) <= tol)))
        got = fn(saliency.copy(), mask.copy(), tol)
        if not isinstance(got, (bool, np.bool_)):
            raise Wrong(f"return True or False, got {got!r}"[:200])
        return bool(got) == expected, f"expected {expected}, got {bool(got)} (tolerance {tol})"

    return each_case(_pointing_cases(), compare)


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
    "Compare the shape of your map with the message's, then check the last position of the "
    "square in one row: does it still fit inside the image?",
    "The square starts at the top-left corner and moves one stride at a time for as long as "
    "it fits entirely inside the image, in rows and in columns; it covers every channel.",
)
def _(answer):
    fn = function(answer, "occlusion_map(score, image, size, stride, fill) -> (rows, cols)")
    gen = rng(seed=101)
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
    "List the positions of the square's top edge along one side: where is the last one that "
    "still fits?",
    "Count the positions where the whole square fits along one side, first position "
    "included, and combine the two sides: the cost grows with the square of that count.",
)
def _(answer):
    spots = [top for top in range(32) if top + 12 <= 32 and top % 5 == 0]
    return close_number(answer, len(spots) ** 2, atol=0.5, what="forward passes", reveal=False)


@exercise(
    "10.3",
    "Logits (12, 0, 0): by how much does class 0's probability fall when its logit drops by 2?",
    "Compute the probability of class 0 before and after the drop and subtract; the answer "
    "is small.",
    "A saturated probability barely moves when its logit drops: an occlusion map drawn on the "
    "probability can look blank while the logit falls.",
)
def _(answer):
    def p0(logits):
        e = np.exp(np.asarray(logits, dtype=np.float64) - max(logits))
        return e[0] / e.sum()

    return close_number(
        answer, p0([12, 0, 0]) - p0([10, 0, 0]), rtol=0.02, what="drop", reveal=False
    )


# --- 11 · trust the deconvnet (sanity checks) ----------------------------------------------


@exercise(
    "11.1",
    "Implement deletion_curve(score, image, saliency, steps, fill): remove the most salient first",
    "Check the first score (the intact image) and the order you delete in: the message gives "
    "the step that differs.",
    "Rank the pixels by saliency, most salient first; after each step a further equal share "
    "of the pixels (all channels) takes the fill value, and the curve starts with the intact "
    "image and ends with none left.",
)
def _(answer):
    fn = function(answer, "deletion_curve(score, image, saliency, steps, fill) -> (steps + 1,)")
    gen = rng(seed=111)
    image, weights = gen.uniform(size=(6, 7, 3)), gen.normal(size=(6, 7, 3))
    saliency, score = gen.uniform(size=(6, 7)), linear_score(weights)
    ranked = sorted(range(42), key=lambda p: -saliency.flat[p])
    expected = []
    for t in range(5):
        current = image.copy()
        for p in ranked[: t * 42 // 4]:
            current[p // 7, p % 7] = 0.25
        expected.append(score(current[None])[0])
    return close_array(
        fn(score, image.copy(), saliency.copy(), 4, 0.25), np.array(expected), what="deletion curve"
    )


@exercise(
    "11.2",
    "Implement auc(curve): the area under a curve sampled at equally spaced points on [0, 1]",
    "How far apart are the sample points on [0, 1] for the curve lengths in the message, and "
    "does your rule give the right area for a constant curve?",
    "The trapezoid rule: each interval between neighbouring samples contributes the average "
    "of its two ends times its width, and the points split [0, 1] into one fewer interval "
    "than there are samples.",
)
def _(answer):
    fn = function(answer, "auc(curve) -> float")

    def compare(n):
        curve = np.sort(rng(seed=112 + n).uniform(size=n))[::-1].copy()
        h = 1 / (n - 1)
        expected = sum(h * (a + b) / 2 for a, b in zip(curve[:-1], curve[1:]))
        return close_number(fn(curve.copy()), expected, what=f"area ({n} points)")

    return each_case([5, 11], compare)


@exercise(
    "11.3",
    "Implement rank_correlation(a, b): Spearman's correlation of two maps (the randomization test)",
    "A monotone but curved relation should give a value near one: does yours?",
    "Spearman's correlation is Pearson's correlation of the ranks: replace every value of "
    "each flattened map by its position in sorted order, then correlate those.",
)
def _(answer):
    fn = function(answer, "rank_correlation(a, b) -> float")
    gen = rng(seed=113)
    a = gen.normal(size=(8, 8))
    b = np.exp(2 * a) + gen.normal(scale=0.5, size=(8, 8))
    ra, rb = (np.argsort(np.argsort(v.ravel())).astype(float) for v in (a, b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    expected = float(np.sum(ra * rb) / np.sqrt(np.sum(ra**2) * np.sum(rb**2)))
    return close_number(fn(a.copy(), b.copy()), expected, atol=1e-6, what="Spearman")
