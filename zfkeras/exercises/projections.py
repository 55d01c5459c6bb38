"""Exercises of chapters 04-06: the deconvnet, top-9 patches, network dissection.

References: NumPy loops, Keras pooling layers and ``tf.GradientTape`` (Zeiler & Fergus 2014,
Sec. 2.1 and Fig. 2; Bau et al. 2017).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zfkeras.exercises.compare import (
    Wrong,
    array,
    close_array,
    close_number,
    each_case,
    function,
    names_used,
    rng,
)
from zfkeras.exercises.registry import exercise

# --- 04 · deconvnet ------------------------------------------------------------------------


def pool_reference(x: np.ndarray, size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling of x (H, W, C), 'valid', by loops: values and flat switches row * W + col."""
    h, w, c = x.shape
    rows, cols = (h - size) // stride + 1, (w - size) // stride + 1
    values, switches = np.zeros((rows, cols, c)), np.zeros((rows, cols, c), dtype=int)
    for i in range(rows):
        for j in range(cols):
            for k in range(c):
                window = x[i * stride : i * stride + size, j * stride : j * stride + size, k]
                r, s = np.unravel_index(int(np.argmax(window)), window.shape)
                values[i, j, k] = window[r, s]
                switches[i, j, k] = (i * stride + r) * w + j * stride + s
    return values, switches


@exercise(
    "04.1",
    "Implement unpool(values, switches, shape): put each value back where its maximum was",
    "Find the entry the message names and the switch that should carry a value there: is it "
    "missing, misplaced, or counted once where two windows share it?",
    "A switch is a flat position in one channel's map: split it into row and column with the "
    "map's width, send each value there in its own channel, leave zeros elsewhere, and let "
    "values of windows that share a maximum add up rather than overwrite each other.",
)
def _(answer):
    fn = function(answer, "unpool(values, switches, shape) -> (H, W, C)")

    def compare(seed):
        x = rng(seed=seed).normal(size=(9, 9, 3))
        values, switches = pool_reference(x, 3, 2)
        grad = rng(seed=seed + 1).normal(size=values.shape)
        expected = np.zeros(x.shape)
        for (i, j, k), v in np.ndenumerate(grad):
            r, s = divmod(int(switches[i, j, k]), x.shape[1])
            expected[r, s, k] += v
        return close_array(fn(grad.copy(), switches.copy(), x.shape), expected, what="unpooled map")

    return each_case([41, 42], compare)


@exercise(
    "04.2",
    "Implement max_pool_with_switches(x, size, stride) -> (values, switches), overlapping windows",
    "Compare the shape of your pooled map with the message's, then look at one window by hand: "
    "where does it start, and which flat position does its maximum get?",
    "Windows start one stride apart but are wider than the stride, so neighbours overlap and "
    "one input can win two windows; a switch records the maximum's position in the whole map "
    "(row times the map's width plus column), not inside its window.",
)
def _(answer):
    fn = function(answer, "max_pool_with_switches(x, size, stride) -> (values, switches)")
    x = rng(seed=43).normal(size=(11, 9, 2))
    got = fn(x.copy(), 3, 2)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Wrong("return a pair (values, switches)")
    pooled = keras.layers.MaxPooling2D(3, strides=2)(x[None].astype("float32"))
    ok, msg = close_array(got[0], keras.ops.convert_to_numpy(pooled)[0], what="pooled values")
    if not ok:
        return ok, msg
    return close_array(got[1], pool_reference(x, 3, 2)[1], atol=0, rtol=0, what="switches")


# a library convolution would do the flip for the learner
_NOT_NUMPY = {"keras", "tf", "tensorflow", "torch", "scipy", "jax", "convolve", "conv_transpose"}
_NOT_NUMPY |= {"conv2d_transpose", "conv", "conv2d", "convolution"}


@exercise(
    "04.3",
    "Implement deconv_filter(maps, kernel) with NumPy: flip the filters, swap their channels",
    "Try one input and one output channel and a single nonzero map value first: where must the "
    "filter land, and which way round? Then check that your kernel's channel axes match.",
    "Pad the maps by the filter size less one on every side, turn each filter by 180 degrees "
    "(both spatial axes), exchange its input and output channel axes, and run an ordinary "
    "'valid' correlation over the padded maps: each output channel is an input channel of "
    "the forward layer.",
)
def _(answer):
    fn = function(answer, "deconv_filter(maps, kernel) -> (H + kh - 1, W + kw - 1, C_in)")
    borrowed = sorted(names_used(answer) & _NOT_NUMPY)
    if borrowed:
        return False, (
            f"your function uses {borrowed}: write the flip and the channel swap yourself with "
            "NumPy (the point of the exercise), then compare with Keras outside the function"
        )

    def compare(case):
        seed, (kh, kw) = case
        gen = rng(seed=seed)
        maps = gen.normal(size=(5, 6, 4)).astype("float32")
        kernel = gen.normal(size=(kh, kw, 2, 4)).astype("float32")
        x = tf.zeros((1, 5 + kh - 1, 6 + kw - 1, 2))
        with tf.GradientTape() as tape:  # the filtering step is the convolution's gradient
            tape.watch(x)
            y = tf.nn.conv2d(x, kernel, strides=1, padding="VALID")
            objective = tf.reduce_sum(y * maps[None])
        expected = tape.gradient(objective, x).numpy()[0]
        got = fn(maps.copy(), kernel.copy())
        return close_array(got, expected, atol=1e-4, what=f"filtered map, {kh}x{kw} filters")

    return each_case([(44, (3, 3)), (45, (3, 2))], compare)


# --- 05 · top-9 patches --------------------------------------------------------------------


@exercise(
    "05.1",
    "Implement top_images(maps, k): each channel's k strongest images, one activation per image",
    "Look at the channel the message names: does one image appear twice in your row, or are "
    "the images in the wrong order?",
    "Give every image one number per channel, its strongest activation anywhere in the map, "
    "and rank the images by it, strongest first: the paper's nine patches come from nine "
    "different images.",
)
def _(answer):
    fn = function(answer, "top_images(maps, k) -> (channels, k) image indices")
    maps = rng(seed=51).uniform(size=(12, 5, 5, 3))
    maps[4] *= 3.0  # one image strong everywhere: its positions must count once
    expected = np.zeros((3, 4), dtype=int)
    for c in range(3):
        best = [maps[n, :, :, c].max() for n in range(12)]
        expected[c] = sorted(range(12), key=lambda n: -best[n])[:4]
    return close_array(fn(maps.copy(), 4), expected, atol=0, rtol=0, what="image indices")


def box_reference(stack, row: int, col: int) -> tuple[int, int, int, int]:
    """The input box of unit (row, col) of a 'valid' conv stack, from the gradient's support."""
    size = 40
    x = tf.zeros((1, size, size, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        h = x
        for kernel, stride in stack:
            h = tf.nn.conv2d(h, tf.ones((kernel, kernel, 1, 1)), stride, "VALID")
        y = h[0, row, col, 0]
    rows, cols = np.nonzero(tape.gradient(y, x).numpy()[0, :, :, 0])
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


@exercise(
    "05.2",
    "Implement rf_box(stack, row, col) -> (top, left, bottom, right): the input patch of a unit",
    "Check the single-layer case the message names by drawing the window: where does the "
    "first unit's box start, where does the next one start, and is the end exclusive?",
    "Neighbouring units of the last layer sit one jump apart in the input (the product of the "
    "strides below), and each sees a square as wide as the receptive field; with no padding "
    "unit zero starts at pixel zero.",
)
def _(answer):
    fn = function(answer, "rf_box(stack, row, col) -> (top, left, bottom, right)")
    cases = [([(3, 1)], 2, 5), ([(3, 2), (3, 2)], 3, 1), ([(5, 2), (3, 1), (2, 2)], 2, 3)]

    def compare(case):
        stack, row, col = case
        got = array(fn(list(stack), row, col), (4,), what=f"box for {case}")
        return close_array(
            got, np.array(box_reference(stack, row, col)), atol=0, rtol=0, what=f"box for {case}"
        )

    return each_case(cases, compare)


@exercise(
    "05.3",
    "Implement crop_patch(image, top, left, size): a size x size patch, zero outside the image",
    "Try the case with a negative corner: is your patch the full size, and is the image "
    "content in it where the corner says?",
    "Near the border a padded unit sees padding: the patch keeps its size and the part "
    "outside the image is zero; clipping the window shifts and shrinks it.",
)
def _(answer):
    fn = function(answer, "crop_patch(image, top, left, size) -> (size, size, channels)")
    image = rng(seed=53).normal(size=(8, 10, 3))

    def compare(case):
        top, left, size = case
        expected = np.zeros((size, size, 3))
        for r in range(size):
            for c in range(size):
                if 0 <= top + r < 8 and 0 <= left + c < 10:
                    expected[r, c] = image[top + r, left + c]
        return close_array(fn(image.copy(), top, left, size), expected, what=f"patch at {case}")

    return each_case([(2, 3, 4), (-2, 7, 5), (5, -3, 6)], compare)


# --- 06 · what each layer detects (network dissection) --------------------------------------


@exercise(
    "06.1",
    "Implement unit_thresholds(acts, q): each unit's level exceeded by a share q of its values",
    "The message says what share of a unit's values exceeds your level: compare it with q. "
    "Too many means the level is too low.",
    "A unit's level is exceeded by only a small share q of its values over every image and "
    "position, so it sits near the top of that unit's distribution: a high quantile, one per "
    "unit (the last axis), not q itself as the quantile.",
)
def _(answer):
    fn = function(answer, "unit_thresholds(acts, q) -> (units,)")
    acts = rng(seed=61).gamma(2.0, size=(20, 8, 8, 5)) * np.arange(1, 6)
    q = 0.005
    got = array(fn(acts.copy(), q), (5,), what="thresholds")
    flat = acts.reshape(-1, 5)
    share = np.mean(flat > got, axis=0)
    slack = 1.5 / len(flat)
    bad = np.abs(share - q) > slack
    if bad.any():
        k = int(np.argmax(bad))
        return (
            False,
            f"unit {k}: a share {share[k]:.4f} of its values exceeds your threshold, not {q}",
        )
    return True, f"each unit exceeds its threshold at a share within {slack:.4f} of {q}"


@exercise(
    "06.2",
    "Implement dataset_iou(unit_masks, concept_masks): dissection's IoU over the whole dataset",
    "Compare your number with the ratio for one image alone: images where the unit or the "
    "concept is nearly absent should weigh little.",
    "Dissection pools the whole dataset: all the overlap over all the union, one ratio at the "
    "end, never an average of per-image ratios.",
)
def _(answer):
    fn = function(answer, "dataset_iou(unit_masks, concept_masks) -> float")
    gen = rng(seed=62)
    density = np.linspace(0.05, 0.6, 10)[:, None, None]
    units = gen.uniform(size=(10, 8, 8)) < density
    concepts = gen.uniform(size=(10, 8, 8)) < density[::-1]
    inter = sum(int(np.sum(u & c)) for u, c in zip(units, concepts))
    union = sum(int(np.sum(u | c)) for u, c in zip(units, concepts))
    return close_number(fn(units.copy(), concepts.copy()), inter / union, what="IoU")


@exercise(
    "06.3",
    "Implement unique_concepts(iou, threshold): how many concepts have at least one detector",
    "Count by hand on a table of three units and three concepts where one unit exceeds the "
    "threshold on two concepts and two units share their best concept.",
    "Each unit names one concept, its best, and only if that best score beats the threshold; "
    "a concept that some unit exceeds but no unit prefers is not detected, and several units "
    "naming the same concept count once.",
)
def _(answer):
    fn = function(answer, "unique_concepts(iou, threshold) -> int")
    hand = np.array(  # unit 0 exceeds on concepts 0 and 1 but prefers 0; units 0, 1 share 0
        [[0.09, 0.06, 0.01], [0.08, 0.02, 0.03], [0.02, 0.03, 0.045], [0.01, 0.05, 0.07]]
        + [[0.01, 0.035, 0.02]]  # unit 4 prefers concept 1 but stays under the threshold
    )
    table = rng(seed=63).uniform(0, 0.06, size=(12, 8))

    def compare(iou):
        found = set()
        for row in iou:
            if row.max() > 0.04:
                found.add(int(np.argmax(row)))
        return close_number(fn(iou.copy(), 0.04), len(found), what="unique concepts")

    return each_case([hand, table], compare)
