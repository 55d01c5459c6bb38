"""Solutions to chapter 16's exercises (freezing layers, few-shot splits, fc parameters), and
the mistakes they catch."""

import numpy as np


def freeze_through(model, name):
    frozen = True
    for layer in model.layers:
        layer.trainable = not frozen
        if layer.name == name:
            frozen = False
    return model


def few_shot(labels, per_class, seed, replace=False):
    gen = np.random.default_rng(seed)
    picks = [
        gen.choice(np.flatnonzero(labels == c), per_class, replace=replace)
        for c in np.unique(labels)
    ]
    return np.concatenate(picks)


def _freeze_before(model, name):
    names = [layer.name for layer in model.layers]
    for k, layer in enumerate(model.layers):
        layer.trainable = k > names.index(name) - 1  # the named layer stays trainable


def _freeze_only_through(model, name):
    for layer in model.layers:
        layer.trainable = False
        if layer.name == name:
            return  # the later layers keep whatever flag they had


def _freeze_only_named(model, name):
    for layer in model.layers:
        layer.trainable = layer.name != name


ANSWERS = {
    "16.1": freeze_through,
    "16.2": few_shot,
    "16.3": (6 * 6 * 256 * 4096 + 4096) + (4096 * 4096 + 4096),
}

MISTAKES = {
    "16.1": [
        _freeze_before,  # the named layer left trainable
        _freeze_only_through,  # the later layers not set trainable
        _freeze_only_named,  # only the named layer frozen
    ],
    "16.2": [
        lambda labels, per_class, seed: np.concatenate(
            [np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]
        ),  # the first images of each class: no random draw
        lambda labels, per_class, seed: few_shot(labels, per_class, seed, replace=True),
        # drawn with replacement: an image may come twice
        lambda labels, per_class, seed: np.random.default_rng(seed).choice(
            len(labels), per_class * len(np.unique(labels)), replace=False
        ),  # as many images in all, but not per class
    ],
    "16.3": [
        6 * 6 * 256 * 4096 + 4096 * 4096,  # the biases forgotten
        6 * 6 * 256 * 4096 + 4096,  # fc6 only
        (6 * 6 * 256 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000),  # with fc8
    ],
}
