"""LayerwiseSGD: per-layer learning-rate multipliers, checked against SGD written out by hand;
the photometric augmentation against its definition."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zfkeras import data as zdata
from zfkeras.training import LayerwiseSGD


def _model():
    keras.utils.set_random_seed(3)
    inp = keras.Input((4,))
    h = keras.layers.Dense(3, activation="relu", name="a")(inp)
    out = keras.layers.Dense(2, name="b")(h)
    return keras.Model(inp, out)


def test_steps_match_sgd_by_hand():
    model = _model()
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    y = np.random.default_rng(1).normal(size=(8, 2)).astype("float32")
    lr, mu, mult = 0.1, 0.9, {"a": 3.0}
    opt = LayerwiseSGD(mult, learning_rate=lr, momentum=mu)
    w = [v.numpy().copy() for v in model.trainable_variables]
    velocity = [np.zeros_like(v) for v in w]
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        # plain momentum SGD with the layer's rate multiplied, by hand
        for i, (v, g) in enumerate(zip(model.trainable_variables, grads)):
            m = mult.get(v.path.split("/")[0], 1.0)
            velocity[i] = mu * velocity[i] - lr * m * g.numpy()
            w[i] = w[i] + velocity[i]
        opt.apply(grads, model.trainable_variables)
        for v, ref in zip(model.trainable_variables, w):
            np.testing.assert_allclose(v.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_no_multiplier_is_sgd_and_config_round_trip():
    m1, m2 = _model(), _model()
    x = np.ones((2, 4), "float32")
    opts = [LayerwiseSGD(None, learning_rate=0.05), keras.optimizers.SGD(0.05)]
    for model, opt in zip((m1, m2), opts):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x))
        opt.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
    for a, b in zip(m1.trainable_variables, m2.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    opt = LayerwiseSGD({"conv1": 10}, learning_rate=0.01, momentum=0.9)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(again, LayerwiseSGD) and again.multipliers == {"conv1": 10.0}


@pytest.mark.parametrize(
    "mult, err, match",
    [
        ({"a": 0}, ValueError, r"multipliers\['a'\] must be > 0"),
        ({"a": "x"}, TypeError, "multipliers must map layer names to numbers"),
        ({1: 2.0}, TypeError, "multipliers must map layer names to numbers"),
    ],
)
def test_errors(mult, err, match):
    with pytest.raises(err, match=match):
        LayerwiseSGD(mult)


def test_photometric_batch():
    x = tf.random.stateless_normal([4, 9, 9, 3], [1, 2])
    seed = tf.constant([5, 6])
    np.testing.assert_array_equal(zdata.photometric_batch(x).numpy(), x.numpy())
    # colour jitter alone is an affine map per image and channel: y = g * x + o
    y = zdata.photometric_batch(x, colour_jitter=0.3, seed=seed).numpy()
    xs = x.numpy().reshape(4, -1, 3)
    for i in range(4):
        for c in range(3):
            g, o = np.polyfit(xs[i, :, c], y[i].reshape(-1, 3)[:, c], 1)
            assert 0.7 <= g <= 1.3
            np.testing.assert_allclose(y[i, ..., c], g * x.numpy()[i, ..., c] + o, atol=1e-4)
    # blur with probability 1 is the binomial filter (checked at an inner pixel)
    b = zdata.photometric_batch(x, blur=1.0, seed=seed).numpy()
    taps = np.array([1, 4, 6, 4, 1]) / 16
    ref = np.einsum("i,j,ijc->c", taps, taps, x.numpy()[0, 2:7, 2:7])
    np.testing.assert_allclose(b[0, 4, 4], ref, atol=1e-5)
    # two passes are the 9-tap binomial (1 8 28 56 70 56 28 8 1) / 256, worked out by hand
    b2 = zdata.photometric_batch(x, blur=1.0, seed=seed, blur_passes=2).numpy()
    taps9 = np.array([1, 8, 28, 56, 70, 56, 28, 8, 1]) / 256
    ref9 = np.einsum("i,j,ijc->c", taps9, taps9, x.numpy()[1, 0:9, 0:9])
    np.testing.assert_allclose(b2[1, 4, 4], ref9, atol=1e-5)
    # and smoother: less energy in the neighbour differences than one pass
    assert np.abs(np.diff(b2, axis=1)).mean() < np.abs(np.diff(b, axis=1)).mean()
    with pytest.raises(ValueError, match="blur_passes must be >= 1, got 0"):
        zdata.photometric_batch(x, blur=1.0, blur_passes=0)
    with pytest.raises(TypeError, match="blur_passes must be an int, got float"):
        zdata.photometric_batch(x, blur=1.0, blur_passes=1.5)
    with pytest.raises(ValueError, match="blur must be a probability"):
        zdata.photometric_batch(x, blur=2.0)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        zdata.photometric_batch(x, noise=-1.0)


def test_layer_of_names_the_layer_a_weight_belongs_to():
    from zfkeras.training.optimizer import layer_of

    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="conv1")], name="outer")
    model = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2, name="fc")])
    assert [layer_of(v) for v in model.weights] == ["conv1", "conv1", "fc", "fc"]
    assert layer_of(keras.Variable(1.0, name="lonely")) == ""
