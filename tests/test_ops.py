"""The one table of op kinds (zfkeras.methods.ops): every spelling of a ReLU is one ReLU."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zfkeras.methods import ascent, fields, ops
from zfkeras.methods.deconvnet import rules


def _op(tensor):
    return tensor._keras_history.operation


def _conv(activation):
    return keras.layers.Conv2D(2, 3, activation=activation)


FORMS = [
    ("Conv2D relu", lambda: _conv("relu"), ("fused", None)),
    ("Conv2D relu6", lambda: _conv("relu6"), ("fused", 6.0)),
    ("Conv2D tf.nn.relu", lambda: _conv(tf.nn.relu), ("fused", None)),
    ("Conv2D tf.nn.relu6", lambda: _conv(tf.nn.relu6), ("fused", 6.0)),
    ("Conv2D keras.ops.relu", lambda: _conv(keras.ops.relu), ("fused", None)),
    (
        "Dense keras.activations.relu",
        lambda: keras.layers.Dense(2, activation=keras.activations.relu),
        ("fused", None),
    ),
    ("Activation relu", lambda: keras.layers.Activation("relu"), ("layer", None)),
    ("Activation relu6", lambda: keras.layers.Activation("relu6"), ("layer", 6.0)),
    ("Activation tf.nn.relu", lambda: keras.layers.Activation(tf.nn.relu), ("layer", None)),
    ("ReLU", lambda: keras.layers.ReLU(), ("layer", None)),
    ("ReLU(max_value=6)", lambda: keras.layers.ReLU(max_value=6), ("layer", 6.0)),
    ("keras.ops.relu op", lambda: _op(keras.ops.relu(keras.Input((4,)))), ("layer", None)),
    ("keras.ops.relu6 op", lambda: _op(keras.ops.relu6(keras.Input((4,)))), ("layer", 6.0)),
    ("LeakyReLU", lambda: keras.layers.LeakyReLU(), None),
    ("ReLU(negative_slope=0.1)", lambda: keras.layers.ReLU(negative_slope=0.1), None),
    ("ReLU(threshold=1)", lambda: keras.layers.ReLU(threshold=1.0), None),
    ("Activation leaky_relu", lambda: keras.layers.Activation("leaky_relu"), None),
    ("Conv2D elu", lambda: _conv("elu"), None),
    ("Conv2D linear", lambda: _conv(None), None),
    ("Activation swish", lambda: keras.layers.Activation("swish"), None),
    ("keras.ops.add op", lambda: _op(keras.Input((4,)) + keras.Input((4,))), None),
]


@pytest.mark.parametrize("make, want", [f[1:] for f in FORMS], ids=[f[0] for f in FORMS])
def test_every_spelling_of_a_relu(make, want):
    op = make()
    assert ops.relu_of(op) == want
    expected_kind = {None: None, "fused": "fused", "layer": "relu"}[
        None if want is None else want[0]
    ]
    if expected_kind is not None:
        assert ops.kind(op) == expected_kind


def test_kinds_of_other_ops():
    assert ops.kind(keras.layers.MaxPooling2D()) == "switches"
    assert ops.kind(keras.layers.BatchNormalization()) == "linear"
    assert ops.kind(_conv(None)) == "linear"
    assert ops.kind(_conv("elu")) == "nonlinear"
    assert ops.kind(keras.layers.LeakyReLU()) == "nonlinear"
    assert ops.is_elementwise_op(_op(keras.Input((4,)) + keras.Input((4,))))
    assert not ops.is_elementwise_op(keras.layers.Add())


def test_receptive_fields_and_rules_use_the_one_table():
    # fields no longer imports the deconvnet package; both ask ops
    assert "deconvnet" not in fields.__dict__ and rules.relu_of is ops.relu_of


@pytest.mark.parametrize("activation, top", [("relu", None), ("relu6", 6.0), (tf.nn.relu, None)])
def test_ascent_splits_every_fused_relu_off(activation, top):
    # filter ascent and Lucid climb the layer's response before its fused ReLU (relu6 too)
    keras.utils.set_random_seed(1)
    x_in = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, padding="same", activation=activation, name="c")
    model = keras.Model(x_in, keras.layers.GlobalAveragePooling2D()(conv(x_in)))
    x = 4 * np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
    k, b = conv.get_weights()
    pre = (tf.nn.conv2d(x, k, 1, "SAME") + b).numpy()
    post = np.clip(pre, 0, np.inf if top is None else top)
    for pre_relu, want in ((True, pre), (False, post)):
        net, path = ascent.feature_model(model, "c", size=(8, 8), pre_relu=pre_relu)
        np.testing.assert_allclose(net(x).numpy(), want, rtol=1e-5, atol=1e-5)
        target, path2 = ascent.target_model(model, "c", size=(8, 8), pre_relu=pre_relu)
        np.testing.assert_allclose(target(x)[0].numpy(), want, rtol=1e-5, atol=1e-5)
        assert path == path2 == "c"
    assert (pre < 0).any() and (top is None or (pre > top).any())
    assert conv.activation is keras.activations.get(activation)  # the layer is not changed
