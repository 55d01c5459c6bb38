"""Solutions to chapter 03's exercises (intermediate activations and their sparsity)."""

import keras
import numpy as np


def channel_sparsity(acts):
    return np.mean(acts == 0, axis=(0, 1, 2))


def activation_model(model, names):
    return keras.Model(model.inputs, [model.get_layer(n).output for n in names])


def pooled_sparsity():
    x = np.maximum(np.random.default_rng(0).normal(size=(1, 8, 8, 4)) - 0.5, 0)
    pooled = x.reshape(1, 4, 2, 4, 2, 4).max(axis=(2, 4))
    return float(np.mean(pooled == 0))


ANSWERS = {"03.1": channel_sparsity, "03.2": activation_model, "03.3": pooled_sparsity()}
