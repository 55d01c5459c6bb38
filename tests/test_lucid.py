"""Lucid-style feature visualization: the Fourier parameterization against NumPy's FFT, the
colour decorrelation against hand-made two-colour data, the transforms against exact shifts
and flips, the diversity term against a loop, and objectives that rise (values checked by an
independent forward pass)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zfkeras
from zfkeras.methods import ascent, lucid, parameterization


def test_fourier_round_trip():
    size = (8, 10)
    img = np.random.default_rng(0).normal(size=(2, *size, 3))
    scale = parameterization.fourier_scale(size)
    spec = np.fft.rfft2(np.transpose(img, (0, 3, 1, 2)) * 4) / scale
    spec = np.stack([spec.real, spec.imag], -1).astype(np.float32)
    back = parameterization.fourier_image(tf.constant(spec), scale, size).numpy()
    np.testing.assert_allclose(back, img, atol=1e-5)


def test_spectrum_scaling_is_one_over_f():
    h, w = 16, 20
    scale = parameterization.fourier_scale((h, w))
    root = np.sqrt(h * w)
    assert scale.shape == (h, w // 2 + 1)
    np.testing.assert_allclose(scale[0, 0], root * 20, rtol=1e-6)  # f = 0 -> 1 / max(H, W)
    np.testing.assert_allclose(scale[0, 5], root / (5 / 20), rtol=1e-6)
    np.testing.assert_allclose(scale[4, 0], root / (4 / 16), rtol=1e-6)
    np.testing.assert_allclose(scale[3, 4], root / np.hypot(3 / 16, 4 / 20), rtol=1e-6)
    np.testing.assert_allclose(parameterization.fourier_scale((h, w), 0.0), root, rtol=1e-6)
    # white spectra -> images whose power falls as 1/f^2: a band twice as high, 1/4 the power
    spec = np.random.default_rng(1).normal(size=(64, 1, 32, 17, 2)).astype(np.float32)
    imgs = parameterization.fourier_image(spec, parameterization.fourier_scale((32, 32)), (32, 32))
    power = np.abs(np.fft.fft2(imgs.numpy()[..., 0])) ** 2
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(32), np.fft.fftfreq(32), indexing="ij"))
    low, high = power[:, np.abs(f - 1 / 8) < 0.01].mean(), power[:, np.abs(f - 1 / 4) < 0.01].mean()
    assert 3 < low / high < 5.3


def two_colours(n=6, size=8):
    a, b = np.array([1.0, 0.2, -0.5]), np.array([-0.6, 0.4, 0.9])
    pick = np.random.default_rng(2).random((n, size, size, 1)) < 0.3
    return np.where(pick, a, b).astype(np.float32), a - b


def test_colour_sqrt_is_the_datas_covariance():
    data, diff = two_colours()
    m = parameterization.colour_sqrt(data)
    cov = np.cov(data.reshape(-1, 3).T)
    mm = m @ m.T
    np.testing.assert_allclose(mm / np.trace(mm), cov / np.trace(cov), atol=1e-5)
    assert np.linalg.norm(m, axis=0).max() == pytest.approx(1, abs=1e-6)
    top = m[:, np.argmax(np.linalg.norm(m, axis=0))]
    assert abs(top @ diff) / np.linalg.norm(diff) == pytest.approx(1, abs=1e-5)
    with pytest.raises(ValueError, match="one colour"):
        parameterization.colour_sqrt(np.ones((2, 4, 4, 3)))


def test_transforms_shift_and_rotate():
    x = np.random.default_rng(3).normal(size=(3, 9, 9, 2)).astype(np.float32)
    draws = np.array([[1, 0, 2, 0], [1, 0, 0, -1], [1, 180, 0, 0]], np.float32)
    got = parameterization.transforms(tf.constant(x), tf.constant(draws), 9).numpy()
    right = np.zeros_like(x[0])
    right[:, 2:] = x[0, :, :-2]  # content moves 2 px right, grey (0) comes in
    up = np.zeros_like(x[1])
    up[:-1] = x[1, 1:]
    np.testing.assert_allclose(got[0], right, atol=1e-5)
    np.testing.assert_allclose(got[1], up, atol=1e-5)
    np.testing.assert_allclose(got[2], x[2, ::-1, ::-1], atol=1e-4)
    d = parameterization.random_draws(np.random.default_rng(0), 500, 224)
    assert set(np.round((d[:, 0] * 248 / 224 - 1) * 50).astype(int)) == set(range(-5, 6))
    assert d[:, 1].min() == -10 and d[:, 1].max() == 10 and np.abs(d[:, 2:]).max() == 12


def test_diversity_against_a_loop():
    style = np.random.default_rng(4).random((6, 3, 3, 4)).astype(np.float32)  # 2 units x 3
    got = ascent._diversity(tf.constant(style), 3).numpy()
    grams = [s.reshape(-1, 4).T @ s.reshape(-1, 4) for s in style]
    grams = [g / np.linalg.norm(g) for g in grams]
    for i in range(6):
        group = range(i // 3 * 3, i // 3 * 3 + 3)
        ref = -sum((grams[i] * grams[j]).sum() for j in group if j != i) / 3
        assert got[i] == pytest.approx(ref, rel=1e-5)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((20, 20, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(inp)
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    x = keras.layers.Conv2D(5, 3, activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="out")(x))


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(5).normal(size=(4, 20, 20, 3)).astype(np.float32)


def pre_relu_c2(model, x):
    """Independent: p1's output, then c2's convolution by tf.nn.conv2d, before the ReLU."""
    conv = model.get_layer("c2")
    h = keras.Model(model.input, model.get_layer("p1").output)(x)
    return tf.nn.conv2d(h, conv.kernel, 1, "VALID").numpy() + conv.bias.numpy()


def test_channel_objective_rises(model, data):
    short = zfkeras.visualize_units(model, data, "c2", channels=[0, 3], steps=1, verbose=0)
    long = zfkeras.visualize_units(model, data, "c2", channels=[0, 3], steps=40, verbose=0)
    assert long.images.shape == (2, 20, 20, 3) and list(long.units) == [0, 3]
    assert (long.values > short.values + 0.1).all()
    ref = pre_relu_c2(model, long.images)[..., [0, 3]].mean(axis=(1, 2))
    np.testing.assert_allclose(long.values, np.diag(ref), rtol=1e-4, atol=1e-5)
    assert long.images.min() >= -2 and long.images.max() <= 2
    one = zfkeras.visualize_units(
        model, data, "c2", channels=[0, 3], steps=3, batch_size=1, verbose=0
    )
    both = zfkeras.visualize_units(model, data, "c2", channels=[0, 3], steps=3, verbose=0)
    np.testing.assert_allclose(one.images, both.images, atol=1e-5)  # batching changes nothing


def test_neuron_and_class_objectives(model, data):
    r = zfkeras.visualize_units(
        model,
        data,
        "c2",
        channels=1,
        objective="neuron",
        location=(2, 1),
        variants=2,
        diversity=0.5,
        steps=10,
        verbose=0,
    )
    assert r.images.shape == (2, 20, 20, 3) and list(r.units) == [1, 1]
    np.testing.assert_allclose(r.values, pre_relu_c2(model, r.images)[:, 2, 1, 1], rtol=1e-4)
    c = zfkeras.visualize_classes(model, data, [0, 2], steps=20, verbose=0)
    last = model.get_layer("out")
    logits = keras.Model(model.input, last.input)(c.images) @ last.kernel + last.bias
    np.testing.assert_allclose(c.values, np.diag(logits.numpy()[:, [0, 2]]), rtol=1e-4)
    start = zfkeras.visualize_classes(model, data, [0, 2], steps=1, verbose=0)
    assert (c.values > start.values).all()


def test_class_index_none_is_the_predicted_class_and_all_is_every_class(model, data):
    predicted = sorted(set(np.argmax(model(data).numpy(), -1).tolist()))  # plain Keras call
    none = zfkeras.visualize_classes(model, data, steps=1, verbose=0)
    assert list(none.units) == predicted
    every = zfkeras.visualize_classes(model, data, class_index="all", steps=1, verbose=0)
    assert list(every.units) == list(range(model.outputs[0].shape[-1]))
    with pytest.raises(ValueError, match="class_index"):
        zfkeras.visualize_classes(model, data, class_index="every", steps=1, verbose=0)


def test_decorrelation_uses_the_datas_colours(model):
    data, diff = two_colours(size=20)
    r = zfkeras.visualize_units(model, data, "c1", channels=0, steps=3, transforms=False, verbose=0)
    unit = (r.images[0].reshape(-1, 3) + 2) / 4
    logit = np.log(unit / (1 - unit))  # the decorrelated image before the sigmoid
    _, sv, vt = np.linalg.svd(logit, full_matrices=False)
    assert sv[1] < 1e-3 * sv[0]  # every pixel's colour on one line ...
    assert abs(vt[0] @ diff) / np.linalg.norm(diff) == pytest.approx(1, abs=1e-3)  # ... a - b


BAD = [
    ({"objective": "mean"}, ValueError, "objective"),
    ({"objective": "neuron", "location": (9, 0)}, ValueError, "location"),
    ({"channels": 7}, ValueError, "channels"),
    ({"variants": 0}, ValueError, "variants"),
    ({"steps": 0}, ValueError, "steps"),
    ({"learning_rate": 0.0}, ValueError, "learning_rate"),
    ({"input_range": (1, 0)}, ValueError, "input_range"),
    ({"seed": "a"}, TypeError, "seed"),
]


@pytest.mark.parametrize("kwargs, error, word", BAD)
def test_bad_arguments(model, data, kwargs, error, word):
    with pytest.raises(error, match=word):
        lucid.visualize_units(model, data, **{"layer": "c2", "steps": 1, **kwargs})


def test_bad_images_and_classes(model, data):
    with pytest.raises(ValueError, match="images"):
        lucid.visualize_units(model, data[0], "c2")
    with pytest.raises(ValueError, match="class_index"):
        lucid.visualize_classes(model, data, 3)
    with pytest.raises(ValueError, match="layer"):
        lucid.visualize_units(model, data, "out")
