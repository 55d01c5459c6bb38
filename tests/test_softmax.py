"""pre_softmax against the Dense layer's pre-activation computed by hand, for every way of writing
a softmax or log-softmax head; the warning for a softmax it cannot see; sub-models of its result."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import zfkeras
from zfkeras.methods import softmax

L = keras.layers
SHAPE = (6, 6, 2)
FUNCTIONS = {
    "string": "softmax",
    "keras.activations": keras.activations.softmax,
    "keras.ops": keras.ops.softmax,
    "tf.nn": tf.nn.softmax,
}
LOG_FUNCTIONS = {
    "string": "log_softmax",
    "keras.activations": keras.activations.log_softmax,
    "keras.ops": keras.ops.log_softmax,
    "tf.nn": tf.nn.log_softmax,
}


def _head(fn, where):
    """A conv + pooling body, a Dense(3) head and the softmax ``fn`` applied ``where``."""
    keras.utils.set_random_seed(0)
    x = keras.Input(SHAPE)
    f = L.GlobalAveragePooling2D(name="gap")(L.Conv2D(4, 3, activation="relu", name="c")(x))
    dense = L.Dense(3, activation=fn if where == "fused" else None, name="d")
    z = dense(f)
    if where == "activation":
        z = L.Activation(fn, name="act")(z)
    elif where == "layer":
        z = L.Softmax(name="sm")(z)
    elif where == "op":
        z = fn(z)
    elif where == "lambda":
        z = L.Lambda(fn, name="lam")(z)
    return keras.Model(x, z, name="m"), dense


def _nested(fn):
    """The softmax head inside a nested Sequential model, inside a Functional model."""
    keras.utils.set_random_seed(0)
    dense = L.Dense(3, activation=fn, name="d")
    head = keras.Sequential([keras.Input((4,)), dense], name="head")
    x = keras.Input(SHAPE)
    f = L.GlobalAveragePooling2D(name="gap")(L.Conv2D(4, 3, activation="relu", name="c")(x))
    return keras.Model(x, head(f), name="m"), dense


def _hand_logits(model, dense, x):
    """The Dense layer's pre-activation: its input (the pooled conv features) @ kernel + bias."""
    conv = model.get_layer("c")
    h = np.maximum(tf.nn.conv2d(x, conv.kernel, 1, "VALID").numpy() + conv.bias.numpy(), 0)
    return h.mean(axis=(1, 2)) @ dense.kernel.numpy() + dense.bias.numpy()


FORMS = [(f"fused-{k}", "softmax", v, "fused") for k, v in FUNCTIONS.items()]
FORMS += [(f"activation-{k}", "softmax", v, "activation") for k, v in FUNCTIONS.items()]
FORMS += [
    ("layers.Softmax", "softmax", None, "layer"),
    ("ops.softmax", "softmax", keras.ops.softmax, "op"),
    ("Lambda(tf.nn.softmax)", "softmax", tf.nn.softmax, "lambda"),
]
FORMS += [(f"log-fused-{k}", "log_softmax", v, "fused") for k, v in LOG_FUNCTIONS.items()]
FORMS += [(f"log-activation-{k}", "log_softmax", v, "activation") for k, v in LOG_FUNCTIONS.items()]
FORMS += [("ops.log_softmax", "log_softmax", keras.ops.log_softmax, "op")]
FORMS += [(f"nested-{k}", "softmax", v, "nested") for k, v in FUNCTIONS.items()]
FORMS += [("nested-log-tf.nn", "log_softmax", tf.nn.log_softmax, "nested")]


@pytest.mark.parametrize("name, kind, fn, where", FORMS, ids=[f[0] for f in FORMS])
def test_every_form_gives_the_dense_pre_activation(name, kind, fn, where):
    model, dense = _nested(fn) if where == "nested" else _head(fn, where)
    x = np.random.default_rng(1).normal(size=(5, *SHAPE)).astype(np.float32)
    want = _hand_logits(model, dense, x)
    out = model(x).numpy()  # the model really ends in that softmax
    ref = tf.nn.softmax(want).numpy() if kind == "softmax" else tf.nn.log_softmax(want).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a recognized softmax is never warned about
        p = zfkeras.pre_softmax(model)
        np.testing.assert_allclose(p(x).numpy(), want, rtol=1e-5, atol=1e-5)
        assert softmax.softmax_kind(softmax.softmax_op(model)) == kind
        assert softmax.ends_in_softmax(model) is (kind == "softmax")
    probs = softmax.probabilities(out, softmax.ends_in_softmax(model)).numpy()
    np.testing.assert_allclose(probs, tf.nn.softmax(want).numpy(), rtol=1e-4, atol=1e-6)
    assert p is not model and p.get_layer("c") is model.get_layer("c")  # shared weights


def test_a_linear_head_is_kept():
    model, dense = _head(None, "fused")
    x = np.random.default_rng(2).normal(size=(3, *SHAPE)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = zfkeras.pre_softmax(model)
    np.testing.assert_allclose(p(x).numpy(), model(x).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(p(x).numpy(), _hand_logits(model, dense, x), rtol=1e-5, atol=1e-5)
    assert softmax.softmax_op(model) is None and not softmax.ends_in_softmax(model)


class _SoftmaxHead(keras.layers.Layer):
    """A subclassed head with its softmax inside: nothing to recognize from outside."""

    def build(self, shape):
        self.w = self.add_weight(shape=(shape[-1], 3))

    def call(self, x):
        return keras.ops.softmax(x @ self.w)


@pytest.mark.parametrize("head", ["lambda", "subclassed"])
def test_a_hidden_softmax_is_warned_about_once(head):
    keras.utils.set_random_seed(0)
    x = keras.Input(SHAPE)
    f = L.GlobalAveragePooling2D()(L.Conv2D(4, 3, activation="relu", name="c")(x))
    if head == "lambda":
        out = L.Lambda(lambda t: tf.nn.softmax(t), name="probs")(L.Dense(3)(f))
    else:
        out = _SoftmaxHead(name="probs")(f)
    model = keras.Model(x, out)
    images = np.random.default_rng(0).normal(size=(2, *SHAPE)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        zfkeras.pre_softmax(model)
        zfkeras.pre_softmax(model)
        zfkeras.gradcam(model, images, layer="c")
    found = [w for w in caught if issubclass(w.category, UserWarning)]
    assert len(found) == 1, [str(w.message) for w in caught]
    text = str(found[0].message)
    assert "'probs'" in text and "probabilities" in text and "logits" in text
    assert "linear last layer" in text


def test_sub_models_of_the_logits_model():
    # the idiom keras.Model(p.inputs, p.get_layer(name).output) cannot work (shared layers);
    # activation_model does, with the original model's layer paths
    keras.utils.set_random_seed(0)
    body = keras.Sequential(
        [keras.Input(SHAPE), L.Conv2D(4, 3, activation="relu", name="c")], name="body"
    )
    x = keras.Input(SHAPE)
    f = L.GlobalAveragePooling2D(name="gap")(body(x))
    dense = L.Dense(3, activation=tf.nn.softmax, name="d")
    model = keras.Model(x, dense(f))
    p = zfkeras.pre_softmax(model)
    sub = zfkeras.activation_model(p, ["body/c", "gap", "d_linear"])
    v = np.random.default_rng(3).normal(size=(2, *SHAPE)).astype(np.float32)
    out = sub(v)
    conv = body.get_layer("c")
    c = np.maximum(tf.nn.conv2d(v, conv.kernel, 1, "VALID").numpy() + conv.bias.numpy(), 0)
    np.testing.assert_allclose(out["body/c"].numpy(), c, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["gap"].numpy(), c.mean(axis=(1, 2)), rtol=1e-5, atol=1e-5)
    want = c.mean(axis=(1, 2)) @ dense.kernel.numpy() + dense.bias.numpy()
    np.testing.assert_allclose(out["d_linear"].numpy(), want, rtol=1e-5, atol=1e-5)


def test_logits_model_and_resolve_live_here():
    import zfkeras.methods.attribution as attribution

    assert not hasattr(attribution, "logits_model") and not hasattr(attribution, "resolve")
    model, dense = _head("softmax", "fused")
    v = np.random.default_rng(4).normal(size=(4, *SHAPE)).astype(np.float32)
    want = _hand_logits(model, dense, v)
    np.testing.assert_allclose(softmax.logits_model(model)(v).numpy(), want, rtol=1e-5, atol=1e-5)
    cls = np.array([-1, 2, -1, 0], np.int32)
    got = softmax.resolve(model, v, cls, batch_size=3)
    np.testing.assert_array_equal(got, np.where(cls < 0, want.argmax(-1), cls))
