"""Solutions to chapter 09's exercises (Grad-CAM's weights and map, the pointing game), and
the mistakes they catch."""

import keras
import numpy as np
import tensorflow as tf


def _gradient(model, images, layer, class_index, logits=True):
    last = model.layers[-1]  # a Dense layer with the softmax inside it
    split = keras.Model(model.input, [model.get_layer(layer).output, last.input])
    with tf.GradientTape() as tape:
        maps, features = split(images)
        scores = features @ last.kernel + last.bias  # the scores before the softmax
        if not logits:
            scores = tf.nn.softmax(scores)
        score = scores[0, class_index]
    return tape.gradient(score, maps).numpy()[0]


def channel_weights(model, images, layer, class_index):
    return _gradient(model, images, layer, class_index).mean(axis=(0, 1))


def cam(maps, weights):
    return np.maximum(maps @ weights, 0)


def pointing_hit(saliency, mask, tolerance):
    r, c = np.unravel_index(np.argmax(saliency), saliency.shape)
    window = mask[
        max(r - tolerance, 0) : r + tolerance + 1, max(c - tolerance, 0) : c + tolerance + 1
    ]
    return bool(window.any())


def _hit(saliency, mask, near):
    r, c = np.unravel_index(np.argmax(saliency), saliency.shape)
    rows, cols = np.nonzero(mask)
    return bool(np.any(near(np.abs(rows - r), np.abs(cols - c))))


ANSWERS = {"09.1": channel_weights, "09.2": cam, "09.3": pointing_hit}

MISTAKES = {
    "09.1": [
        lambda model, images, layer, class_index: _gradient(
            model, images, layer, class_index, logits=False
        ).mean(axis=(0, 1)),  # the probability after the softmax, not the score before it
        lambda model, images, layer, class_index: _gradient(model, images, layer, class_index)[
            0, 0
        ],  # the gradient at one position, as if it were the same everywhere
        lambda model, images, layer, class_index: _gradient(model, images, layer, class_index).sum(
            axis=(0, 1)
        ),  # a sum over the positions, not a mean
    ],
    "09.2": [
        lambda maps, weights: maps @ weights,  # no ReLU: evidence against the class drawn too
        lambda maps, weights: np.abs(maps @ weights),  # the size of the evidence, either sign
        lambda maps, weights: np.maximum(maps.mean(axis=-1), 0),  # the weights ignored
    ],
    "09.3": [
        lambda saliency, mask, tolerance: pointing_hit(saliency, mask, 0),  # tolerance ignored
        lambda s, m, t: _hit(s, m, lambda dr, dc: (dr <= t) | (dc <= t)),  # rows or columns
        lambda s, m, t: _hit(s, m, lambda dr, dc: np.hypot(dr, dc) <= t),  # a Euclidean disc
        lambda s, m, t: _hit(s, m, lambda dr, dc: (dr < t) & (dc < t)),  # the edge excluded
    ],
}
