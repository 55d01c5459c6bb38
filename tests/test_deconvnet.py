"""Deconvnet, backprop and guided projections against an independent implementation: the
network re-run with plain TensorFlow ops whose ReLUs have the mode's rule as a custom gradient,
differentiated with tf.GradientTape."""

from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

import zfkeras
from zfkeras import Deconvnet, models
from zfkeras.methods.deconvnet import relu_rules
from zfkeras.models.layers import ContrastNormalization


def relu_with_rule(mode):
    @tf.custom_gradient
    def relu(z):
        def grad(dy):
            if mode == "backprop":
                return dy * tf.cast(z > 0, dy.dtype)
            if mode == "deconvnet":
                return tf.nn.relu(dy)
            return tf.nn.relu(dy) * tf.cast(z > 0, dy.dtype)

        return tf.nn.relu(z), grad

    return relu


def leaves(model):
    out = []
    for layer in model.layers:
        out += leaves(layer) if isinstance(layer, keras.Model) else [layer]
    return out


def reference(model, x, name, units, mode, argmax_pool=False):
    """Projection of units ``(b, row, col, channel)`` computed with a GradientTape."""
    relu = relu_with_rule(mode)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        a = x
        for layer in leaves(model):
            if isinstance(layer, keras.layers.Conv2D):
                a = tf.nn.convolution(
                    a, layer.kernel, strides=layer.strides, padding=layer.padding.upper()
                )
                a = a + layer.bias if layer.use_bias else a
                a = relu(a) if layer.activation.__name__ == "relu" else a
            elif isinstance(layer, (keras.layers.ReLU, keras.layers.Activation)):
                a = relu(a)
            elif isinstance(layer, keras.layers.MaxPooling2D):
                pool = (
                    (lambda *p: tf.nn.max_pool_with_argmax(*p)[0])
                    if argmax_pool
                    else (tf.nn.max_pool2d)
                )
                a = pool(a, layer.pool_size, layer.strides, layer.padding.upper())
            elif isinstance(layer, keras.layers.ZeroPadding2D):
                a = tf.pad(a, [[0, 0], *layer.padding, [0, 0]])
            elif isinstance(layer, ContrastNormalization):
                a = tf.nn.local_response_normalization(
                    a, layer.depth_radius, layer.bias, layer.alpha, layer.beta
                )
            elif isinstance(layer, keras.layers.BatchNormalization):
                a = (
                    (a - layer.moving_mean) * tf.math.rsqrt(layer.moving_variance + layer.epsilon)
                ) * layer.gamma
                a = a + layer.beta
            if layer.name == name:
                break
        idx = np.stack([np.arange(len(units.channel)), units.row, units.col, units.channel], 1)
        kept = tf.scatter_nd(idx, tf.gather_nd(a, idx), tf.shape(a))
    return tape.gradient(a, x, output_gradients=kept).numpy()


def small_model():
    """Every supported kind, odd sizes; pooling before the ReLU so windows have no ties."""
    rng = np.random.default_rng(0)
    model = keras.Sequential(
        [
            keras.Input((27, 25, 3)),
            keras.layers.ZeroPadding2D(((1, 2), (0, 1))),
            keras.layers.Conv2D(6, 5, strides=2, name="c1"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.MaxPooling2D(3, 2, padding="same", name="p1"),
            keras.layers.ReLU(name="r1"),
            ContrastNormalization(name="n1"),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c2"),
            keras.layers.Dropout(0.5),
            keras.layers.Conv2D(8, 3, name="c3"),
            keras.layers.Activation("relu", name="r3"),
            keras.layers.Flatten(),
            keras.layers.Dense(4, name="dense"),
        ]
    )
    bn = model.get_layer("bn")
    for w in (bn.gamma, bn.beta, bn.moving_mean):
        w.assign(rng.normal(0, 0.5, w.shape))
    bn.moving_variance.assign(rng.uniform(0.5, 2, bn.moving_variance.shape))
    return model


X = np.random.default_rng(1).normal(size=(5, 27, 25, 3)).astype("float32")


@pytest.mark.parametrize("mode", ["deconvnet", "backprop", "guided"])
@pytest.mark.parametrize("layer", ["r3", "c2", "p1"])
@pytest.mark.parametrize("switches", ["indices", "recompute"])
def test_modes_match_the_reference(mode, layer, switches):
    model = small_model()
    d = Deconvnet(model, switches=switches)
    got = d.project(X, layer, mode=mode)
    units = d.units(X, layer)
    expect = reference(model, X, layer, units, mode)
    assert got.shape == X.shape and np.abs(expect).max() > 0
    np.testing.assert_allclose(got, expect, atol=1e-5 * np.abs(expect).max())


def test_backprop_is_the_gradient_tape_gradient():
    model = small_model()
    d = Deconvnet(model)
    u = d.units(X, "c3", channels=[0, 1, 2, 3, 4], location=(1, 2))
    sub = keras.Model(model.inputs, model.get_layer("c3").output)
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        act = tf.gather_nd(sub(x), np.stack([np.arange(5), u.row, u.col, u.channel], 1))
    grad = tape.gradient(act, x).numpy() * u.value[:, None, None, None]
    got = d.project(X, "c3", channels=[0, 1, 2, 3, 4], location=(1, 2), mode="backprop")
    np.testing.assert_allclose(got, grad, atol=1e-5 * np.abs(grad).max())


def test_the_three_rules_at_a_relu_on_the_input():
    model = keras.Sequential(
        [
            keras.Input((9, 9, 2)),
            keras.layers.ReLU(name="r0"),
            keras.layers.Conv2D(3, 3, activation="relu", name="c"),
        ]
    )
    d = Deconvnet(model)
    out = SimpleNamespace(
        **{
            m: d.project(X[:3, :9, :9, :2], "c", mode=m)
            for m in ("deconvnet", "backprop", "guided")
        }
    )
    negative = X[:3, :9, :9, :2] <= 0
    assert np.all(out.guided[negative] == 0) and out.guided.min() >= 0
    assert np.all(out.backprop[negative] == 0) and out.backprop.min() < 0
    assert np.any(out.deconvnet[negative] != 0) and out.deconvnet.min() >= 0
    np.testing.assert_allclose(out.guided, np.maximum(out.backprop, 0) * ~negative, atol=1e-6)


def test_deconvnet_differs_from_backprop_on_a_random_network():
    d = Deconvnet(small_model())
    a, b = d.project(X, "r3"), d.project(X, "r3", mode="backprop")
    assert np.abs(a - b).max() > 0.1 * np.abs(b).max()


@pytest.mark.parametrize("mode", ["deconvnet", "backprop", "guided"])
def test_projection_is_linear_in_the_selected_value(mode):
    model = small_model()
    d = Deconvnet(model)
    units = d.units(X, "c3")
    idx = np.stack([np.arange(5), units.row, units.col, units.channel], 1)
    signal = np.zeros((5, *model.get_layer("c3").output.shape[1:]), "float32")
    signal[tuple(idx.T)] = units.value
    p = d.project(X, "c3", mode=mode)
    np.testing.assert_allclose(d.down(X, "c3", signal=signal, mode=mode), p, atol=1e-6)
    np.testing.assert_allclose(
        d.down(X, "c3", signal=2.5 * signal, mode=mode), 2.5 * p, rtol=1e-5, atol=1e-6
    )
    # without biases or normalization, doubling the image doubles the activation, keeps the
    # switches and masks, and so doubles the projection
    plain = keras.Sequential(
        [
            keras.Input((27, 25, 3)),
            keras.layers.Conv2D(4, 3, use_bias=False, activation="relu"),
            keras.layers.MaxPooling2D(3, 2),
            keras.layers.Conv2D(5, 3, use_bias=False, activation="relu", name="top"),
        ]
    )
    dp = Deconvnet(plain)
    np.testing.assert_allclose(
        dp.project(2 * X, "top", mode=mode),
        2 * dp.project(X, "top", mode=mode),
        rtol=1e-4,
        atol=1e-6,
    )


def test_selection_batching_and_unchanged_forward_pass():
    model = small_model()
    weights = [w.copy() for w in model.get_weights()]
    before = model.predict(X, verbose=0)
    d = Deconvnet(model)
    act = keras.Model(model.inputs, model.get_layer("c2").output).predict(X, verbose=0)
    u = d.units(X, "c2")
    best = act.reshape(5, -1, 8).max(1).argmax(1)
    np.testing.assert_array_equal(u.channel, best)
    fmap = act[np.arange(5), :, :, best].reshape(5, -1)
    np.testing.assert_array_equal(u.row * act.shape[2] + u.col, fmap.argmax(1))
    np.testing.assert_allclose(u.value, fmap.max(1), rtol=1e-6)
    chans, loc = [3, 1, 4, 1, 5], np.array([[0, 0], [1, 2], [2, 1], [5, 5], [3, 0]])
    batched = d.project(X, "c2", channels=chans, location=loc, mode="guided", batch_size=2)
    for i in range(5):
        one = d.project(
            X[i : i + 1], "c2", channels=chans[i], location=tuple(loc[i]), mode="guided"
        )
        np.testing.assert_allclose(batched[i : i + 1], one, atol=1e-6)
    np.testing.assert_array_equal(model.predict(X, verbose=0), before)
    for w, w0 in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(w, w0)


def check_model(model, x, layer):
    """Both ways of keeping switches against the reference whose pooling gradient breaks ties
    the same way (argmax pooling for index switches, max_pool2d for recomputed ones)."""
    for switches, argmax_pool in (("indices", True), ("recompute", False)):
        d = Deconvnet(model, switches=switches)
        units = d.units(x, layer)
        for mode in ("backprop", "guided", "deconvnet"):
            got = d.project(x, layer, mode=mode)
            expect = reference(model, x, layer, units, mode, argmax_pool=argmax_pool)
            assert np.abs(expect).max() > 0
            np.testing.assert_allclose(got, expect, atol=1e-4 * np.abs(expect).max())
            if mode == "backprop":
                backprop = got
        assert np.abs(got - backprop).max() > 0.1 * np.abs(backprop).max()


def test_paper_size_zfnet():
    model = models.zfnet((224, 224, 3), 10, fc_units=16, renorm_radius=None)
    x = np.random.default_rng(2).normal(size=(1, 224, 224, 3)).astype("float32")
    check_model(model, x, "conv5")


@pytest.mark.shipped
def test_shipped_zfnet_shapes():
    shipped = zfkeras.pretrained("zfnet-shapes")
    images = zfkeras.data.shapes(2, seed=3, image_size=shipped.model.input.shape[1]).images
    check_model(shipped.model, shipped.preprocess(images), "conv4")


def test_vgg16_nested_in_sequential():
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    model = keras.Sequential(
        [keras.Input((32, 32, 3)), vgg, keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    x = np.random.default_rng(3).normal(size=(2, 32, 32, 3)).astype("float32")
    check_model(model, x, "block4_conv3")
    assert Deconvnet(model).way_down("block1_pool")[0] == (
        "block1_pool",
        "MaxPooling2D",
        "unpool with the switches",
    )


def test_functional_nested_in_functional():
    inner = keras.Sequential(
        [keras.Input((12, 12, 4)), keras.layers.Conv2D(5, 3, name="ic")], name="inner"
    )
    inp = keras.Input((14, 14, 3))
    a = keras.layers.Conv2D(4, 3, activation="relu", name="oc")(inp)
    out = keras.layers.ReLU(name="r")(inner(a))
    model = keras.Model(inp, [out, keras.layers.GlobalAveragePooling2D()(a)])
    x = X[:2, :14, :14]
    assert [row[0] for row in Deconvnet(model).way_down("r")] == ["r", "ic", "oc"]
    check_model(model, x, "r")


@pytest.mark.parametrize("mode", ["deconvnet", "backprop", "guided"])
def test_chain_and_graph_paths_agree_on_zfnet(mode):
    keras.utils.set_random_seed(0)
    model = zfkeras.zfnet((96, 96, 3), 10, width=0.5, fc_units=512)
    x = np.random.default_rng(9).normal(size=(3, 96, 96, 3)).astype("float32")
    chain, graph = Deconvnet(model, way="chain"), Deconvnet(model, way="graph")
    assert Deconvnet(model).describe("conv5").way == "chain"
    assert graph.describe("conv5").way == "graph" and graph.describe("conv5").nonlinear == (
        "norm2",
        "norm1",
    )  # contrast normalization: by its gradient on both paths
    for layer in ("conv5", "pool2"):
        a, b = chain.project(x, layer, mode=mode), graph.project(x, layer, mode=mode)
        assert np.abs(a).max() > 0
        np.testing.assert_allclose(b, a, atol=1e-5 * np.abs(a).max())
    with pytest.raises(ValueError, match="steps"):
        graph.steps("conv5")


def test_nested_path_names_everywhere():
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    model = keras.Sequential(
        [keras.Input((32, 32, 3)), vgg, keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    x = np.random.default_rng(3).normal(size=(2, 32, 32, 3)).astype("float32")
    d = Deconvnet(model)
    np.testing.assert_array_equal(d.project(x, "vgg16/block3_conv3"), d.project(x, "block3_conv3"))
    assert zfkeras.receptive_field(model, "vgg16/block3_conv3") == zfkeras.receptive_field(
        model, "block3_conv3"
    )
    top = zfkeras.top_activations(model, x, "vgg16/block3_conv3", k=2, verbose=0)
    assert top.layer == "vgg16/block3_conv3"
    assert zfkeras.top9_tiles(d, x, top, channels=[0]).patches.shape == (1, 2, 40, 40, 3)


def test_unsupported_models_raise():
    a, b = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    two = keras.Model(
        [a, b], keras.layers.Add()([keras.layers.Conv2D(2, 3, name="c")(a), b[:, 1:-1, 1:-1, :2]])
    )
    with pytest.raises(ValueError, match="model must have a single input, got 2 inputs"):
        Deconvnet(two)
    with pytest.raises(ValueError, match="model must have a single input, got 2 inputs"):
        zfkeras.receptive_field(two, "c")
    first = keras.Sequential(
        [keras.Input((3, 8, 8)), keras.layers.Conv2D(2, 3, data_format="channels_first", name="c")]
    )
    with pytest.raises(
        ValueError,
        match="model must be channels_last, got layer 'c' with data_format='channels_first'",
    ):
        Deconvnet(first)

    class Block(keras.Model):  # subclassed: the walk runs it as one op
        def __init__(self):
            super().__init__(name="block")
            self.conv = keras.layers.Conv2D(2, 3, name="hidden")

        def call(self, x):
            return self.conv(x)

    inp = keras.Input((8, 8, 3))
    model = keras.Model(inp, keras.layers.ReLU(name="r")(Block()(inp)))
    with pytest.raises(ValueError, match="'hidden' is a layer of the model that the graph walk"):
        zfkeras.top_activations(model, np.zeros((1, 8, 8, 3)), "hidden", verbose=0)


def bad_models():
    inp = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(2, 3, padding="same")(inp)
    added = keras.layers.Add(name="add")([a, keras.layers.Conv2D(2, 1)(inp)])
    return {
        "rescale": keras.Sequential(
            [
                keras.Input((8, 8, 3)),
                keras.layers.Rescaling(2.0, name="rescaling"),
                keras.layers.Conv2D(2, 3, name="c"),
            ]
        ),
        "sigmoid": keras.Sequential(
            [keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3, activation="sigmoid", name="c")]
        ),
        "avgpool": keras.Sequential(
            [
                keras.Input((8, 8, 3)),
                keras.layers.AveragePooling2D(2, name="avg"),
                keras.layers.Conv2D(2, 3, name="c"),
            ]
        ),
        "add": keras.Model(inp, keras.layers.Conv2D(2, 3, name="c")(added)),
    }


@pytest.mark.parametrize(
    "key,match,crossed",
    [
        ("rescale", "'rescaling' of type Rescaling", ("linear", "rescaling")),
        ("sigmoid", "'c' of type Conv2D.*sigmoid", ("nonlinear", "c")),
        ("avgpool", "of type AveragePooling2D", ("linear", "avg")),
        ("add", "'add' of type Add", ("linear", "add")),
    ],
)
def test_chain_path_names_unsupported_layers_graph_path_takes_them(key, match, crossed):
    model = bad_models()[key]
    x = np.random.default_rng(4).normal(size=(2, 8, 8, 3)).astype("float32")
    with pytest.raises(ValueError, match=match):
        Deconvnet(model, way="chain").project(x, "c")
    with pytest.raises(ValueError, match=match + ".*switches='indices' needs the chain path"):
        Deconvnet(model, switches="indices").project(x, "c")
    d = Deconvnet(model)  # way="auto": the graph path
    field, name = crossed
    info = d.describe("c")
    assert info.way == "graph" and info.layer == "c" and name in getattr(info, field)
    # backprop on the graph path is the plain gradient
    sub = keras.Model(model.inputs, model.get_layer("c").output)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        act = sub(xt)[:, 1, 1, 1]
    u = d.units(x, "c", channels=1, location=(1, 1))
    grad = tape.gradient(act, xt).numpy() * u.value[:, None, None, None]
    got = d.project(x, "c", channels=1, location=(1, 1), mode="backprop")
    assert np.abs(grad).max() > 0
    np.testing.assert_allclose(got, grad, atol=1e-5 * np.abs(grad).max())


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"layer": "nope"}, "layer must name a layer of the model, got 'nope'"),
        ({"layer": "dense"}, r"'dense' must output \(batch, rows, cols, channels\)"),
        ({"mode": "saliency"}, "mode must be one of"),
        ({"channels": 8}, r"^channels must be in \[0, 8\) for layer 'c2', got 8$"),
        ({"location": (7, 0)}, "location must be inside the 7x6"),
        ({"location": (1, 2, 3)}, "location must be None"),
        ({"images": np.zeros((27, 25, 3))}, r"images must have shape \(N, 27, 25, 3\)"),
        ({"images": np.zeros((1, 25, 27, 3))}, r"images must have shape \(N, 27, 25, 3\)"),
        ({"batch_size": 0}, "batch_size must be a positive int, got 0"),
        ({"images": np.full((1, 27, 25, 3), np.nan)}, "finite"),
    ],
)
def test_project_error_table(kwargs, match):
    model = small_model()
    args = {"images": X[:3], "layer": "c2", **kwargs}
    with pytest.raises(ValueError, match=match):
        Deconvnet(model).project(**args)


@pytest.mark.parametrize("channels", [[1, 2], 1.5])
def test_channels_of_the_wrong_kind(channels):
    # a wrong kind of value is a TypeError, worded as by every method (checks.channels)
    want = r"^channels must be None, an int or 3 ints \(one per image\), got "
    with pytest.raises(TypeError, match=want):
        Deconvnet(small_model()).project(X[:3], "c2", channels=channels)


def test_other_errors():
    with pytest.raises(TypeError, match="keras.Model"):
        Deconvnet("zfnet")
    with pytest.raises(ValueError, match="switches must be"):
        Deconvnet(small_model(), switches="argmax")
    d = Deconvnet(small_model())
    with pytest.raises(ValueError, match="signal must have shape"):
        d.down(X, "c3", signal=np.zeros((5, 3, 3, 8)))
    with pytest.raises(TypeError, match="layer must be"):
        d.project(X, 3)


def test_relu_rules_and_figure():
    f = np.array([[1.0, -1.0], [-2.0, 3.0]])
    r = np.array([[-1.0, 2.0], [4.0, 5.0]])
    results = relu_rules(f, r)
    np.testing.assert_array_equal(results.backprop, [[-1, 0], [0, 5]])
    np.testing.assert_array_equal(results.deconvnet, [[0, 2], [4, 5]])
    np.testing.assert_array_equal(results.guided, [[0, 0], [0, 5]])
    assert zfkeras.rules_figure(f, r).axes
    with pytest.raises(ValueError, match="one shape"):
        zfkeras.rules_figure(f, r[0])
