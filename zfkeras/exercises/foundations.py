"""Exercises of chapters 01-03: the architecture, training, intermediate activations.

References are computed on the spot with plain Keras layers and NumPy loops, never with the
zfkeras function an exercise is about (Zeiler & Fergus 2014, Sec. 2-3 and Table 1).
"""

from __future__ import annotations

import warnings

import keras
import numpy as np

from zfkeras.exercises.compare import (
    Wrong,
    close_array,
    close_number,
    each_case,
    function,
    rng,
    tiny_cnn,
)
from zfkeras.exercises.registry import exercise

# --- 01 · architecture ---------------------------------------------------------------------


@exercise(
    "01.1",
    "Implement conv_output_size(size, kernel, stride, pad) for a convolution or pooling",
    "out = floor((size + 2 * pad - kernel) / stride) + 1: the window must fit entirely.",
)
def _(answer):
    fn = function(answer, "conv_output_size(size, kernel, stride, pad)")
    cases = [(224, 7, 2, 1), (110, 3, 2, 0), (26, 5, 2, 0), (13, 3, 1, 1), (227, 11, 4, 0)]
    gen = rng(11)
    for kernel in (3, 5, 7):
        size, stride, pad = gen.integers(20, 80), gen.integers(1, 4), gen.integers(0, 3)
        cases.append((int(size), kernel, int(stride), int(pad)))

    def compare(case):
        size, kernel, stride, pad = case
        padded = (1, size + 2 * pad, size + 2 * pad, 1)
        layer = keras.layers.Conv2D(1, kernel, strides=stride)
        expected = layer.compute_output_shape(padded)[1]
        return close_number(fn(size, kernel, stride, pad), expected, what=f"size for {case}")

    return each_case(cases, compare)


@exercise(
    "01.2",
    "How many parameters has a 5x5 convolution from 96 to 256 channels (ZFNet conv2)?",
    "Each of the 256 filters has 5 x 5 x 96 weights, and one bias.",
)
def _(answer):
    layer = keras.layers.Conv2D(256, 5)
    layer.build((None, None, None, 96))
    return close_number(answer, layer.count_params(), rtol=0, atol=0.5, what="parameters")


def receptive_field_reference(stack) -> tuple[int, int]:
    """Input interval seen by one top unit, walked down layer by layer: (size, jump)."""
    lo = hi = 0
    for kernel, stride in reversed(stack):
        lo, hi = lo * stride, hi * stride + kernel - 1
    return hi - lo + 1, int(np.prod([s for _, s in stack]))


@exercise(
    "01.3",
    "Implement receptive_field(stack) -> (size, jump) for a list of (kernel, stride) layers",
    "Walk the stack: size grows by (kernel - 1) times the jump so far; the jump is the "
    "product of the strides below.",
)
def _(answer):
    fn = function(answer, "receptive_field(stack) -> (size, jump)")
    cases = [[(7, 2)], [(7, 2), (3, 2), (5, 2)], [(7, 2), (3, 2), (5, 2), (3, 2), (3, 1)]]
    gen = rng(13)
    cases += [[(int(gen.integers(1, 6)), int(gen.integers(1, 4))) for _ in range(4)]]

    def compare(stack):
        got = fn(list(stack))
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Wrong(f"return a pair (size, jump), got {got!r}")
        size, jump = receptive_field_reference(stack)
        ok_size, msg = close_number(got[0], size, what=f"size for {stack}")
        ok_jump, msg_jump = close_number(got[1], jump, what=f"jump for {stack}")
        return ok_size and ok_jump, msg if not ok_size else msg_jump

    return each_case(cases, compare)


# --- 02 · training -------------------------------------------------------------------------


@exercise(
    "02.1",
    "Implement subtract_mean(train, images): subtract the per-pixel mean of the training set",
    "The paper subtracts the mean over the training images at every pixel and channel: "
    "average over axis 0 only.",
)
def _(answer):
    fn = function(answer, "subtract_mean(train, images)")
    gen = rng(21)
    pattern = gen.normal(size=(6, 6, 3))
    train = pattern + 0.3 * gen.normal(size=(20, 6, 6, 3))
    images = pattern + 0.3 * gen.normal(size=(5, 6, 6, 3))
    expected = np.stack([img - sum(train) / len(train) for img in images])
    return close_array(fn(train.copy(), images.copy()), expected, what="mean-subtracted images")


def ten_crops_reference(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    corners = [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size)]
    corners.append(((h - size) // 2, (w - size) // 2))
    crops = [image[r : r + size, c : c + size] for r, c in corners]
    return np.stack(crops + [crop[:, ::-1] for crop in crops])


@exercise(
    "02.2",
    "Implement ten_crops(image, size): four corners, the centre, and their mirror images",
    "Order: top-left, top-right, bottom-left, bottom-right, centre (top = (H - size) // 2), "
    "then the same five flipped left to right (the width axis).",
)
def _(answer):
    fn = function(answer, "ten_crops(image, size) -> (10, size, size, channels)")
    image = rng(22).normal(size=(9, 11, 3))
    return close_array(fn(image.copy(), 5), ten_crops_reference(image, 5), what="the 10 crops")


@exercise(
    "02.3",
    "Implement top_k_error(probs, labels, k): the share of images whose label is not in the top k",
    "An image counts as correct when fewer than k classes score higher than its label.",
)
def _(answer):
    fn = function(answer, "top_k_error(probs, labels, k) -> float")
    gen = rng(23)
    probs = gen.dirichlet(np.ones(10), size=200)
    labels = gen.integers(0, 10, size=200)

    def compare(k):
        wrong = sum(int(np.sum(p > p[y]) >= k) for p, y in zip(probs, labels))
        return close_number(
            fn(probs.copy(), labels.copy(), k), wrong / len(labels), what=f"top-{k} error"
        )

    return each_case([1, 3, 5], compare)


# --- 03 · activations ----------------------------------------------------------------------


@exercise(
    "03.1",
    "Implement channel_sparsity(acts): the share of exact zeros of each channel",
    "acts has shape (images, height, width, channels): count zeros over every axis but the last.",
)
def _(answer):
    fn = function(answer, "channel_sparsity(acts) -> (channels,)")
    gen = rng(31)
    acts = np.maximum(gen.normal(size=(4, 6, 6, 5)) - np.linspace(-1, 1, 5), 0)
    flat = acts.reshape(-1, 5)
    expected = [sum(v == 0 for v in flat[:, c]) / len(flat) for c in range(5)]
    return close_array(fn(acts.copy()), np.array(expected), what="share of zeros per channel")


@exercise(
    "03.2",
    "Implement activation_model(model, names): one Keras model returning those layers' outputs",
    "keras.Model(model.inputs, [model.get_layer(n).output for n in names]): outputs, not inputs.",
)
def _(answer):
    fn = function(answer, "activation_model(model, names) -> keras.Model")
    model = tiny_cnn(0)
    names = ["conv1", "conv2", "logits"]
    images = rng(32).uniform(size=(2, 12, 12, 3)).astype("float32")
    got = fn(model, list(names))
    if not callable(got):
        raise Wrong(f"return a keras.Model, got {type(got).__name__}")
    with warnings.catch_warnings():  # a model built on model.inputs (a list) warns on a tensor
        warnings.simplefilter("ignore")
        outputs = got(images)
    if not isinstance(outputs, (list, tuple)) or len(outputs) != len(names):
        raise Wrong(f"the model should return a list of {len(names)} outputs")
    h = images
    expected = {}
    for layer in model.layers[1:]:  # a plain walk down the chain, layer by layer
        h = layer(h)
        expected[layer.name] = keras.ops.convert_to_numpy(h)
    for name, out in zip(names, outputs):
        ok, msg = close_array(out, expected[name], what=f"output {name}")
        if not ok:
            return False, msg
    return True, f"{len(names)} outputs match a layer-by-layer walk"


@exercise(
    "03.3",
    "After a 2x2 max pool, what share of a sparse ReLU map is zero? (compute it)",
    "A pooled value is zero only when all four inputs of its window are zero: pooling makes "
    "maps less sparse, so sparsity does not grow with depth through a pooling layer.",
)
def _(answer):
    x = np.maximum(rng(0).normal(size=(1, 8, 8, 4)) - 0.5, 0)
    pooled = layer_pool(x)
    return close_number(answer, float(np.mean(pooled == 0)), atol=0.005, what="share of zeros")


def layer_pool(x: np.ndarray) -> np.ndarray:
    """2x2/2 max pooling with Keras (the reference for 03.3)."""
    return keras.ops.convert_to_numpy(keras.layers.MaxPooling2D(2)(x.astype("float32")))
