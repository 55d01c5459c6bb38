"""Exercises of chapters 01-03: the architecture, training, intermediate activations.

References are computed on the spot with plain Keras layers and NumPy loops, never with the
zfkeras function an exercise is about (Zeiler & Fergus 2014, Sec. 2-3 and Table 1).
"""

from __future__ import annotations

import keras
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

# --- 01 · architecture ---------------------------------------------------------------------


@exercise(
    "01.1",
    "Implement conv_output_size(size, kernel, stride, pad) for a convolution or pooling",
    "Count the window positions along one side by hand for a small case (a 5-pixel side, a "
    "3-wide window, stride 2) and compare with your function.",
    "The padded side holds the first window, and every stride after it that still fits adds "
    "one more position; a window that would stick out is dropped, never rounded up.",
)
def _(answer):
    fn = function(answer, "conv_output_size(size, kernel, stride, pad)")
    cases = [(224, 7, 2, 1), (110, 3, 2, 0), (26, 5, 2, 0), (13, 3, 1, 1), (227, 11, 4, 0)]
    gen = rng(seed=11)
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
    "How many parameters has conv2 of the course's half-width ZFNet (5x5, 48 to 128 channels)?",
    "Count one filter first: how many input channels does it look at, over how large a window? "
    "Then count the filters, and what each of them adds besides its weights.",
    "Halving the width halves both the channels coming in and the filters going out, so the "
    "weights shrink by a factor of four, not two; the biases only by two.",
)
def _(answer):
    layer = keras.layers.Conv2D(128, 5)
    layer.build((None, None, None, 48))
    return close_number(
        answer, layer.count_params(), rtol=0, atol=0.5, what="parameters", reveal=False
    )


def _side_after(stack, side: int) -> int:
    """The side of the last map of a 'valid' stack on an input of ``side``, by Keras' shapes."""
    for kernel, stride in stack:
        if side < kernel:
            return 0
        layer = keras.layers.Conv2D(1, kernel, strides=stride)
        side = layer.compute_output_shape((1, side, side, 1))[1]
    return side


def input_size_reference(stack, out: int) -> int:
    """The smallest input side whose 'valid' stack gives ``out`` units per side (a search)."""
    side = 1
    while _side_after(stack, side) < out:
        side += 1
    return side


@exercise(
    "01.3",
    "Implement input_size(stack, out): the smallest input side giving `out` units per side",
    "Try a single layer first (one 3x3 stride-2 convolution, two output units) by drawing the "
    "windows, then two layers: which layer's stride spaces the units of the last layer?",
    "Walk the stack from the top down: the units a layer must produce fix how many units its "
    "input needs, and each extra unit costs one stride of that layer. For a single output "
    "unit the answer is the receptive field of the table above.",
)
def _(answer):
    fn = function(answer, "input_size(stack, out) -> int")
    cases = [([(7, 2)], 3), ([(7, 2), (3, 2), (5, 2)], 1), ([(7, 2), (3, 2), (5, 2)], 4)]
    cases += [([(3, 1), (2, 2), (5, 3)], 2), ([(5, 1), (3, 3)], 5)]

    def compare(case):
        stack, out = case
        expected = input_size_reference(stack, out)
        return close_number(fn(list(stack), out), expected, what=f"input side for {case}")

    return each_case(cases, compare)


# --- 02 · training -------------------------------------------------------------------------


@exercise(
    "02.1",
    "Implement subtract_mean(train, images): subtract the per-pixel mean of the training set",
    "Look at the shape of the mean you subtract: it should be one whole image.",
    "The paper's mean image keeps every pixel and every channel apart and averages over the "
    "training images only.",
)
def _(answer):
    fn = function(answer, "subtract_mean(train, images)")
    gen = rng(seed=21)
    pattern = gen.normal(size=(6, 6, 3))
    train = pattern + 0.3 * gen.normal(size=(20, 6, 6, 3))
    images = pattern + 0.3 * gen.normal(size=(5, 6, 6, 3))
    expected = np.stack([img - sum(train) / len(train) for img in images])
    return close_array(fn(train.copy(), images.copy()), expected, what="mean-subtracted images")


def ten_crops_reference(image: np.ndarray, size: int) -> np.ndarray:
    """The ten crops by explicit corners, in the order the exercise asks."""
    h, w = image.shape[:2]
    corners = [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size)]
    corners.append(((h - size) // 2, (w - size) // 2))
    crops = [image[r : r + size, c : c + size] for r, c in corners]
    return np.stack(crops + [crop[:, ::-1] for crop in crops])


@exercise(
    "02.2",
    "Implement ten_crops(image, size): four corners, the centre, and their mirror images",
    "The message names the crop that differs (its first index): compare that crop alone with "
    "the one you meant; the test image is not square.",
    "The order is top-left, top-right, bottom-left, bottom-right, centre, then the same five "
    "mirrored; a mirror image swaps left and right, which is the width axis, not the height.",
)
def _(answer):
    fn = function(answer, "ten_crops(image, size) -> (10, size, size, channels)")
    image = rng(seed=22).normal(size=(10, 12, 3))  # odd margins: the centre rounds down
    return close_array(fn(image.copy(), 5), ten_crops_reference(image, 5), what="the 10 crops")


@exercise(
    "02.3",
    "Implement top_k_error(probs, labels, k): the share of images whose label is not in the top k",
    "The message says for which k it differs; count by hand for one image whose label is "
    "the k-th highest class.",
    "An image is an error when its true label is missing from the k most probable classes: it "
    "is the rank of the label that matters, not its probability or the top class alone.",
)
def _(answer):
    fn = function(answer, "top_k_error(probs, labels, k) -> float")
    gen = rng(seed=23)
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
    "Check the shape of what you return: one number per channel, none per image or per row.",
    "Each channel's share counts its zeros over every image and every position together; "
    "only the channel axis (the last one) survives.",
)
def _(answer):
    fn = function(answer, "channel_sparsity(acts) -> (channels,)")
    gen = rng(seed=31)
    acts = np.maximum(gen.normal(size=(4, 6, 6, 5)) - np.linspace(-1, 1, 5), 0)
    flat = acts.reshape(-1, 5)
    expected = [sum(v == 0 for v in flat[:, c]) / len(flat) for c in range(5)]
    return close_array(fn(acts.copy()), np.array(expected), what="share of zeros per channel")


def conv_reference(inputs: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """A 'valid' stride-1 convolution (Keras' cross-correlation) by a loop over positions."""
    n, h, w, _ = inputs.shape
    k = kernel.shape[0]
    out = np.zeros((n, h - k + 1, w - k + 1, kernel.shape[-1]))
    for r in range(h - k + 1):
        for c in range(w - k + 1):
            patch = inputs[:, r : r + k, c : c + k, :]
            out[:, r, c, :] = np.tensordot(patch, kernel, axes=3) + bias
    return out


@exercise(
    "03.2",
    "Implement pre_activation(model, images, layer): a convolution's values before its ReLU",
    "Count the negative values you return: a convolution's values before its ReLU are negative "
    "about as often as its output is zero. Then check which tensor you start from.",
    "The layer's output tensor is already rectified and the graph holds nothing in between: "
    "start from the layer's input and apply its own kernel and bias yourself, without the "
    "activation.",
)
def _(answer):
    fn = function(answer, "pre_activation(model, images, layer) -> (N, H, W, channels)")
    reference = tiny_cnn(seed=3)
    images = rng(seed=32).uniform(-1, 1, size=(2, 12, 12, 3)).astype("float32")

    def compare(layer):
        h = images
        for walk in reference.layers[1:]:  # a plain walk down the chain, layer by layer
            if walk.name == layer:
                break
            h = keras.ops.convert_to_numpy(walk(h))
        kernel, bias = (np.asarray(w, np.float64) for w in walk.get_weights())
        expected = conv_reference(np.asarray(h, np.float64), kernel, bias)
        got = array(fn(tiny_cnn(seed=3), images.copy(), layer), expected.shape, what=layer)
        return close_array(got, expected, atol=1e-4, what=f"{layer} before its ReLU")

    return each_case(["conv2", "conv1"], compare)


@exercise(
    "03.3",
    "After a 2x2 max pool, what share of a sparse ReLU map is zero? (compute it)",
    "Predict the direction first: can a pooled value be zero when one of its four inputs is "
    "not? Then pool the map in the cell and count.",
    "A pooled value is zero only when all four inputs of its window are zero, so pooling "
    "makes a map less sparse: sparsity does not simply grow with depth.",
)
def _(answer):
    x = np.maximum(rng(seed=0).normal(size=(1, 8, 8, 4)) - 0.5, 0)
    pooled = layer_pool(x)
    return close_number(
        answer, float(np.mean(pooled == 0)), atol=0.005, what="share of zeros", reveal=False
    )


def layer_pool(x: np.ndarray) -> np.ndarray:
    """2x2/2 max pooling with Keras (the reference for 03.3)."""
    return keras.ops.convert_to_numpy(keras.layers.MaxPooling2D(2)(x.astype("float32")))
