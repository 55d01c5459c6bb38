"""Invariance: identity amounts, known transformations, known distances, errors."""

import warnings

import keras
import numpy as np
import pytest

from zfkeras import figures
from zfkeras.experiments import invariance
from zfkeras.methods import softmax


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
        keras.layers.Concatenate()([y, keras.layers.Dense(1)(f)])
    )
    return keras.Model(x, out)


@pytest.mark.parametrize("kind", invariance.KINDS)
def test_identity_is_exact(images, kind):
    np.testing.assert_allclose(
        invariance.transform(images, kind, invariance.IDENTITY[kind]), images, atol=1e-6
    )


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
        res = invariance.invariance_curves(
            model,
            images,
            [0, 1, 2],
            kind=kind,
            amounts=[invariance.IDENTITY[kind]],
            layers=("conv1", "fc7"),
        )
        for name in ("conv1", "fc7"):
            np.testing.assert_allclose(res.distance[name], 0, atol=1e-5)
        base = model.predict(images, verbose=0)[np.arange(3), [0, 1, 2]]
        np.testing.assert_allclose(res.probability[0], base, rtol=1e-5)


def test_known_distance_on_pixels(model, images):
    res = invariance.invariance_curves(
        model,
        images,
        [0, 0, 0],
        kind="translation",
        amounts=[0, 2, -1],
        layers=("flat",),
        batch_size=2,
    )
    for a, t in enumerate([0, 2, -1]):
        shifted = np.zeros_like(images)
        if t > 0:
            shifted[:, t:] = images[:, :-t]
        elif t < 0:
            shifted[:, :t] = images[:, -t:]
        else:
            shifted = images
        d = np.linalg.norm((shifted - images).reshape(3, -1), axis=1)
        np.testing.assert_allclose(res.distance["flat"][a], d, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(
            res.relative["flat"][a], d / np.linalg.norm(images.reshape(3, -1), axis=1), rtol=1e-5
        )
    assert res.probability.shape == res.prediction.shape == (3, 3)


def test_figure(model, images):
    warnings.simplefilter("error", DeprecationWarning)  # the figure reads attributes
    res = [
        invariance.invariance_curves(model, images, [0, 1, 2], kind=k, amounts=[0.5, 1, 2])
        for k in ("translation", "scale")
    ]
    fig = figures.invariance_figure(res, names=["a", "b", "c"])
    assert len(fig.axes) == 6


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kind="shear"), "kind must be one of"),
        (dict(amounts=[]), "amounts must be a non-empty"),
        (dict(class_index=[0]), "class_index must be None, an int or 3 ints"),
        (dict(class_index=3), r"class_index must be in \[0, 3\), got 3"),
        (dict(layers=("nope",)), "layers must name a layer of the model, got 'nope'"),
        (dict(layers="conv1"), "layers must be a sequence of layer names"),
        (dict(images=np.zeros((10, 10, 2))), r"images must have shape \(N, 10, 10, 2\), got shape"),
    ],
)
def test_errors(model, images, kwargs, match):
    args = (
        dict(model=model, images=images, class_index=[0, 1, 2], kind="translation", amounts=[0, 1])
        | kwargs
    )
    with pytest.raises((ValueError, TypeError), match=match):
        invariance.invariance_curves(**args)


def ending(form, seed=0):
    """A small classifier whose output is made by ``form``: a softmax fused into the last
    Dense, an Activation("softmax"), a Softmax layer, none (logits), or a Softmax layer at the
    end of a nested model."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((10, 10, 2))
    c = keras.layers.Conv2D(3, 3, activation="relu", name="conv1")(x)
    f = keras.layers.Dense(5, activation="relu", name="fc7")(keras.layers.Flatten()(c))
    if form == "dense":
        return keras.Model(x, keras.layers.Dense(4, activation="softmax")(f))
    z = keras.layers.Dense(4)(f)
    if form == "activation":
        return keras.Model(x, keras.layers.Activation("softmax")(z))
    if form in ("softmax", "nested"):
        m = keras.Model(x, keras.layers.Softmax()(z), name="inner")
        return m if form == "softmax" else keras.Sequential([keras.Input((10, 10, 2)), m])
    return keras.Model(x, z)


@pytest.mark.parametrize("form", ["dense", "activation", "softmax", "nested", "none"])
def test_probabilities_for_every_softmax_form(images, form):
    # the softmax is applied once: the model's own output when it ends in a softmax (in any of
    # its forms), keras.ops.softmax of the logits otherwise (a Softmax layer used to be missed,
    # and the softmax applied twice)
    m = ending(form)
    amounts = [0, 2]
    res = invariance.invariance_curves(
        m,
        images,
        [0, 1, 3],
        kind="translation",
        amounts=amounts,
        layers=("conv1", "fc7") if form != "nested" else ("inner/conv1", "fc7"),
    )
    for a, amount in enumerate(amounts):
        out = m.predict(invariance.transform(images, "translation", amount), verbose=0)
        want = np.asarray(keras.ops.softmax(out)) if form == "none" else out
        np.testing.assert_allclose(
            res.probability[a], want[np.arange(3), [0, 1, 3]], rtol=1e-5, atol=1e-7
        )
        np.testing.assert_array_equal(res.prediction[a], want.argmax(1))
    assert softmax.ends_in_softmax(m) == (form != "none")


def test_default_class_is_the_prediction_and_old_names_are_gone(model, images):
    pred = model.predict(images, verbose=0).argmax(1)
    res = invariance.invariance_curves(model, images, None, kind="rotation", amounts=[0, 90])
    np.testing.assert_array_equal(res.class_index, pred)
    with pytest.raises(TypeError, match="labels"):
        invariance.invariance_curves(model, images, kind="rotation", amounts=[0, 90], labels=pred)
    with pytest.raises(TypeError):
        res["probability"]  # no dict access


def test_transform_errors(images):
    with pytest.raises(ValueError, match="amount must be finite"):
        invariance.transform(images, "scale", 0)
    with pytest.raises(ValueError, match="kind must be one of"):
        invariance.transform(images, "flip", 1)
