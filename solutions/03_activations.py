"""Solutions to chapter 03's exercises (activations, their values before the ReLU, sparsity),
and the mistakes they catch."""

import keras
import numpy as np


def channel_sparsity(acts):
    return np.mean(acts == 0, axis=(0, 1, 2))


def pre_activation(model, images, layer):
    conv = model.get_layer(layer)
    inputs = keras.Model(model.input, conv.input)(images)
    z = keras.ops.conv(inputs, conv.kernel, strides=conv.strides, padding=conv.padding)
    return keras.ops.convert_to_numpy(z + conv.bias)


def _sparse_map():
    return np.maximum(np.random.default_rng(0).normal(size=(1, 8, 8, 4)) - 0.5, 0)


def pooled_sparsity():
    pooled = _sparse_map().reshape(1, 4, 2, 4, 2, 4).max(axis=(2, 4))
    return float(np.mean(pooled == 0))


def _after_relu(model, images, layer):
    return keras.Model(model.input, model.get_layer(layer).output)(images)


def _without_bias(model, images, layer):
    return pre_activation(model, images, layer) - keras.ops.convert_to_numpy(
        model.get_layer(layer).bias
    )


def _flipped_kernel(model, images, layer):
    conv = model.get_layer(layer)
    inputs = keras.Model(model.input, conv.input)(images)
    z = keras.ops.conv(inputs, keras.ops.flip(conv.kernel, axis=(0, 1)), padding="valid")
    return keras.ops.convert_to_numpy(z + conv.bias)


ANSWERS = {"03.1": channel_sparsity, "03.2": pre_activation, "03.3": pooled_sparsity()}

MISTAKES = {
    "03.1": [
        lambda acts: np.mean(acts == 0, axis=(1, 2, 3)),  # one share per image
        lambda acts: np.mean(acts < 0.1, axis=(0, 1, 2)),  # "almost zero" counted as zero
        lambda acts: np.mean(acts > 0, axis=(0, 1, 2)),  # the share of active values
    ],
    "03.2": [
        _after_relu,  # the layer's output: already through the ReLU
        _without_bias,  # the bias forgotten
        _flipped_kernel,  # a flipped kernel: Keras correlates, it does not flip
    ],
    "03.3": [
        float(np.mean(_sparse_map() == 0)),  # the sparsity before pooling: pooling changes it
        float(np.mean(_sparse_map().reshape(1, 4, 2, 4, 2, 4).min(axis=(2, 4)) == 0)),  # any 0
        pooled_sparsity() / 4,  # zero pooled values counted over the input's positions
    ],
}
