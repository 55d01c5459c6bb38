"""The deconvnet's custom layers against independent computations: GradientTape gradients,
plain numpy loops and hand-worked cases."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zfkeras.methods.deconvnet.layers import (
    MaxPoolingWithSwitches,
    Rectification,
    TiedConv2DTranspose,
    Unpooling2D,
)

POOLS = [  # (input rows, cols, pool, stride, padding)
    (8, 8, 2, 2, "valid"),
    (9, 7, 3, 2, "valid"),
    (46, 46, 3, 2, "same"),
    (10, 10, 3, 2, "same"),
    (11, 13, 3, 2, "same"),
    (7, 7, 3, 1, "same"),
    (13, 13, 3, 2, "valid"),
]


def distinct(shape, seed=0):
    """Random values without ties (a permutation), so every window has one maximum."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0 - 3.0).astype("float32")


def unpool_loop(values, switches, input_shape):
    out = np.zeros(int(np.prod(input_shape)), np.float32)
    for v, s in zip(values.ravel(), switches.ravel()):
        out[s] += v
    return out.reshape(input_shape)


def test_switches_hand_worked():
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    x[0, 0, 0, 0] = 20  # top-left window's max moves to (0, 0)
    pooled, switches = MaxPoolingWithSwitches(2, 2)(x)
    np.testing.assert_array_equal(np.asarray(pooled)[0, ..., 0], [[20, 7], [13, 15]])
    np.testing.assert_array_equal(np.asarray(switches)[0, ..., 0], [[0, 7], [13, 15]])
    b, r, c, ch = MaxPoolingWithSwitches.locate(switches, x.shape)
    np.testing.assert_array_equal(r[0, ..., 0], [[0, 1], [3, 3]])
    np.testing.assert_array_equal(c[0, ..., 0], [[0, 3], [1, 3]])


@pytest.mark.parametrize("rows,cols,k,s,padding", POOLS)
def test_switches_point_at_the_maxima(rows, cols, k, s, padding):
    x = distinct((2, rows, cols, 3))
    pooled, switches = MaxPoolingWithSwitches(k, s, padding)(x)
    expect = keras.layers.MaxPooling2D(k, s, padding)(x)
    np.testing.assert_array_equal(np.asarray(pooled), np.asarray(expect))
    np.testing.assert_array_equal(x.ravel()[np.asarray(switches)], np.asarray(pooled))


@pytest.mark.parametrize("rows,cols,k,s,padding", POOLS)
def test_unpooling_is_the_gradient_of_max_pooling(rows, cols, k, s, padding):
    x = tf.constant(distinct((2, rows, cols, 3), seed=rows))
    g = np.random.default_rng(1).normal(size=keras.layers.MaxPooling2D(k, s, padding)(x).shape)
    g = tf.constant(g.astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = keras.layers.MaxPooling2D(k, s, padding)(x)
    grad = tape.gradient(y, x, output_gradients=g).numpy()
    _, switches = MaxPoolingWithSwitches(k, s, padding)(x)
    got = Unpooling2D(k, s, padding)(g, switches, output_size=(rows, cols)).numpy()
    np.testing.assert_allclose(got, grad, atol=1e-6)
    np.testing.assert_allclose(
        got, unpool_loop(g.numpy(), np.asarray(switches), x.shape), atol=1e-6
    )


def test_unpooling_adds_values_that_share_a_switch():
    x = np.zeros((1, 5, 5, 1), "float32")
    x[0, 2, 2, 0] = 9.0  # the max of all four overlapping 3x3/2 windows
    _, switches = MaxPoolingWithSwitches(3, 2)(x)
    assert set(np.asarray(switches).ravel()) == {12}
    out = Unpooling2D(3, 2)(np.full((1, 2, 2, 1), 1.5, "float32"), switches, output_size=(5, 5))
    assert np.asarray(out)[0, 2, 2, 0] == 6.0 and np.count_nonzero(np.asarray(out)) == 1


@pytest.mark.parametrize(
    "rule,expect",
    [
        ("deconvnet", [0.0, 0.0, 2.0, 3.0]),  # zero where the signal is negative
        ("backprop", [-1.0, 0.0, 0.0, 3.0]),  # zero where the forward input is negative
        ("guided", [0.0, 0.0, 0.0, 3.0]),  # zero where either is
    ],
)
def test_rectification_rules(rule, expect):
    signal = np.array([-1.0, -2.0, 2.0, 3.0], "float32")
    forward = np.array([1.0, -1.0, -1.0, 1.0], "float32")
    np.testing.assert_array_equal(np.asarray(Rectification(rule)(signal, forward)), expect)


def test_rectification_errors():
    with pytest.raises(ValueError, match="mode"):
        Rectification("relu")
    with pytest.raises(ValueError, match="forward"):
        Rectification("guided")(np.ones(3, "float32"))


CONVS = [  # (input size, kernel, stride, padding): ZFNet's odd sizes included
    (98, 7, 2, "valid"),
    (23, 5, 2, "valid"),
    (5, 3, 1, "same"),
    (14, 7, 2, "valid"),
    (13, 3, 2, "same"),
    (12, 3, 2, "same"),
    (9, 4, 3, "valid"),
    (10, 1, 1, "valid"),
]


@pytest.mark.parametrize("n,k,s,padding", CONVS)
def test_transposed_filtering_is_the_gradient_of_the_convolution(n, k, s, padding):
    conv = keras.layers.Conv2D(4, k, strides=s, padding=padding, activation="relu")
    x = tf.constant(np.random.default_rng(n).normal(size=(2, n, n + 1, 3)).astype("float32"))
    y = conv(x)
    g = tf.constant(np.random.default_rng(k).normal(size=y.shape).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = tf.nn.convolution(x, conv.kernel, strides=s, padding=padding.upper())
    grad = tape.gradient(z, x, output_gradients=g).numpy()
    got = TiedConv2DTranspose(conv)(g, output_size=(n, n + 1)).numpy()
    assert got.shape == x.shape
    np.testing.assert_allclose(got, grad, atol=1e-5)


def test_transposed_filtering_hand_loop_and_flip():
    """Stride 1, valid: every output value spreads the kernel back over its window (a plain
    loop); the same as a 'full' convolution with the kernel flipped in both directions."""
    rng = np.random.default_rng(0)
    conv = keras.layers.Conv2D(2, 3, use_bias=False)
    conv.build((None, 6, 6, 3))
    kernel = rng.normal(size=(3, 3, 3, 2)).astype("float32")
    conv.kernel.assign(kernel)
    y = rng.normal(size=(1, 4, 4, 2)).astype("float32")
    loop = np.zeros((1, 6, 6, 3), "float32")
    for i in range(4):
        for j in range(4):
            loop[0, i : i + 3, j : j + 3] += np.einsum("abco,o->abc", kernel, y[0, i, j])
    got = TiedConv2DTranspose(conv)(y).numpy()  # default size: (4 - 1) * 1 + 3 = 6
    np.testing.assert_allclose(got, loop, atol=1e-5)
    flipped = np.transpose(kernel[::-1, ::-1], (0, 1, 3, 2))  # (3, 3, out=2 -> in, in=3)
    full = tf.nn.conv2d(np.pad(y, ((0, 0), (2, 2), (2, 2), (0, 0))), flipped, 1, "VALID")
    np.testing.assert_allclose(got, full.numpy(), atol=1e-5)


def test_transposed_filtering_errors():
    with pytest.raises(TypeError, match="Conv2D"):
        TiedConv2DTranspose(keras.layers.Dense(3))
    with pytest.raises(ValueError, match="dilation_rate"):
        TiedConv2DTranspose(keras.layers.Conv2D(3, 3, dilation_rate=2))
    with pytest.raises(ValueError, match="groups"):
        TiedConv2DTranspose(keras.layers.Conv2D(4, 3, groups=2))


def test_deconvnet_layers_round_trip(tmp_path):
    inp = keras.Input((11, 11, 3))
    conv = keras.layers.Conv2D(4, 3, strides=2, activation="relu", name="conv")
    y = conv(inp)
    pooled, switches = MaxPoolingWithSwitches(3, 2, "same", name="pool")(y)
    up = Unpooling2D(3, 2, "same", name="unpool")(pooled, switches, output_size=(5, 5))
    up = Rectification("guided", name="rect")(up, y)
    out = TiedConv2DTranspose(conv, name="tconv")(up, output_size=(11, 11))
    model = keras.Model(inp, out)
    x = np.random.default_rng(0).normal(size=(2, 11, 11, 3)).astype("float32")
    before = model.predict(x, verbose=0)
    assert before.shape == x.shape and np.abs(before).max() > 0
    path = tmp_path / "deconv.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), before, atol=1e-6)
    assert loaded.get_layer("rect").mode == "guided"
    assert loaded.get_layer("pool").pool_size == (3, 3)
