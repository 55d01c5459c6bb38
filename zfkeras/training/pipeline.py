"""The data side of training (paper section 3): a recipe's images, the augmented ``tf.data``
pipelines, and top-1 accuracy with the single centre crop or the paper's 10 crops.

Every random draw of the pipelines comes from the recipe's seed (the shuffle's seed and a
seeded stream of per-batch seeds for the crops, flips and photometric changes), never from the
global generators.
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
    batches (zip it with the batches), drawn from ``seed``: the same in every process, new
    draws on every pass, and no global generator touched."""
    stream = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return stream.map(lambda s: s % (2**31 - 3)).batch(2)


def make_datasets(recipe: Recipe, xtr, ytr, xte, yte, mean):
    """``tf.data`` pipelines: shuffled, augmented training batches and centre-crop test batches.

    The training batches are shuffled with ``recipe.seed`` and augmented with per-batch seeds
    drawn from a stream seeded by ``recipe.seed`` (new draws on every pass over the data), so a
    recipe's pipeline is the same in every process and touches no global generator.
    """
    size, scale = recipe.image_size, recipe.crop_scale

    def train_map(xy, seed):
        x, y = xy
        x = zdata.augment_batch(x, mean, size, scale, seed=seed)
        x = zdata.photometric_batch(
            x,
            recipe.colour_jitter,
            recipe.noise,
            recipe.blur,
            blur_passes=recipe.blur_passes,
            seed=seed + 2,
        )
        return x, y

    def test_map(x, y):
        return zdata.centre_crop(zdata.normalize(x, mean), size, scale), y

    batches = (
        tf.data.Dataset.from_tensor_slices((xtr, ytr))
        .shuffle(len(xtr), seed=recipe.seed, reshuffle_each_iteration=True)
        .batch(recipe.batch_size, drop_remainder=True)
    )
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
) -> float:
    """Top-1 accuracy on uint8 images: centre crop, or the paper's 10-crop average of softmax
    outputs (``ten_crop=True``), in passes of ``batch_size`` images."""
    size = int(model.input.shape[1])
    correct = 0

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
        correct += int(np.sum(np.argmax(p.numpy(), 1) == labels[i : i + batch_size]))
    return correct / len(images)


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
