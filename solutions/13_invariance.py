"""Solutions to chapter 13's exercises (fooling images, translation, pooling's invariance), and
the mistakes they catch."""

import numpy as np
import tensorflow as tf


def fool(model, images, target, eps, steps=50, step=0.01, bound=1.0, toward=True):
    x = tf.constant(images, dtype=tf.float32)
    original = x
    for _ in range(steps):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = model(x)[0]
            margin = logits[target] - tf.reduce_max(
                tf.tensor_scatter_nd_update(logits, [[target]], [-1e9])
            )
            if not toward:  # away from the predicted class instead
                margin = -tf.reduce_max(logits)
        if toward and margin > 0.1:
            break
        x = x + step * tf.sign(tape.gradient(margin, x))
        x = original + tf.clip_by_value(x - original, -bound * eps, bound * eps)
    return x.numpy()


def shift(image, dx, dy, fill):
    h, w = image.shape[:2]
    out = np.full(image.shape, fill, dtype=float)
    src = image[max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
    out[max(dy, 0) : max(dy, 0) + src.shape[0], max(dx, 0) : max(dx, 0) + src.shape[1]] = src
    return out


def _pool(m):
    return m.reshape(4, 2, 4, 2).max(axis=(1, 3))


def pooled_change():
    x = np.random.default_rng(0).normal(size=(9, 9))
    return float(np.mean(_pool(x[:8, :8]) != _pool(x[:8, 1:])))


def _budget_per_step(model, images, target, eps, steps=5):
    x = tf.constant(images, dtype=tf.float32)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = model(x)[0, target]
        x = x + tf.clip_by_value(eps * tf.sign(tape.gradient(score, x)), -eps, eps)
    return x.numpy()


def _one_big_step(model, images, target, eps):
    return fool(model, images, target, eps, steps=1, step=10 * eps, bound=10)


ANSWERS = {"13.1": fool, "13.2": shift, "13.3": pooled_change()}

MISTAKES = {
    "13.1": [
        _one_big_step,  # one step far past the allowed change: the bound never enforced
        _budget_per_step,  # eps allowed at every step: the total change grows past it
        lambda model, images, target, eps: fool(model, images, target, eps, toward=False),
        # away from the predicted class: it changes the answer, not to the target
    ],
    "13.2": [
        lambda image, dx, dy, fill: np.roll(image, (dy, dx), axis=(0, 1)),  # wraps around
        lambda image, dx, dy, fill: shift(image, dy, dx, fill),  # right and down exchanged
        lambda image, dx, dy, fill: shift(image, dx, dy, 0.0),  # the fill value ignored
    ],
    "13.3": [
        0.0,  # max pooling taken for shift-invariant
        1.0,  # every pooled value taken to change
        float(np.mean(np.random.default_rng(0).normal(size=(9, 9))[:8, :8] > 0)),  # a guess
    ],
}
