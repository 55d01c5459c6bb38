import keras
import matplotlib
import numpy as np
import pytest

import zfkeras
from zfkeras import figures
from zfkeras.methods import activations

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def small_zfnet():
    keras.utils.set_random_seed(0)
    return zfkeras.zfnet((64, 64, 3), 4, width=0.25, fc_units=32)


@pytest.fixture(scope="module")
def nested_vgg():
    keras.utils.set_random_seed(0)
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))
    head = [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(5, activation="softmax")]
    return keras.Sequential([keras.Input((64, 64, 3)), vgg, *head]), vgg


def test_known_answer_arange_all_ones():
    # 4x4 arange image, one 2x2 all-ones kernel, valid: each output is the sum of a 2x2 window
    inp = keras.Input((4, 4, 1))
    conv = keras.layers.Conv2D(1, 2, kernel_initializer="ones", name="c")(inp)
    model = keras.Model(inp, keras.layers.MaxPooling2D(3, name="p")(conv))
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    out = activations.activation_model(model)(x)
    assert list(out) == ["c", "p"]
    hand = np.array([[10, 14, 18], [26, 30, 34], [42, 46, 50]], np.float32)
    np.testing.assert_array_equal(out["c"].numpy()[0, :, :, 0], hand)
    assert out["p"].numpy().item() == 50


def test_functional_defaults_and_values(small_zfnet):
    m = small_zfnet
    am = activations.activation_model(m)
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5"]
    assert list(am.output) == names
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype(np.float32)
    out = am(x)
    for name in ("conv1", "norm1", "conv5"):
        ref = keras.Model(m.input, m.get_layer(name).output)(x)
        got = activations.activation_model(m, [name])(x)[name] if name == "norm1" else out[name]
        np.testing.assert_allclose(got, ref, atol=1e-5)


def test_shares_weights(small_zfnet):
    keras.utils.set_random_seed(1)
    m = zfkeras.zfnet((64, 64, 3), 4, width=0.25, fc_units=32)
    am = activations.activation_model(m, "conv1")
    x = np.ones((1, 64, 64, 3), np.float32)
    before = am(x)["conv1"].numpy()
    k, b = m.get_layer("conv1").get_weights()
    m.get_layer("conv1").set_weights([k, b + 1.0])
    assert not np.allclose(am(x)["conv1"].numpy(), before)


def test_nested_sequential_and_functional(nested_vgg):
    seq, vgg = nested_vgg
    x = np.random.default_rng(1).uniform(0, 1, (2, 64, 64, 3)).astype(np.float32)
    am = activations.activation_model(seq)
    assert len(am.output) == 18 and list(am.output)[-1] == "block5_pool"
    ref = keras.Model(vgg.input, vgg.get_layer("block4_conv2").output)(x)
    np.testing.assert_allclose(am(x)["block4_conv2"], ref, rtol=1e-4, atol=1e-4)
    inp = keras.Input((64, 64, 3))
    fm = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(vgg(inp, training=False))))
    out = activations.activation_model(fm, ["vgg16/block5_conv3", "block1_pool"])(x)
    ref = keras.Model(vgg.input, vgg.get_layer("block5_conv3").output)(x)
    np.testing.assert_allclose(out["vgg16/block5_conv3"], ref, rtol=1e-4, atol=1e-4)


def _twin():
    def block(name):
        i = keras.Input((8, 8, 1))
        return keras.Model(i, keras.layers.Conv2D(2, 3, name="conv")(i), name=name)

    inp = keras.Input((8, 8, 1))
    return keras.Model(inp, keras.layers.Add()([block("a")(inp), block("b")(inp)]))


@pytest.mark.parametrize(
    "model, layers, error, match",
    [
        ("not a model", None, TypeError, "model must be a keras.Model"),
        (keras.Sequential([keras.layers.Dense(2)]), None, ValueError, "defined inputs"),
        ("zf", ["nope"], ValueError, "must name a layer.*'nope'"),
        ("zf", 3, TypeError, "layers must be"),
        ("zf", [], TypeError, "layers must be"),
        ("twin", ["conv"], ValueError, "ambiguous.*a/conv"),
    ],
)
def test_errors(small_zfnet, model, layers, error, match):
    model = (
        {"zf": small_zfnet, "twin": _twin()}.get(model, model) if isinstance(model, str) else model
    )
    with pytest.raises(error, match=match):
        activations.activation_model(model, layers)


def test_twin_paths_resolve():
    twin = _twin()
    x = np.ones((1, 8, 8, 1), np.float32)
    for path in ("a/conv", "b/conv"):
        out = activations.activation_model(twin, [path])(x)[path]
        ref = twin.get_layer(path[0]).get_layer("conv")(x)
        np.testing.assert_allclose(out, ref, atol=1e-6)
    with pytest.raises(ValueError, match="same name.*separate calls"):
        activations.activation_model(twin, ["a/conv", "b/conv"])


def test_channel_grids(small_zfnet):
    am = activations.activation_model(small_zfnet, ["conv1", "conv2"])
    x = np.random.default_rng(2).normal(size=(1, 64, 64, 3)).astype(np.float32)
    fig = figures.channel_grids({k: v.numpy() for k, v in am(x).items()}, image=x[0], channels=8)
    assert len(fig.axes) == 3 and "conv2" in fig.axes[2].get_title()
    with pytest.raises(ValueError, match=r"activations\['a'\]"):
        figures.channel_grids({"a": np.zeros((3, 3))})
    with pytest.raises(TypeError, match="activations must be"):
        figures.channel_grids([np.zeros((3, 3, 1))])
