import keras
import numpy as np
import pytest
import tensorflow as tf

from zfkeras import models
from zfkeras.methods import softmax

PAPER_SHAPES = {
    "conv1": 110,
    "pool1": 55,
    "norm1": 55,
    "conv2": 26,
    "pool2": 13,
    "norm2": 13,
    "conv3": 13,
    "conv4": 13,
    "conv5": 13,
    "pool5": 6,
}
PAPER_CHANNELS = {"conv1": 96, "conv2": 256, "conv3": 384, "conv4": 384, "conv5": 256}


def hand_param_count(c=1000):
    convs = [(7, 3, 96), (5, 96, 256), (3, 256, 384), (3, 384, 384), (3, 384, 256)]
    n = sum(k * k * cin * cout + cout for k, cin, cout in convs)
    dense = [(6 * 6 * 256, 4096), (4096, 4096), (4096, c)]
    return n + sum(i * o + o for i, o in dense)


@pytest.fixture(scope="module")
def paper_model():
    return models.zfnet()


def test_paper_shapes_and_names(paper_model):
    for name, size in PAPER_SHAPES.items():
        shape = paper_model.get_layer(name).output.shape
        assert shape[1:3] == (size, size), name
    for name, ch in PAPER_CHANNELS.items():
        assert paper_model.get_layer(name).output.shape[-1] == ch
    assert paper_model.get_layer("flatten").output.shape[-1] == 9216
    assert paper_model.get_layer("fc6").output.shape[-1] == 4096
    assert paper_model.get_layer("fc7").output.shape[-1] == 4096
    assert paper_model.get_layer("predictions").output.shape[-1] == 1000


def test_paper_parameter_count(paper_model):
    assert hand_param_count() == 62_357_608
    assert paper_model.count_params() == 62_357_608


def test_alexnet_first_layers():
    m = models.alexnet()
    c1, c2 = m.get_layer("conv1"), m.get_layer("conv2")
    assert c1.kernel_size == (11, 11) and c1.strides == (4, 4)
    assert c2.kernel_size == (5, 5) and c2.strides == (1, 1)
    assert m.get_layer("pool5").output.shape[1:] == (6, 6, 256)
    assert m.get_layer("conv1").output.shape[1:3] == (55, 55)


@pytest.mark.parametrize("arch", ["zfnet", "alexnet"])
@pytest.mark.parametrize("size", [53, 64, 96, 113, 224])
def test_spatial_sizes_match_keras(arch, size):
    smallest = models.min_input_size(arch)
    if size < smallest:
        with pytest.raises(ValueError, match=str(smallest)):
            getattr(models, arch)((size, size, 3), 10, width=0.25, fc_units=8)
        return
    m = getattr(models, arch)((size, size, 3), 10, width=0.25, fc_units=8)
    for name, n in models.spatial_sizes(size, arch).items():
        assert m.get_layer(name).output.shape[1] == n, (arch, size, name)


def test_min_size_is_tight():
    n = models.min_input_size()
    models.zfnet((n, n, 3), 10, width=0.25, fc_units=8)
    with pytest.raises(ValueError, match=f"at least {n}"):
        models.zfnet((n - 1, n - 1, 3), 10, width=0.25, fc_units=8)


def test_cpu_size_topology():
    m = models.zfnet((96, 96, 3), 10, width=0.5, fc_units=512)
    assert [m.get_layer(f"conv{i}").filters for i in range(1, 6)] == [48, 128, 192, 192, 128]
    assert m.get_layer("conv1").kernel_size == (7, 7) and m.get_layer("conv1").strides == (2, 2)
    assert m.output.shape[-1] == 10


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"input_shape": (224, 224)}, "input_shape"),
        ({"input_shape": (224, 224, 0)}, "input_shape"),
        ({"input_shape": (40, 40, 3)}, "at least 53"),
        ({"num_classes": 0}, "num_classes"),
        ({"width": 0}, "width"),
        ({"fc_units": 2.5}, "fc_units"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.zfnet(**kwargs)


def test_options_remove_layers():
    m = models.zfnet(
        (64, 64, 3), 4, width=0.25, fc_units=8, dropout=0, contrast_norm=False, renorm_radius=None
    )
    names = {layer.name for layer in m.layers}
    assert not names & {"norm1", "norm2", "drop6", "drop7"}
    assert m.get_layer("conv1").kernel_constraint is None


def test_pre_softmax_gives_logits():
    m = models.zfnet((64, 64, 3), 5, width=0.25, fc_units=16)
    x = np.random.default_rng(0).normal(size=(3, 64, 64, 3)).astype("float32")
    logits = np.asarray(softmax.pre_softmax(m)(x))
    # independent: fc7 output times the output kernel
    fc7 = keras.Model(m.input, m.get_layer("drop7").output)(x)
    k, b = m.get_layer("predictions").get_weights()
    np.testing.assert_allclose(logits, np.asarray(fc7) @ k + b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(keras.ops.softmax(logits)), np.asarray(m(x)), rtol=1e-4, atol=1e-6
    )
    with pytest.raises(TypeError, match="model"):
        softmax.pre_softmax("not a model")


def _ending(form):
    """A tiny classifier whose output is a softmax in one of its forms (or none), and the
    logits computed by hand from the layer below (an independent computation)."""
    keras.utils.set_random_seed(0)
    x = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(4, 3, name="c")(x)
    f = keras.layers.GlobalAveragePooling2D()(h)
    if form == "conv":  # a fully convolutional head, output (N, 1, 1, 3)
        conv = keras.layers.Conv2D(3, 4, activation="softmax", name="head")
        model = keras.Model(x, conv(h))
        below = keras.Model(x, h)
        return model, lambda v: tf.nn.conv2d(below(v), conv.kernel, 1, "VALID") + conv.bias
    if form == "dense":
        dense = keras.layers.Dense(3, activation="softmax", name="d")
        model, below = keras.Model(x, dense(f)), keras.Model(x, f)
        return model, lambda v: below(v) @ dense.kernel + dense.bias
    dense = keras.layers.Dense(3, name="d")
    z = dense(f)
    below = keras.Model(x, f)
    hand = lambda v: below(v) @ dense.kernel + dense.bias  # noqa: E731
    if form == "activation":
        return keras.Model(x, keras.layers.Activation("softmax")(z)), hand
    if form == "softmax":
        return keras.Model(x, keras.layers.Softmax()(z)), hand
    if form == "ops":
        return keras.Model(x, keras.ops.softmax(z)), hand
    if form == "nested":
        inner = keras.Model(x, keras.layers.Softmax()(z), name="inner")
        return keras.Sequential([keras.Input((6, 6, 2)), inner]), hand
    return keras.Model(x, z), hand


@pytest.mark.parametrize(
    "form", ["dense", "conv", "activation", "softmax", "ops", "nested", "none"]
)
def test_pre_softmax_and_ends_in_softmax_for_every_form(form):
    model, hand = _ending(form)
    x = np.random.default_rng(1).normal(size=(4, 6, 6, 2)).astype("float32")
    want = np.asarray(hand(tf.constant(x)))
    logits = softmax.pre_softmax(model)
    np.testing.assert_allclose(np.asarray(logits(x)), want, rtol=1e-5, atol=1e-6)
    assert softmax.ends_in_softmax(model) == (form != "none")
    assert logits is not model  # always a new model sharing the weights
    if form != "none":
        np.testing.assert_allclose(
            np.asarray(keras.ops.softmax(want)), np.asarray(model(x)), rtol=1e-5, atol=1e-6
        )
    if form == "nested":  # the copy keeps the nesting and shares the layers (and weights)
        inner = model.get_layer("inner")
        assert logits.get_layer("inner").get_layer("d") is inner.get_layer("d")


def test_pre_softmax_of_any_fused_softmax():
    # a layer with a fused softmax that has no kernel-and-bias shortcut: its linear part,
    # computed by hand with tf.nn.depthwise_conv2d, and the layer itself left unchanged
    x = keras.Input((4, 4, 2))
    layer = keras.layers.DepthwiseConv2D(4, activation="softmax")
    m = keras.Model(x, layer(x))
    v = np.random.default_rng(2).normal(size=(3, 4, 4, 2)).astype("float32")
    want = tf.nn.depthwise_conv2d(v, layer.kernel, [1, 1, 1, 1], "VALID") + layer.bias
    np.testing.assert_allclose(
        np.asarray(softmax.pre_softmax(m)(v)), want.numpy(), rtol=1e-5, atol=1e-6
    )
    assert layer.activation is keras.activations.softmax
