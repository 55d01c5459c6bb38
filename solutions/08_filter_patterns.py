"""Solutions to chapter 08's exercises (gradient ascent, class models, feature inversion)."""

import keras
import numpy as np
import tensorflow as tf


def _grad(fn, x):
    x = tf.constant(x, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = fn(x)
    return tape.gradient(value, x).numpy()


def ascent_step(model, image, channel, step):
    g = _grad(lambda x: tf.reduce_mean(model(x)[..., channel]), image)
    return image + step * g / (np.sqrt(np.mean(g**2)) + 1e-8)


def class_model(model, class_index, steps=20, step=0.1):
    x = np.zeros((1, *model.input_shape[1:]), dtype="float32")
    for _ in range(steps):
        g = _grad(lambda v: model(v)[0, class_index], x)
        x = np.clip(x + step * g / (np.sqrt(np.mean(g**2)) + 1e-8), -1, 1).astype("float32")
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


ANSWERS = {"08.1": ascent_step, "08.2": class_model, "08.3": best_patch, "08.4": invert}
