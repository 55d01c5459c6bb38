"""The data side of training (paper section 3): a recipe's images, the augmented ``tf.data``
pipelines, and top-1 accuracy with the single centre crop or the paper's 10 crops.

Every random draw of the pipelines comes from the recipe's seed through stateless ops (each
pass's permutation and each batch's seed for the crops, flips and photometric changes), never
from the global generators, whose state therefore changes neither the draws nor by them.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from zfkeras import data as zdata
from zfkeras.training.recipe import DATASETS, Recipe

BATCH_SIZE = 128  # as checks.BATCH_SIZE: model inputs per compiled pass


def load_dataset(recipe: Recipe, data_dir: str | None = None):
    """Return ``(x_train, y_train, x_test, y_test, class_names)`` as uint8 images for a recipe."""
    if recipe.dataset == "cifar10":
        xtr, ytr = zdata.cifar10("train", data_dir)
        xte, yte = zdata.cifar10("test", data_dir)
        names = list(zdata.CIFAR10_CLASSES)
        rng = np.random.default_rng(recipe.seed)
        if recipe.train_size:
            keep = np.sort(rng.permutation(len(xtr))[: recipe.train_size])
            xtr, ytr = xtr[keep], ytr[keep]
        if recipe.test_size:
            keep = np.sort(rng.permutation(len(xte))[: recipe.test_size])
            xte, yte = xte[keep], yte[keep]
    elif recipe.dataset in ("shapes", "concepts"):
        make = zdata.shapes if recipe.dataset == "shapes" else zdata.concepts
        tr = make(recipe.train_size or 20000, seed=recipe.seed + 1, image_size=recipe.image_size)
        te = make(recipe.test_size or 2000, seed=recipe.seed + 2, image_size=recipe.image_size)
        xtr, ytr, xte, yte = tr.images, tr.labels, te.images, te.labels
        names = list(tr.class_names)
    else:
        raise ValueError(f"dataset must be one of {DATASETS}, got {recipe.dataset!r}")
    return xtr, ytr, xte, yte, names


def batch_seeds(*, seed: int = 0) -> tf.data.Dataset:
    """An endless stream of ``[2]`` int64 seeds for the stateless random ops of a pipeline's
    batches (zip it with the batches): seed ``k`` is drawn statelessly from ``(seed, k)``, so
    the stream is the same in every process whatever the global generators hold, and it
    touches none of them."""

    def draw(k):
        key = tf.stack([tf.constant(seed, tf.int64), k])
        return tf.random.stateless_uniform([2], key, 0, 2**31 - 1, tf.int64)

    return tf.data.Dataset.counter().map(draw)


def shuffled_batches(n: int, *, batch_size: int = BATCH_SIZE, seed: int = 0) -> tf.data.Dataset:
    """Endless batches of indices into ``n`` examples: every pass over the data is its own
    permutation (pass ``e`` drawn statelessly from ``(seed, e)``) cut into
    ``steps_for(n, batch_size=batch_size)`` batches (the incomplete last batch dropped), so
    the order is the same in every process and no global generator is touched."""
    steps = steps_for(n, batch_size=batch_size)

    def one_pass(e):
        key = tf.stack([tf.constant(seed, tf.int64), e])
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), key)
        return tf.data.Dataset.from_tensor_slices(order[: steps * batch_size]).batch(batch_size)

    return tf.data.Dataset.counter().flat_map(one_pass)


def make_datasets(recipe: Recipe, xtr, ytr, xte, yte, mean):
    """``tf.data`` pipelines: endless shuffled, augmented training batches (one pass over the
    images every ``steps_for(len(xtr), batch_size=recipe.batch_size)`` batches) and
    centre-crop test batches.

    Every random draw comes from ``recipe.seed`` through stateless ops
    (:func:`shuffled_batches`, :func:`batch_seeds`): a recipe's pipeline is the same in every
    process, whatever the global generators hold, and touches none of them.
    """
    size, scale = recipe.image_size, recipe.crop_scale
    images, labels = tf.constant(xtr), tf.constant(ytr)

    def train_map(index, seed):
        x = zdata.augment_batch(tf.gather(images, index), mean, size, scale, seed=seed)
        x = zdata.photometric_batch(
            x,
            recipe.colour_jitter,
            recipe.noise,
            recipe.blur,
            blur_passes=recipe.blur_passes,
            seed=seed + 2,
        )
        x = zdata.hide_patches(x, recipe.hide, recipe.hide_patch, seed=seed + 7)
        return x, tf.gather(labels, index)

    def test_map(x, y):
        return zdata.centre_crop(zdata.normalize(x, mean), size, scale), y

    batches = shuffled_batches(len(xtr), batch_size=recipe.batch_size, seed=recipe.seed)
    train = (
        tf.data.Dataset.zip((batches, batch_seeds(seed=recipe.seed)))
        .map(train_map, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    test = (
        tf.data.Dataset.from_tensor_slices((xte, yte))
        .batch(256)
        .map(test_map, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    return train, test


def evaluate(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    mean: np.ndarray,
    crop_scale: float,
    *,
    ten_crop: bool = False,
    batch_size: int = BATCH_SIZE,
    per_image: bool = False,
) -> float | np.ndarray:
    """Top-1 accuracy on uint8 images: centre crop, or the paper's 10-crop average of softmax
    outputs (``ten_crop=True``), in passes of ``batch_size`` images. With ``per_image=True``,
    whether each image's top-1 class is its label instead: bool ``(N,)``, the measurements a
    verdict takes (their mean is the accuracy)."""
    size = int(model.input.shape[1])
    hits = []

    @tf.function(reduce_retracing=True, autograph=False)  # plain TF ops: nothing to convert
    def predict(x):
        xb = zdata.normalize(x, mean)
        if ten_crop:
            crops = zdata.ten_crops(xb, size, crop_scale)
            probs = model(tf.reshape(crops, (-1, size, size, 3)), training=False)
            return tf.reduce_mean(tf.reshape(probs, (10, tf.shape(xb)[0], -1)), 0)
        return model(zdata.centre_crop(xb, size, crop_scale), training=False)

    for i in range(0, len(images), batch_size):
        p = predict(tf.constant(images[i : i + batch_size]))
        hits.append(np.argmax(p.numpy(), 1) == labels[i : i + batch_size])
    hits = np.concatenate(hits) if hits else np.zeros(0, bool)
    return hits if per_image else int(hits.sum()) / len(images)


def steps_for(n_images: int, *, batch_size: int = BATCH_SIZE) -> int:
    """Optimizer steps in one epoch of ``n_images`` (incomplete last batch dropped)."""
    return max(1, math.floor(n_images / batch_size))


def confusion_counts(labels, predictions, num_classes: int) -> np.ndarray:
    """``(C, C)`` int counts: row = true class, column = predicted class.

    Raises:
        ValueError: the arrays differ in shape or hold a class outside ``[0, num_classes)``.
    """
    labels, predictions = np.asarray(labels).ravel(), np.asarray(predictions).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(
            f"labels and predictions must have the same shape, got {labels.shape} "
            f"and {predictions.shape}"
        )
    for name, a in (("labels", labels), ("predictions", predictions)):
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got [{a.min()}, {a.max()}]")
    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts
