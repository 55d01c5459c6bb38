"""SmoothGrad and Integrated Gradients against independent computations (a bare GradientTape
on hand-written logits, plain loops), the error table, and the six new attribution methods on
a keras.applications CNN and on a nested model."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zfkeras
from zfkeras.methods import attribution, cams, random_masks


@pytest.fixture(scope="module")
def model(tiny_model):
    return tiny_model()  # conv1, conv2 (ReLU), global average, fc7, predictions (softmax)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).normal(size=(3, 12, 12, 3)).astype(np.float32)


def logits(model, x):
    """Independent pre-softmax scores: the penultimate output times the last kernel."""
    last = model.get_layer("predictions")
    feat = keras.Model(model.input, last.input)(x, training=False)
    return feat @ last.kernel + last.bias


def tape_gradient(model, x, cls):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = logits(model, x)
        score = tf.reduce_sum(z * tf.one_hot(cls, z.shape[-1]))
    return tape.gradient(score, x).numpy()


def test_smoothgrad_one_sample_no_noise_is_the_gradient(model, images):
    cls = np.array([0, 2, 3])
    got = attribution.smoothgrad(model, images, cls, samples=1, noise=0.0, verbose=0)
    ref = tape_gradient(model, images, cls)
    assert np.abs(ref).max() > 0
    np.testing.assert_allclose(got, ref, atol=1e-5 * np.abs(ref).max())


def test_smoothgrad_averages_noisy_gradients(model, images):
    got = attribution.smoothgrad(model, images, 1, samples=3, noise=0.2, batch_size=2, seed=4)
    for i, x in enumerate(images):
        sigma = 0.2 * (x.max() - x.min())
        eps = tf.random.stateless_normal((3, *x.shape), (4, i)).numpy()
        ref = np.mean([tape_gradient(model, (x + sigma * e)[None], [1])[0] for e in eps], 0)
        np.testing.assert_allclose(got[i], ref, atol=1e-5 * np.abs(ref).max())
    again = attribution.smoothgrad(model, images, 1, samples=3, noise=0.2, batch_size=64, seed=4)
    np.testing.assert_allclose(again, got, atol=1e-7)  # independent of the batching
    other = attribution.smoothgrad(model, images, 1, samples=3, noise=0.2, seed=5)
    assert np.abs(other - got).max() > 1e-4


def test_integrated_gradients_completeness():
    keras.utils.set_random_seed(3)
    inp = keras.Input((10, 10, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    net = keras.Model(inp, keras.layers.Dense(3)(x))  # logits: no softmax
    images = np.random.default_rng(0).normal(size=(4, 10, 10, 3)).astype(np.float32)
    base = np.full((10, 10, 3), 0.3, np.float32)
    attr = attribution.integrated_gradients(net, images, 2, baseline=base, steps=64, verbose=0)
    gap = net(images).numpy()[:, 2] - net(base[None]).numpy()[0, 2]
    assert np.abs(gap).min() > 1e-3
    np.testing.assert_allclose(attr.sum(axis=(1, 2, 3)), gap, rtol=0.02)


def test_integrated_gradients_is_the_midpoint_rule(model, images):
    cls = np.array([3, 0, 1])
    got = attribution.integrated_gradients(model, images, cls, baseline=0.5, steps=4, batch_size=5)
    path = [0.5 + a * (images - 0.5) for a in (0.125, 0.375, 0.625, 0.875)]
    ref = (images - 0.5) * np.mean([tape_gradient(model, p, cls) for p in path], 0)
    np.testing.assert_allclose(got, ref, atol=1e-5 * np.abs(ref).max())


def test_predicted_class_by_default(model, images):
    top = np.argmax(model(images).numpy(), -1)
    np.testing.assert_allclose(
        attribution.integrated_gradients(model, images, steps=2),
        attribution.integrated_gradients(model, images, top, steps=2),
    )


BAD = [
    (attribution.smoothgrad, {"samples": 0}, ValueError, "samples"),
    (attribution.smoothgrad, {"samples": 2.5}, TypeError, "samples"),
    (attribution.smoothgrad, {"noise": -1.0}, ValueError, "noise"),
    (attribution.smoothgrad, {"seed": -1}, ValueError, "seed"),
    (attribution.integrated_gradients, {"steps": 0}, ValueError, "steps"),
    (attribution.integrated_gradients, {"baseline": np.zeros((4, 4, 3))}, ValueError, "baseline"),
    (attribution.integrated_gradients, {"baseline": "black"}, TypeError, "baseline"),
    (attribution.integrated_gradients, {"baseline": np.nan}, ValueError, "baseline"),
    (attribution.integrated_gradients, {"batch_size": 0}, ValueError, "batch_size"),
    (attribution.integrated_gradients, {"verbose": 2}, ValueError, "verbose"),
    (cams.gradcam_plus_plus, {"layer": "nope"}, ValueError, "layer"),
    (cams.layercam, {"layer": "fc7"}, ValueError, "layer"),
    (cams.scorecam, {"top_channels": 0}, ValueError, "top_channels"),
    (cams.scorecam, {"top_channels": 99}, ValueError, "top_channels"),
    (random_masks.rise, {"samples": 0}, ValueError, "samples"),
    (random_masks.rise, {"probability": 1.5}, ValueError, "probability"),
    (random_masks.rise, {"cells": 0}, ValueError, "cells"),
    (random_masks.rise, {"masks": np.ones((2, 5, 5))}, ValueError, "masks"),
    (random_masks.rise, {"masks": np.zeros((2, 12, 12))}, ValueError, "masks"),
]


@pytest.mark.parametrize("fn, kwargs, error, word", BAD)
def test_bad_arguments(model, images, fn, kwargs, error, word):
    with pytest.raises(error, match=word):
        fn(model, images, **kwargs)


@pytest.mark.parametrize("fn", [attribution.smoothgrad, cams.scorecam, random_masks.rise])
@pytest.mark.parametrize(
    "value, error, word",
    [
        (np.zeros((12, 12, 3)), ValueError, "images"),  # one image is a batch of one
        (np.full((1, 12, 12, 3), np.nan), ValueError, "images"),
        ("x", TypeError, "images"),
    ],
)
def test_bad_images(model, fn, value, error, word):
    with pytest.raises(error, match=word):
        fn(model, value)


@pytest.mark.parametrize("fn", [cams.layercam, attribution.integrated_gradients])
def test_bad_class_and_model(model, images, fn):
    with pytest.raises(ValueError, match="class_index"):
        fn(model, images, class_index=4)
    with pytest.raises(TypeError, match="model"):
        fn("model", images)


ALL = {
    "smoothgrad": lambda m, x: attribution.smoothgrad(m, x, samples=2),
    "integrated_gradients": lambda m, x: attribution.integrated_gradients(m, x, steps=4),
    "gradcam_plus_plus": cams.gradcam_plus_plus,
    "layercam": cams.layercam,
    "scorecam": lambda m, x: cams.scorecam(m, x, top_channels=4),
    "rise": lambda m, x: random_masks.rise(m, x, samples=8),
}


@pytest.fixture(scope="module")
def mobilenet():
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV2(
        weights=None, input_shape=(32, 32, 3), classes=10, alpha=0.35
    )


@pytest.mark.parametrize("name", ALL)
def test_keras_applications(mobilenet, name):
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    out = np.asarray(ALL[name](mobilenet, x))
    assert out.shape[:3] == (2, 32, 32) and np.isfinite(out).all()


def test_nested_model_equals_flat():
    keras.utils.set_random_seed(2)
    convs = [keras.layers.Conv2D(5, 3, activation="relu", name=f"k{i}") for i in (1, 2)]
    head = [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")]
    inner_in = keras.Input((12, 12, 3))
    inner = keras.Model(inner_in, convs[1](convs[0](inner_in)), name="body")
    inp = keras.Input((12, 12, 3))
    nested = keras.Model(inp, head[1](head[0](inner(inp))))
    flat = keras.Model(inp, head[1](head[0](convs[1](convs[0](inp)))))
    x = np.random.default_rng(0).normal(size=(2, 12, 12, 3)).astype(np.float32)
    for name, fn in ALL.items():
        np.testing.assert_allclose(fn(nested, x), fn(flat, x), atol=1e-5, err_msg=name)
    np.testing.assert_allclose(
        cams.layercam(nested, x, layer="body/k1"), cams.layercam(flat, x, layer="k1"), atol=1e-5
    )


def test_public_names():
    for name in ALL:
        assert getattr(zfkeras, name) is getattr(zfkeras.methods, name)
