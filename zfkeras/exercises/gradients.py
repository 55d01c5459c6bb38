"""Exercises of chapters 07-08: three modes down through a ReLU, gradient ascent in image
space, feature inversion.

References use ``tf.GradientTape`` on tiny seeded models and NumPy (Springenberg et al. 2015;
Erhan et al. 2009; Simonyan et al. 2014; Mahendran & Vedaldi 2015).
Every check builds its own models: the learner's function gets one, the reference another.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from zfkeras.exercises.compare import (
    Wrong,
    array,
    close_array,
    each_case,
    function,
    layer_model,
    rng,
    tiny_cnn,
)
from zfkeras.exercises.registry import exercise

# --- 07 · three ways down through a ReLU ---------------------------------------------------

MODES = ("backprop", "deconvnet", "guided")


def relu_reference(x: np.ndarray, grad: np.ndarray, mode: str) -> np.ndarray:
    """The signal going down through ReLU(x): backprop from a tape, the others by hand."""
    if mode == "backprop":
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = tf.nn.relu(xt)
        return tape.gradient(y, xt, output_gradients=tf.constant(grad)).numpy()
    if mode == "deconvnet":
        return np.maximum(grad, 0)
    return np.maximum(grad, 0) * (x > 0)


@exercise(
    "07.1",
    "Implement relu_backward(x, grad, mode) for mode 'backprop', 'deconvnet' or 'guided'",
    "The message names the mode that differs: for that mode, which of the two inputs decides "
    "whether a value passes, the forward input or the signal coming down?",
    "Backprop gates the signal by where the forward input was positive; the deconvnet "
    "rectifies the signal itself, whatever the forward input; guided backprop applies both "
    "gates at once.",
)
def _(answer):
    fn = function(answer, "relu_backward(x, grad, mode)")
    gen = rng(seed=71)
    x, grad = gen.normal(size=(4, 5)), gen.normal(size=(4, 5))

    def compare(mode):
        return close_array(
            fn(x.copy(), grad.copy(), mode), relu_reference(x, grad, mode), what=f"mode {mode!r}"
        )

    return each_case(list(MODES), compare)


def _modes(answer) -> set[str]:
    items = [answer] if isinstance(answer, str) else answer
    try:
        got = {item.strip().lower() for item in items}
    except (TypeError, AttributeError) as err:
        raise Wrong(f"answer a set of modes such as {{'backprop'}}, got {answer!r}") from err
    if not got <= set(MODES):
        raise Wrong(f"answer a set of modes from {MODES}, got {answer!r}")
    return got


@exercise(
    "07.2",
    "At one ReLU, which modes read the forward input x? Answer a set of 'backprop', "
    "'deconvnet', 'guided'",
    "Keep grad, change x, and run your relu_backward for each mode: whose output changes?",
    "A mode reads x when it gates the signal by where the ReLU was active on the way up. The "
    "deconvnet's rule does not, yet its projection still depends on the image: through the "
    "pooling switches and through the activation chosen to project (chapter 04).",
)
def _(answer):
    got = _modes(answer)
    gen = rng(seed=72)
    grad, x1, x2 = gen.normal(size=(3, 50))
    reads = {
        m
        for m in MODES
        if not np.allclose(relu_reference(x1, grad, m), relu_reference(x2, grad, m))
    }
    if got == reads:
        return True, (
            f"{sorted(reads)} gate the signal by x > 0; the deconvnet's rule ignores x at the "
            "ReLU, but its projection still depends on the image through the pooling switches "
            "and the activation you project"
        )
    extra, missing = len(got - reads), len(reads - got)
    return False, (
        f"with the same grad and two different x, {extra} mode(s) of your set give the same "
        f"output, and your set leaves out {missing} mode(s) whose output changes"
    )


@exercise(
    "07.3",
    "Implement guided(x, w1, w2, j): guided backprop of y_j = (relu(x @ w1) @ w2)[j] to x",
    "Write down the signal just above the ReLU for output j, then check each of the two gates "
    "and the way back through the first weight matrix.",
    "The signal reaching the hidden ReLU is the column of the second layer for output j; "
    "guided backprop keeps it only where it is positive and where the hidden unit was active, "
    "then carries it back through the first layer's weights.",
)
def _(answer):
    fn = function(answer, "guided(x, w1, w2, j) -> (D,)")

    def compare(seed):
        gen = rng(seed=seed)
        x, w1, w2 = gen.normal(size=6), gen.normal(size=(6, 8)), gen.normal(size=(8, 3))
        h = x @ w1
        signal = relu_reference(h, w2[:, 1].copy(), "guided")
        return close_array(fn(x.copy(), w1.copy(), w2.copy(), 1), signal @ w1.T, what="signal")

    return each_case([73, 74], compare)


# --- 08 · filter patterns ------------------------------------------------------------------


def _gradient(model, images: np.ndarray, objective) -> tuple[float, np.ndarray]:
    x = tf.constant(images, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = objective(model(x))
    return float(value), tape.gradient(value, x).numpy()


@exercise(
    "08.1",
    "Implement ascent_step(model, images, channels, step): one normalized gradient-ascent step",
    "Is your step uphill, and is its size the same whatever the scale of the gradient? "
    "Compare your change of the image with the step size the message reports.",
    "The objective is the mean activation of the chosen channel; its gradient is divided by "
    "its own root mean square (plus a tiny constant) so that every step moves the image by "
    "about the same amount, then added to the image.",
)
def _(answer):
    fn = function(answer, "ascent_step(model, images, channels, step) -> images")
    reference = layer_model(tiny_cnn(), "conv2")
    images = rng(seed=81).uniform(-0.5, 0.5, size=(1, 12, 12, 3)).astype("float32")

    def compare(channels):
        _, g = _gradient(reference, images, lambda y: tf.reduce_mean(y[..., channels]))
        expected = images + 0.1 * g / (np.sqrt(np.mean(g**2)) + 1e-8)
        return close_array(
            fn(layer_model(tiny_cnn(), "conv2"), images.copy(), channels, 0.1),
            expected,
            atol=1e-4,
            what=f"image after one step on channel {channels}",
        )

    return each_case([0, 3], compare)


def class_score(model, images, class_index: int) -> float:
    """The first image's score for ``class_index``."""
    return float(model(tf.constant(images, dtype=tf.float32))[0, class_index])


@functools.cache
def _reachable_gain(class_index: int) -> float:
    """The score gain 20 clipped ascent steps from a zero image reach (the yardstick)."""
    model = tiny_cnn()
    x = np.zeros((1, 12, 12, 3), dtype="float32")
    for _ in range(20):
        _, g = _gradient(model, x, lambda y: y[0, class_index])
        x = np.clip(x + 0.1 * g / (np.sqrt(np.mean(g**2)) + 1e-8), -1, 1).astype("float32")
    return class_score(model, x, class_index) - class_score(model, np.zeros_like(x), class_index)


@exercise(
    "08.2",
    "Implement class_model(model, class_index): an image in [-1, 1] that maximizes a class score",
    "Does the score rise at all (the direction), and does your image stay inside the bounds "
    "after every step, not only at the end?",
    "Start from a blank image and climb the class score before the softmax, one normalized "
    "gradient step at a time, clipping the image back into its range after each step "
    "(Simonyan et al. 2014).",
)
def _(answer):
    fn = function(answer, "class_model(model, class_index) -> (1, 12, 12, 3)")
    reference, c = tiny_cnn(), 2
    image = array(fn(tiny_cnn(), c), (1, 12, 12, 3), what="the class image")
    if np.abs(image).max() > 1 + 1e-5:
        return False, f"the image leaves [-1, 1]: its largest |value| is {np.abs(image).max():.3g}"
    gain = class_score(reference, image, c) - class_score(reference, np.zeros_like(image), c)
    need = 0.5 * _reachable_gain(c)
    if gain < need:
        return (
            False,
            f"the class score rose by {gain:.3g} over a zero image; reachable: {2 * need:.3g}",
        )
    return True, f"the class score rose by {gain:.3g} (reference ascent: {2 * need:.3g})"


@exercise(
    "08.3",
    "Implement best_patch(w): the unit-norm input patch that excites a linear filter most",
    "Check two things of your patch: its norm, and its response compared with the filter's "
    "own norm.",
    "By the Cauchy-Schwarz inequality the response of a unit-norm patch is largest when the "
    "patch points the same way as the filter: a first-layer filter shows its own preferred "
    "input, which is why layer 1 is drawn as its weights.",
)
def _(answer):
    fn = function(answer, "best_patch(w) -> same shape as w")

    def compare(seed):
        w = rng(seed=seed).normal(size=(5, 5, 3))
        return close_array(fn(w.copy()), w / np.sqrt(np.sum(w * w)), atol=1e-6, what="patch")

    return each_case([83, 84], compare)


@functools.cache
def _inversion_target() -> np.ndarray:
    x0 = rng(seed=85).uniform(-1, 1, size=(1, 12, 12, 3)).astype("float32")
    return layer_model(tiny_cnn(), "conv1")(x0).numpy()


@exercise(
    "08.4",
    "Implement invert(features, target, shape): an image whose features approach the target",
    "Print the feature distance at every step: does it fall, and for how many steps?",
    "Minimize the squared distance between the image's features and the target (relative to "
    "the target's size) by gradient descent from a blank image, with a small penalty on the "
    "image's size, as Mahendran & Vedaldi 2015 do.",
)
def _(answer):
    fn = function(answer, "invert(features, target, shape) -> image of that shape")
    features, target = layer_model(tiny_cnn(), "conv1"), _inversion_target()
    shape = (1, 12, 12, 3)
    image = array(
        fn(layer_model(tiny_cnn(), "conv1"), target.copy(), shape), shape, what="inverted image"
    )

    def distance(x):
        return float(np.linalg.norm(features(x.astype("float32")).numpy() - target))

    start, end = distance(np.zeros(shape)), distance(image)
    if end > 0.5 * start:
        return False, f"feature distance {end:.3g}, from {start:.3g} for a zero image: halve it"
    return True, f"feature distance fell from {start:.3g} (zero image) to {end:.3g}"
