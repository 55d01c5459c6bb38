"""RISE with a fixed mask set against a plain loop, and the random masks' definition."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zfkeras.methods import random_masks


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((10, 12, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x))


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).normal(size=(3, 10, 12, 3)).astype(np.float32)


@pytest.mark.parametrize("batch_size", [4, 128])
def test_fixed_masks_against_a_loop(model, images, batch_size):
    masks = np.random.default_rng(1).random((7, 10, 12)).astype(np.float32)
    cls = [2, 0, 1]
    got = random_masks.rise(model, images, cls, masks=masks, batch_size=batch_size)
    for i, x in enumerate(images):
        ref = np.zeros((10, 12))
        for m in masks:
            ref += model(x[None] * m[None, :, :, None]).numpy()[0, cls[i]] * m
        ref /= masks.mean(axis=(1, 2)).sum()
        np.testing.assert_allclose(got[i], ref, rtol=1e-5)


def test_masks_match_the_papers_recipe():
    size, cells, p = (10, 12), 3, 0.5
    masks = random_masks.rise_masks(5, size, cells, p, seed=3)
    rng = np.random.default_rng(3)
    grids = (rng.random((5, cells, cells)) < p).astype(np.float32)
    shifts = np.stack([rng.integers(0, c, 5) for c in (4, 4)], 1)  # cell = ceil(10/3), ceil(12/3)
    for mask, grid, (dy, dx) in zip(masks, grids, shifts):
        # upsample the grid to (cells + 1) * cell, bilinear (half-pixel centres), then crop
        big = tf.image.resize(grid[..., None], (16, 16), "bilinear", antialias=False)
        np.testing.assert_allclose(mask, big.numpy()[dy : dy + 10, dx : dx + 12, 0], atol=1e-6)
    np.testing.assert_allclose(random_masks.rise_masks(5, size, cells, p, seed=3), masks)
    assert masks.min() >= 0 and masks.max() <= 1


def test_random_masks_are_the_fixed_ones(model, images):
    masks = random_masks.rise_masks(20, (10, 12), 4, 0.4, seed=7)
    np.testing.assert_allclose(
        random_masks.rise(
            model, images, samples=20, cells=4, probability=0.4, seed=7, batch_size=6
        ),
        random_masks.rise(model, images, masks=masks),
        rtol=1e-5,
    )


def test_bad_size():
    with pytest.raises(ValueError, match="size"):
        random_masks.rise_masks(3, (10,))
