"""Solutions to chapter 08's exercises (gradient ascent, class models, feature inversion), and
the mistakes they catch."""

import keras
import numpy as np
import tensorflow as tf


def _grad(fn, x):
    x = tf.constant(x, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = fn(x)
    return tape.gradient(value, x).numpy()


def ascent_step(model, images, channels, step):
    g = _grad(lambda x: tf.reduce_mean(model(x)[..., channels]), images)
    return images + step * g / (np.sqrt(np.mean(g**2)) + 1e-8)


def class_model(model, class_index, steps=20, step=0.1, clip=True):
    x = np.zeros((1, *model.input_shape[1:]), dtype="float32")
    for _ in range(steps):
        g = _grad(lambda v: model(v)[0, class_index], x)
        x = (x + step * g / (np.sqrt(np.mean(g**2)) + 1e-8)).astype("float32")
        x = np.clip(x, -1, 1) if clip else x
    return x


def best_patch(w):
    return w / np.linalg.norm(w)


def invert(features, target, shape, steps=100, rate=0.05, decay=1e-4):
    x = tf.Variable(tf.zeros(shape))
    target = tf.constant(target, dtype=tf.float32)
    optimizer = keras.optimizers.Adam(rate)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum((features(x) - target) ** 2) / tf.reduce_sum(target**2)
            loss += decay * tf.reduce_sum(x**2)
        optimizer.apply_gradients([(tape.gradient(loss, x), x)])

    for _ in range(steps):
        step()
    return x.numpy()


def _descend(model, class_index):
    return class_model(model, class_index, step=-0.1)


def _unclipped(model, class_index):
    return class_model(model, class_index, step=0.5, clip=False)


def _unnormalized(model, images, channels, step):
    g = _grad(lambda x: tf.reduce_mean(model(x)[..., channels]), images)
    return images + step * g


def _unit_length(model, images, channels, step):
    g = _grad(lambda x: tf.reduce_mean(model(x)[..., channels]), images)
    return images + step * g / np.linalg.norm(g)


ANSWERS = {"08.1": ascent_step, "08.2": class_model, "08.3": best_patch, "08.4": invert}

MISTAKES = {
    "08.1": [
        lambda model, images, channels, step: ascent_step(model, images, channels, -step),  # down
        _unnormalized,  # the raw gradient: the step's size follows the gradient's scale
        _unit_length,  # divided by the norm, not the root mean square
    ],
    "08.2": [
        _descend,  # down the class score
        _unclipped,  # never clipped: the image leaves [-1, 1]
        lambda model, class_index: np.zeros((1, *model.input_shape[1:]), "float32"),  # no step
    ],
    "08.3": [
        lambda w: -w / np.linalg.norm(w),  # the least excited patch
        lambda w: np.sign(w) / np.sqrt(w.size),  # the best patch of another norm (the largest)
        lambda w: w / np.abs(w).max(),  # not unit norm
    ],
    "08.4": [
        lambda features, target, shape: np.zeros(shape),  # the starting image
        lambda features, target, shape: invert(features, target, shape, rate=-0.05),  # ascent
        lambda features, target, shape: invert(features, target, shape, steps=2),  # too few steps
    ],
}
