"""Invariance: identity amounts, known transformations, known distances, errors."""

import keras
import numpy as np
import pytest

from zfkeras import figures
from zfkeras.experiments import invariance


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).normal(size=(3, 10, 10, 2)).astype("float32")


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    x = keras.Input((10, 10, 2))
    c = keras.layers.Conv2D(3, 3, activation="relu", name="conv1")(x)
    f = keras.layers.Flatten(name="flat")(x)
    y = keras.layers.Dense(4, activation="relu", name="fc7")(keras.layers.Flatten()(c))
    out = keras.layers.Dense(3, activation="softmax", name="predictions")(
        keras.layers.Concatenate()([y, keras.layers.Dense(1)(f)]))
    return keras.Model(x, out)


@pytest.mark.parametrize("kind", invariance.KINDS)
def test_identity_is_exact(images, kind):
    np.testing.assert_allclose(invariance.transform(images, kind, invariance.IDENTITY[kind]),
                               images, atol=1e-6)


def test_integer_translation_is_a_shift(images):
    out = invariance.transform(images, "translation", 3, fill=-7.0)
    np.testing.assert_allclose(out[:, 3:], images[:, :-3], atol=1e-6)
    assert np.all(out[:, :3] == -7.0)


def test_rotation_by_90_is_rot90(images):
    out = invariance.transform(images, "rotation", 90)
    np.testing.assert_allclose(out, np.rot90(images, 1, axes=(1, 2)), atol=1e-5)


def test_scale_by_2_about_the_centre():
    x = np.zeros((1, 9, 9, 1), np.float32)
    x[0, 3, 4] = 1.0  # one pixel above the centre (4, 4)
    out = invariance.transform(x, "scale", 2.0)
    assert out[0, 2, 4, 0] == pytest.approx(1.0)  # twice as far from the centre
    assert out[0, 4, 4, 0] == pytest.approx(0.0)


def test_zero_distance_at_identity(model, images):
    for kind in invariance.KINDS:
        res = invariance.invariance_curves(model, images, [0, 1, 2], kind,
                                           [invariance.IDENTITY[kind]], layers=("conv1", "fc7"))
        for name in ("conv1", "fc7"):
            np.testing.assert_allclose(res["distance"][name], 0, atol=1e-5)
        base = model.predict(images, verbose=0)[np.arange(3), [0, 1, 2]]
        np.testing.assert_allclose(res["probability"][0], base, rtol=1e-5)


def test_known_distance_on_pixels(model, images):
    res = invariance.invariance_curves(model, images, [0, 0, 0], "translation", [0, 2, -1],
                                       layers=("flat",), batch_size=2)
    for a, t in enumerate([0, 2, -1]):
        shifted = np.zeros_like(images)
        if t > 0:
            shifted[:, t:] = images[:, :-t]
        elif t < 0:
            shifted[:, :t] = images[:, -t:]
        else:
            shifted = images
        d = np.linalg.norm((shifted - images).reshape(3, -1), axis=1)
        np.testing.assert_allclose(res["distance"]["flat"][a], d, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(res["relative"]["flat"][a],
                                   d / np.linalg.norm(images.reshape(3, -1), axis=1), rtol=1e-5)
    assert res["probability"].shape == res["prediction"].shape == (3, 3)


def test_figure(model, images):
    res = [invariance.invariance_curves(model, images, [0, 1, 2], k, [0.5, 1, 2])
           for k in ("translation", "scale")]
    fig = figures.invariance_figure(res, names=["a", "b", "c"])
    assert len(fig.axes) == 6


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="shear"), "kind must be one of"),
    (dict(amounts=[]), "amounts must be a non-empty"),
    (dict(labels=[0]), "labels must be"),
    (dict(layers=("nope",)), "layers must be names"),
    (dict(images=np.zeros((10, 10, 2))), "images must be"),
])
def test_errors(model, images, kwargs, match):
    args = dict(model=model, images=images, labels=[0, 1, 2], kind="translation",
                amounts=[0, 1]) | kwargs
    with pytest.raises(ValueError, match=match):
        invariance.invariance_curves(**args)


def test_transform_errors(images):
    with pytest.raises(ValueError, match="amount must be finite"):
        invariance.transform(images, "scale", 0)
    with pytest.raises(ValueError, match="kind must be one of"):
        invariance.transform(images, "flip", 1)
