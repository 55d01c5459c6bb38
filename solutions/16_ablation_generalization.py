"""Solutions to chapter 16's exercises (freezing layers, few-shot splits, fc parameters)."""

import numpy as np


def freeze_through(model, name):
    frozen = True
    for layer in model.layers:
        layer.trainable = not frozen
        if layer.name == name:
            frozen = False
    return model


def few_shot(labels, per_class, seed):
    gen = np.random.default_rng(seed)
    picks = [
        gen.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in np.unique(labels)
    ]
    return np.concatenate(picks)


ANSWERS = {
    "16.1": freeze_through,
    "16.2": few_shot,
    "16.3": (6 * 6 * 256 * 4096 + 4096) + (4096 * 4096 + 4096),
}
