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
    "Implement fool(model, image, target, eps): a change of at most eps per pixel that makes "
    "the model answer `target`",
    "Iterate small signed-gradient steps up the target's logit (minus the others'), clipping "
    "the change to [-eps, eps] after each (Szegedy et al. 2014; Goodfellow et al. 2015).",
)
def _(answer):
    fn = function(answer, "fool(model, image, target, eps) -> image")
    model, eps = tiny_cnn(0, head="flatten"), 0.1
    image = rng(131).uniform(size=(1, 12, 12, 3)).astype("float32")
    before = int(np.argmax(model(image)[0]))
    target = (before + 1) % 4
    fooled = array(fn(model, image.copy(), target, eps), image.shape, what="the fooling image")
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
    "No wrap-around (np.roll would bring the right edge in at the left): pixels that leave the "
    "frame are gone, new ones take the fill value; negative shifts go left/up.",
)
def _(answer):
    fn = function(answer, "shift(image, dx, dy, fill) -> same shape")
    image = rng(132).normal(size=(6, 8, 3))

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
    "x = rng(0).normal(size=(9, 9)); compare max-pooling x[:8, :8] with x[:8, 1:]: pooling "
    "is invariant only to shifts that keep each maximum in its window.",
)
def _(answer):
    x = rng(0).normal(size=(9, 9))

    def pool(m):
        return np.array(
            [[m[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].max() for j in range(4)] for i in range(4)]
        )

    share = float(np.mean(pool(x[:8, :8]) != pool(x[:8, 1:])))
    return close_number(answer, share, atol=0.01, what="share changed")


# --- 15 · correspondence -------------------------------------------------------------------


def consistency_reference(eps: np.ndarray) -> float:
    """Mean over pairs i < j of the share of features whose signs differ."""
    signs = np.sign(eps)
    pairs = [(i, j) for i in range(len(eps)) for j in range(i + 1, len(eps))]
    return float(np.mean([np.mean(signs[i] != signs[j]) for i, j in pairs]))


@exercise(
    "15.1",
    "Implement consistency(eps): the paper's Delta, the mean sign disagreement over image pairs",
    "eps has shape (images, features); average the Hamming distance of sign(eps_i) and "
    "sign(eps_j) (as a share of the features) over pairs i < j only, never i = j.",
)
def _(answer):
    fn = function(answer, "consistency(eps) -> float")
    eps = rng(151).normal(loc=0.3, size=(5, 40))
    return close_number(fn(eps.copy()), consistency_reference(eps), what="Delta")


@exercise(
    "15.2",
    "Implement occlude(image, row, col, size, fill): a grey square centred on (row, col)",
    "Rows row - size // 2 to row - size // 2 + size (exclusive), the same for columns, clipped "
    "at the image's edges.",
)
def _(answer):
    fn = function(answer, "occlude(image, row, col, size, fill) -> same shape")
    image = rng(152).normal(size=(10, 9, 3))

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
    "Two independent fair signs differ half the time, whatever the pair.",
)
def _(answer):
    signs = rng(153).choice([-1.0, 1.0], size=(5, 20000))
    return close_number(answer, consistency_reference(signs), atol=0.02, what="Delta")
