"""Receptive fields against a brute-force gradient-support test, top activations against a
numpy pass over all activations, and the Fig. 2 figure's crops."""

import keras
import matplotlib
import numpy as np
import pytest
import tensorflow as tf

from zfkeras import Deconvnet, models, receptive_field, top9_figure, top9_tiles, top_activations

matplotlib.use("Agg")


def test_receptive_fields_of_zfnet_by_hand():
    """Paper-size ZFNet: 7x7/2 conv1, 3x3/2 pools, 5x5/2 conv2, 3x3/1 conv3-5."""
    model = models.zfnet((224, 224, 3), 10, fc_units=8)
    expect = {
        "conv1": (7, 2),
        "pool1": (11, 4),
        "conv2": (27, 8),
        "pool2": (43, 16),
        "conv3": (75, 16),
        "conv4": (107, 16),
        "conv5": (139, 16),
        "pool5": (171, 32),
    }
    for name, (size, stride) in expect.items():
        rf = receptive_field(model, name)
        assert rf.size == (size, size) and rf.stride == (stride, stride), name
    rf = receptive_field(model, "pool5")
    assert rf.output_size == (6, 6) and rf.offset == (-1 - 48, -1 - 48)


def test_receptive_field_centres_by_hand():
    # ZFNet at 96 px, conv5: box centres 20 + 16 i (worked by hand in test_cam); paper size,
    # pool5: offset -49, size 171 -> first centre -49 + 85 = 36, then every 32 px.
    rf = receptive_field(models.zfnet((96, 96, 3), 5, width=0.25, fc_units=8), "conv5")
    for axis in (0, 1):
        np.testing.assert_allclose(rf.centres(axis), 20 + 16 * np.arange(5))
    rf = receptive_field(models.zfnet((224, 224, 3), 10, fc_units=8), "pool5")
    np.testing.assert_allclose(rf.centres(1), 36 + 32 * np.arange(6))
    with pytest.raises(ValueError, match="axis"):
        rf.centres(2)


def support(model, name, x, row, col):
    """Union over images of the input pixels with a nonzero gradient for the units at one
    position (all channels)."""
    x = tf.constant(x)
    sub = keras.Model(model.inputs, model.get_layer(name).output)
    with tf.GradientTape() as tape:
        tape.watch(x)
        act = tf.reduce_sum(sub(x)[:, row, col, :])
    grad = tape.gradient(act, x).numpy()
    return np.any(grad != 0, axis=(0, 3))


def positive_model(twin):
    """All-positive kernels on positive inputs: every tap counts, so the gradient support of a
    unit is its receptive field exactly. The twin replaces each max pooling (whose gradient
    reaches only the maxima) by a convolution of the same geometry with all-ones windows."""

    def pool(k, s, padding, name):
        if not twin:
            return keras.layers.MaxPooling2D(k, s, padding=padding, name=name)
        return keras.layers.Conv2D(2, k, strides=s, padding=padding, name=name)

    model = keras.Sequential(
        [
            keras.Input((29, 26, 1)),
            keras.layers.ZeroPadding2D(((2, 0), (1, 3))),
            keras.layers.Conv2D(2, (3, 5), strides=(2, 1), activation="relu", name="a"),
            pool(3, 2, "same", "p"),
            keras.layers.Conv2D(2, 3, padding="same", strides=2, name="b"),
            pool(2, 2, "valid", "q"),
        ]
    )
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.kernel.assign(np.random.default_rng(0).uniform(0.5, 1, layer.kernel.shape))
    return model


@pytest.mark.parametrize("name", ["a", "p", "b", "q"])
def test_receptive_field_equals_gradient_support(name):
    model, twin = positive_model(False), positive_model(True)
    x = np.random.default_rng(1).uniform(0.1, 1, (8, 29, 26, 1)).astype("float32")
    rf = receptive_field(model, name)
    assert receptive_field(twin, name) == rf
    for row, col in [(0, 0), (rf.output_size[0] - 1, rf.output_size[1] - 1), (1, 1)]:
        top, left, bottom, right = rf.box(row, col)
        box = np.zeros((29, 26), bool)
        box[max(top, 0) : bottom, max(left, 0) : right] = True
        np.testing.assert_array_equal(support(twin, name, x, row, col), box, f"{row},{col}")
        sup = support(model, name, x, row, col)
        assert sup.any() and not (sup & ~box).any()


def test_receptive_field_contains_zfnet_support():
    model = models.zfnet((96, 96, 3), 4, width=0.25, fc_units=8)
    x = np.random.default_rng(2).normal(size=(4, 96, 96, 3)).astype("float32")
    rf = receptive_field(model, "conv3")
    for row, col in [(0, 0), (2, 3), (4, 4)]:
        sup = support(model, "conv3", x, row, col)
        top, left, bottom, right = rf.box(row, col)
        inside = np.zeros_like(sup)
        inside[max(top, 0) : bottom, max(left, 0) : right] = True
        assert sup.any() and not (sup & ~inside).any()


def brute_top(act, k):
    mx = act.reshape(len(act), -1, act.shape[-1]).max(1)  # (N, C)
    order = np.argsort(-mx, axis=0, kind="stable")[:k].T  # (C, k)
    return order, np.take_along_axis(mx.T, order, 1)


@pytest.fixture(scope="module")
def mined():
    model = models.zfnet((64, 64, 3), 4, width=0.25, fc_units=8)
    x = np.random.default_rng(3).normal(size=(70, 64, 64, 3)).astype("float32")
    act = keras.Model(model.inputs, model.get_layer("conv2").output).predict(x, verbose=0)
    return model, x, act


@pytest.mark.parametrize("kind", ["array", "batched", "tuples", "unbatched", "generator"])
def test_top_activations_match_brute_force(mined, kind):
    model, x, act = mined
    data = {
        "array": x,
        "batched": tf.data.Dataset.from_tensor_slices(x).batch(16),
        "tuples": tf.data.Dataset.from_tensor_slices((x, np.arange(70))).batch(32),
        "unbatched": tf.data.Dataset.from_tensor_slices(x),
        "generator": tf.data.Dataset.from_generator(
            lambda: (x[i : i + 9] for i in range(0, 70, 9)),
            output_signature=tf.TensorSpec((None, 64, 64, 3), tf.float32),
        ),
    }[kind]
    top = top_activations(model, data, "conv2", k=9, batch_size=32, verbose=0)
    order, values = brute_top(act, 9)
    assert top.index.shape == (act.shape[-1], 9) and top.layer == "conv2"
    np.testing.assert_allclose(top.value, values, rtol=1e-5)
    alive = values[:, -1] > 0
    np.testing.assert_array_equal(top.index[alive], order[alive])
    at = act[top.index, top.row, top.col, np.arange(act.shape[-1])[:, None]]
    np.testing.assert_allclose(at, top.value, rtol=1e-5)


def test_top_activations_channels_and_small_data(mined):
    model, x, act = mined
    top = top_activations(model, x[:5], "conv2", k=9, channels=[3, 0], verbose=0)
    assert top.index.shape == (2, 5)
    np.testing.assert_array_equal(top.channels, [3, 0])
    order, values = brute_top(act[:5, ..., [3, 0]], 5)
    np.testing.assert_allclose(top.value, values, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"k": 0}, "k must be a positive int"),
        ({"channels": [64]}, r"channels must be .* \[0, 64\)"),
        ({"images": np.zeros((64, 64, 3))}, r"images must have shape \(N, 64, 64, 3\)"),
        ({"images": tf.data.Dataset.from_tensor_slices(["a", "b"])}, "images must yield images"),
        ({"images": np.zeros((0, 64, 64, 3))}, "images must hold at least one image"),
        ({"layer": "fc6"}, r"'fc6' must output \(batch, rows, cols, channels\)"),
    ],
)
def test_top_activations_error_table(mined, kwargs, match):
    model, x, _ = mined
    args = {"model": model, "images": x[:4], "layer": "conv2", "verbose": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        top_activations(**args)


def test_top_activations_channels_must_be_ints(mined):
    model, x, _ = mined
    with pytest.raises(TypeError, match="channels must be None, an int or a non-empty sequence"):
        top_activations(model, x[:4], "conv2", channels=[], verbose=0)


def test_top9_tiles_crops(mined):
    model, x, _ = mined
    top = top_activations(model, x, "conv2", k=4, channels=[1, 2, 5], verbose=0)
    display = np.random.default_rng(4).integers(0, 256, x.shape, dtype=np.uint8)
    d = Deconvnet(model)
    fig = top9_tiles(d, x, top, display=display, channels=[5, 1])
    assert top9_figure(fig, ncols=1).axes
    rf = receptive_field(model, "conv2")
    assert fig.patches.shape == (2, 4, 27, 27, 3) == fig.projections.shape
    i, r, c = top.index[2, 0], top.row[2, 0], top.col[2, 0]
    t, left, b, right = rf.box(r, c)
    padded = np.pad(display[i], ((27, 27), (27, 27), (0, 0)), constant_values=255)
    np.testing.assert_array_equal(
        fig.patches[0, 0], padded[t + 27 : b + 27, left + 27 : right + 27]
    )
    proj = d.project(x[i : i + 1], "conv2", channels=5, location=(r, c))[0]
    inside = np.pad(proj, ((27, 27), (27, 27), (0, 0)))[t + 27 : b + 27, left + 27 : right + 27]
    np.testing.assert_allclose(fig.projections[0, 0], inside, atol=1e-6)
    assert np.abs(proj).sum() == pytest.approx(np.abs(inside).sum(), rel=1e-5)
    with pytest.raises(ValueError, match="subset of top.channels"):
        top9_tiles(d, x, top, channels=[7])
