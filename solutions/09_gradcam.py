"""Solutions to chapter 09's exercises (Grad-CAM's weights and map, the pointing game)."""

import keras
import numpy as np
import tensorflow as tf


def channel_weights(model, image, layer, class_index):
    split = keras.Model(model.inputs, [model.get_layer(layer).output, model.output])
    with tf.GradientTape() as tape:
        maps, scores = split(image)
        score = scores[0, class_index]
    return tape.gradient(score, maps).numpy()[0].mean(axis=(0, 1))


def cam(maps, weights):
    return np.maximum(maps @ weights, 0)


def pointing_hit(saliency, mask, tolerance):
    r, c = np.unravel_index(np.argmax(saliency), saliency.shape)
    window = mask[
        max(r - tolerance, 0) : r + tolerance + 1, max(c - tolerance, 0) : c + tolerance + 1
    ]
    return bool(window.any())


ANSWERS = {"09.1": channel_weights, "09.2": cam, "09.3": pointing_hit}
