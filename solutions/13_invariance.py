"""Solutions to chapter 13's exercises (fooling images, translation, pooling's invariance)."""

import numpy as np
import tensorflow as tf


def fool(model, image, target, eps, steps=50, step=0.01):
    x = tf.constant(image, dtype=tf.float32)
    original = x
    for _ in range(steps):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = model(x)[0]
            margin = logits[target] - tf.reduce_max(
                tf.tensor_scatter_nd_update(logits, [[target]], [-1e9])
            )
        if margin > 0.1:
            break
        x = x + step * tf.sign(tape.gradient(margin, x))
        x = original + tf.clip_by_value(x - original, -eps, eps)
    return x.numpy()


def shift(image, dx, dy, fill):
    h, w = image.shape[:2]
    out = np.full(image.shape, fill, dtype=float)
    src = image[max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
    out[max(dy, 0) : max(dy, 0) + src.shape[0], max(dx, 0) : max(dx, 0) + src.shape[1]] = src
    return out


def pooled_change():
    x = np.random.default_rng(0).normal(size=(9, 9))

    def pool(m):
        return m.reshape(4, 2, 4, 2).max(axis=(1, 3))

    return float(np.mean(pool(x[:8, :8]) != pool(x[:8, 1:])))


ANSWERS = {"13.1": fool, "13.2": shift, "13.3": pooled_change()}
