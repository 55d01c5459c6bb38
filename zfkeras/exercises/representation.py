"""Exercises of chapters 13 and 15: invariance, fooling images, correspondence of parts.

References: NumPy loops and Keras pooling (Zeiler & Fergus 2014, Sec. 4.2-4.3, Fig. 5 and 8,
Table 1; Szegedy et al. 2014).
"""

from __future__ import annotations

import numpy as np

from zfkeras.exercises.compare import (
    array,
    close_array,
    close_number,
    each_case,
    function,
    rng,
    tiny_cnn,
)
from zfkeras.exercises.registry import exercise

# --- 13 · invariance -----------------------------------------------------------------------


@exercise(
    "13.1",
    "Implement fool(model, images, target, eps): a change of at most eps per pixel that makes "
    "the model answer `target`",
    "Measure your image's largest change from the original and the class the model gives it: "
    "which of the two fails?",
    "Take many small steps that raise the target's score over the others', and after every "
    "step pull the change back inside the allowed box around the original image (Szegedy et "
    "al. 2014; Goodfellow et al. 2015).",
)
def _(answer):
    fn = function(answer, "fool(model, images, target, eps) -> images")
    model, eps = tiny_cnn(head="flatten"), 0.1
    image = rng(seed=131).uniform(size=(1, 12, 12, 3)).astype("float32")
    before = int(np.argmax(model(image)[0]))
    target = (before + 1) % 4
    fooled = array(
        fn(tiny_cnn(head="flatten"), image.copy(), target, eps), image.shape, what="fooled image"
    )
    change = np.abs(fooled - image).max()
    if change > eps + 1e-6:
        return False, f"the largest change is {change:.4g}, more than eps = {eps}"
    after = int(np.argmax(model(fooled.astype("float32"))[0]))
    if after != target:
        return False, f"the model still answers {after} (was {before}), not the target {target}"
    return True, f"class {before} -> {target} with a largest change of {change:.3g} <= {eps}"


@exercise(
    "13.2",
    "Implement shift(image, dx, dy, fill): translate right by dx and down by dy, filling the gap",
    "Look at the column that entered at the left after a shift to the right: what should it hold?",
    "A translation has no wrap-around: pixels that leave the frame are gone, the gap takes the "
    "fill value, and negative shifts go left and up.",
)
def _(answer):
    fn = function(answer, "shift(image, dx, dy, fill) -> same shape")
    image = rng(seed=132).normal(size=(6, 8, 3))

    def compare(case):
        dx, dy = case
        expected = np.full(image.shape, 0.5)
        for r in range(6):
            for c in range(8):
                if 0 <= r - dy < 6 and 0 <= c - dx < 8:
                    expected[r, c] = image[r - dy, c - dx]
        return close_array(fn(image.copy(), dx, dy, 0.5), expected, what=f"shift {case}")

    return each_case([(2, 0), (0, 1), (-3, 2)], compare)


@exercise(
    "13.3",
    "What share of 2x2 max-pooled values changes when the input moves one pixel right?",
    "Pool both maps of the cell and compare them value by value; a share lies between 0 and 1.",
    "Pooling is invariant only to shifts that keep each window's maximum inside the window: "
    "count the windows whose maximum changes.",
)
def _(answer):
    x = rng(seed=0).normal(size=(9, 9))

    def pool(m):
        return np.array(
            [[m[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].max() for j in range(4)] for i in range(4)]
        )

    share = float(np.mean(pool(x[:8, :8]) != pool(x[:8, 1:])))
    return close_number(answer, share, atol=0.01, what="share changed", reveal=False)


# --- 15 · correspondence -------------------------------------------------------------------


def consistency_reference(eps: np.ndarray) -> float:
    """Mean over pairs i < j of the share of features whose signs differ."""
    signs = np.sign(eps)
    pairs = [(i, j) for i in range(len(eps)) for j in range(i + 1, len(eps))]
    return float(np.mean([np.mean(signs[i] != signs[j]) for i, j in pairs]))


@exercise(
    "15.1",
    "Implement consistency(eps): the paper's Delta, the mean sign disagreement over image pairs",
    "Check which pairs you average over, and how you compare a feature that did not change "
    "at all (ReLU features are often exactly zero).",
    "For every pair of distinct images compare the signs of their feature changes (zero is a "
    "sign of its own), take the share of features that disagree, and average over the pairs, "
    "never pairing an image with itself.",
)
def _(answer):
    fn = function(answer, "consistency(eps) -> float")
    gen = rng(seed=151)
    before = np.maximum(gen.normal(size=(6, 40)), 0)  # ReLU features: many exact zeros
    eps = np.maximum(gen.normal(size=(6, 40)) - 0.3, 0) - before  # zero where both are zero
    return close_number(fn(eps.copy()), consistency_reference(eps), what="Delta")


@exercise(
    "15.2",
    "Implement occlude(image, row, col, size, fill): a grey square centred on (row, col)",
    "Try an even size and a centre at the image's edge: where does your square start?",
    "The square starts half its size (rounded down) above and left of the centre and is "
    "clipped at the edges without moving its start.",
)
def _(answer):
    fn = function(answer, "occlude(image, row, col, size, fill) -> same shape")
    image = rng(seed=152).normal(size=(10, 9, 3))

    def compare(case):
        row, col, size = case
        expected = image.copy()
        for r in range(row - size // 2, row - size // 2 + size):
            for c in range(col - size // 2, col - size // 2 + size):
                if 0 <= r < 10 and 0 <= c < 9:
                    expected[r, c] = 0.5
        return close_array(fn(image.copy(), row, col, size, 0.5), expected, what=f"at {case}")

    return each_case([(5, 4, 3), (0, 8, 4), (9, 1, 5)], compare)


@exercise(
    "15.3",
    "What Delta do you expect when every feature's sign is a fair coin flip?",
    "Flip two fair coins: how often do they differ?",
    "Two independent fair signs differ half the time, whatever the pair, so the average "
    "over pairs is the same.",
)
def _(answer):
    signs = rng(seed=153).choice([-1.0, 1.0], size=(5, 20000))
    return close_number(answer, consistency_reference(signs), atol=0.02, what="Delta", reveal=False)
