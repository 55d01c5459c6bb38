"""Exercises of chapters 07-09: three rules down through a ReLU, gradient ascent in image
space, feature inversion, Grad-CAM.

References use ``tf.GradientTape`` on tiny seeded models and NumPy (Springenberg et al. 2015;
Erhan et al. 2009; Simonyan et al. 2014; Mahendran & Vedaldi 2015; Selvaraju et al. 2017).
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

RULES = ("gradient", "deconvnet", "guided")


def relu_rule_reference(x: np.ndarray, grad: np.ndarray, rule: str) -> np.ndarray:
    """The signal going down through ReLU(x): the gradient from a tape, the others by hand."""
    if rule == "gradient":
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = tf.nn.relu(xt)
        return tape.gradient(y, xt, output_gradients=tf.constant(grad)).numpy()
    if rule == "deconvnet":
        return np.maximum(grad, 0)
    return np.maximum(grad, 0) * (x > 0)


@exercise(
    "07.1",
    "Implement relu_backward(x, grad, rule) for rule 'gradient', 'deconvnet' or 'guided'",
    "Gradient: keep grad where x > 0. Deconvnet: keep grad where grad > 0. Guided: both.",
)
def _(answer):
    fn = function(answer, "relu_backward(x, grad, rule)")
    gen = rng(71)
    x, grad = gen.normal(size=(4, 5)), gen.normal(size=(4, 5))

    def compare(rule):
        return close_array(
            fn(x.copy(), grad.copy(), rule),
            relu_rule_reference(x, grad, rule),
            what=f"rule {rule!r}",
        )

    return each_case(list(RULES), compare)


@exercise(
    "07.2",
    "Which rule's signal does not depend on the forward input x? Answer 'gradient', "
    "'deconvnet' or 'guided'",
    "Change x and keep grad: which rule's output stays the same?",
)
def _(answer):
    if not isinstance(answer, str) or answer.strip().lower() not in RULES:
        raise Wrong(f"answer one of {RULES}, got {answer!r}")
    gen = rng(72)
    grad, x1, x2 = gen.normal(size=(3, 50))
    free = [
        r
        for r in RULES
        if np.allclose(relu_rule_reference(x1, grad, r), relu_rule_reference(x2, grad, r))
    ]
    got = answer.strip().lower()
    if [got] == free:
        return (
            True,
            f"only {got!r} ignores x: the deconvnet's projection is not conditioned on the image",
        )
    return False, f"with the same grad and two different x, the rules that do not change are {free}"


@exercise(
    "07.3",
    "Implement guided(x, w1, w2, j): guided backprop of y_j = (relu(x @ w1) @ w2)[j] to x",
    "The signal reaching the ReLU is w2[:, j]; keep it where it is positive and where "
    "x @ w1 > 0, then multiply by w1's transpose.",
)
def _(answer):
    fn = function(answer, "guided(x, w1, w2, j) -> (D,)")

    def compare(seed):
        gen = rng(seed)
        x, w1, w2 = gen.normal(size=6), gen.normal(size=(6, 8)), gen.normal(size=(8, 3))
        h = x @ w1
        signal = relu_rule_reference(h, w2[:, 1].copy(), "guided")
        return close_array(fn(x.copy(), w1.copy(), w2.copy(), 1), signal @ w1.T, what="signal")

    return each_case([73, 74], compare)


# --- 08 · filter patterns ------------------------------------------------------------------


def _gradient(model, image: np.ndarray, objective) -> tuple[float, np.ndarray]:
    x = tf.constant(image, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = objective(model(x))
    return float(value), tape.gradient(value, x).numpy()


@exercise(
    "08.1",
    "Implement ascent_step(model, image, channel, step): one normalized gradient-ascent step",
    "Objective: the mean of model(image)[..., channel]; g its gradient; return "
    "image + step * g / (sqrt(mean(g ** 2)) + 1e-8).",
)
def _(answer):
    fn = function(answer, "ascent_step(model, image, channel, step) -> image")
    model = layer_model(tiny_cnn(0), "conv2")
    image = rng(81).uniform(-0.5, 0.5, size=(1, 12, 12, 3)).astype("float32")

    def compare(channel):
        _, g = _gradient(model, image, lambda y: tf.reduce_mean(y[..., channel]))
        expected = image + 0.1 * g / (np.sqrt(np.mean(g**2)) + 1e-8)
        return close_array(
            fn(model, image.copy(), channel, 0.1),
            expected,
            atol=1e-4,
            what=f"image after one step on channel {channel}",
        )

    return each_case([0, 3], compare)


def class_score(model, image, class_index: int) -> float:
    return float(model(tf.constant(image, dtype=tf.float32))[0, class_index])


@functools.cache
def _reachable_gain(class_index: int) -> float:
    """The score gain 20 clipped ascent steps from a zero image reach (the yardstick)."""
    model = tiny_cnn(0)
    x = np.zeros((1, 12, 12, 3), dtype="float32")
    for _ in range(20):
        _, g = _gradient(model, x, lambda y: y[0, class_index])
        x = np.clip(x + 0.1 * g / (np.sqrt(np.mean(g**2)) + 1e-8), -1, 1).astype("float32")
    return class_score(model, x, class_index) - class_score(model, np.zeros_like(x), class_index)


@exercise(
    "08.2",
    "Implement class_model(model, class_index): an image in [-1, 1] that maximizes a class score",
    "Start from zeros, step along the normalized gradient of the logit (not the softmax), and "
    "clip to [-1, 1] after every step (Simonyan et al. 2014).",
)
def _(answer):
    fn = function(answer, "class_model(model, class_index) -> (1, 12, 12, 3)")
    model, c = tiny_cnn(0), 2
    image = array(fn(model, c), (1, 12, 12, 3), what="the class image")
    if np.abs(image).max() > 1 + 1e-5:
        return False, f"the image leaves [-1, 1]: its largest |value| is {np.abs(image).max():.3g}"
    gain = class_score(model, image, c) - class_score(model, np.zeros_like(image), c)
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
    "By Cauchy-Schwarz, <patch, w> <= |w| with equality for patch = w / |w|: a first-layer "
    "filter shows its own preferred input, which is why layer 1 is drawn as its weights.",
)
def _(answer):
    fn = function(answer, "best_patch(w) -> same shape as w")

    def compare(seed):
        w = rng(seed).normal(size=(5, 5, 3))
        return close_array(fn(w.copy()), w / np.sqrt(np.sum(w * w)), atol=1e-6, what="patch")

    return each_case([83, 84], compare)


@functools.cache
def _inversion_target() -> np.ndarray:
    x0 = rng(85).uniform(-1, 1, size=(1, 12, 12, 3)).astype("float32")
    return layer_model(tiny_cnn(0), "conv1")(x0).numpy()


@exercise(
    "08.4",
    "Implement invert(features, target, shape): an image whose features approach the target",
    "Minimize |features(x) - target|^2 / |target|^2 by gradient descent from zeros (plus a "
    "small penalty on |x|^2), as Mahendran & Vedaldi 2015 do.",
)
def _(answer):
    fn = function(answer, "invert(features, target, shape) -> image of that shape")
    features, target = layer_model(tiny_cnn(0), "conv1"), _inversion_target()
    shape = (1, 12, 12, 3)
    image = array(fn(features, target.copy(), shape), shape, what="the inverted image")

    def distance(x):
        return float(np.linalg.norm(features(x.astype("float32")).numpy() - target))

    start, end = distance(np.zeros(shape)), distance(image)
    if end > 0.5 * start:
        return False, f"feature distance {end:.3g}, from {start:.3g} for a zero image: halve it"
    return True, f"feature distance fell from {start:.3g} (zero image) to {end:.3g}"


# --- 09 · Grad-CAM -------------------------------------------------------------------------


@exercise(
    "09.1",
    "Implement channel_weights(model, image, layer, class_index): Grad-CAM's alpha_k",
    "alpha_k is the average over the map's positions of d(class score)/d(A_k): a mean over "
    "height and width, one number per channel.",
)
def _(answer):
    fn = function(answer, "channel_weights(model, image, layer, class_index) -> (channels,)")
    model = tiny_cnn(0)
    image = rng(91).uniform(size=(1, 12, 12, 3)).astype("float32")
    maps = layer_model(model, "conv2")(image)
    with tf.GradientTape() as tape:
        tape.watch(maps)
        h = model.get_layer("gap")(maps)
        score = model.get_layer("logits")(h)[0, 1]
    g = tape.gradient(score, maps).numpy()[0]
    expected = g.reshape(-1, g.shape[-1]).mean(axis=0)
    return close_array(fn(model, image.copy(), "conv2", 1), expected, atol=1e-6, what="alpha")


@exercise(
    "09.2",
    "Implement cam(maps, weights): the Grad-CAM map from the maps and the channel weights",
    "Weighted sum over channels, then a ReLU: only the evidence for the class is kept.",
)
def _(answer):
    fn = function(answer, "cam(maps, weights) -> (H, W)")
    gen = rng(92)
    maps, weights = np.maximum(gen.uniform(size=(6, 7, 5)) - 0.5, 0), gen.normal(size=5)
    expected = np.zeros((6, 7))
    for k in range(5):
        expected += weights[k] * maps[:, :, k]
    return close_array(fn(maps.copy(), weights.copy()), np.maximum(expected, 0), what="map")


@exercise(
    "09.3",
    "Implement pointing_hit(saliency, mask, tolerance): does the map's maximum hit the object?",
    "Take the (row, col) of the saliency maximum; it hits when some mask pixel lies within "
    "`tolerance` pixels of it in both row and column.",
)
def _(answer):
    fn = function(answer, "pointing_hit(saliency, mask, tolerance) -> bool")
    gen = rng(93)
    cases = []
    for k in range(6):
        saliency = gen.uniform(size=(10, 14))
        saliency[2, 9] = 2.0  # a transposed (9, 2) lands elsewhere
        mask = np.zeros((10, 14), dtype=bool)
        top, left = (1, 8) if k % 2 else (7, 0)
        mask[top : top + 2, left : left + 3] = True
        cases.append((saliency, mask, k // 2))

    def compare(case):
        saliency, mask, tol = case
        r, c = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
        rows, cols = np.nonzero(mask)
        expected = bool(np.any((abs(rows - r) <= tol) & (abs(cols - c) <= tol)))
        got = fn(saliency.copy(), mask.copy(), tol)
        if not isinstance(got, (bool, np.bool_)):
            raise Wrong(f"return True or False, got {got!r}")
        return bool(got) == expected, f"expected {expected}, got {bool(got)} (tolerance {tol})"

    return each_case(cases, compare)
