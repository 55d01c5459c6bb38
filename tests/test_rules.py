"""One ReLU rule implementation: every entry point (the Deconvnet on both ways down, the class
projections, Guided Grad-CAM, faithfulness.explain, filter ascent's pre-ReLU objective) equals an
independent ``tf.custom_gradient`` reference on a branching model with a fused ReLU, a
``ReLU(max_value=6)`` layer and an ``Activation("relu")``; no method assigns attributes on the
user's layers, not even for a moment."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zfkeras
from zfkeras.evaluation import explain
from zfkeras.methods import ascent, cam


class Watched(keras.layers.Conv2D):
    """A Conv2D that fails the test when anything assigns its activation or call once built."""

    def __setattr__(self, name, value):
        if getattr(self, "built", False) and name in ("activation", "call"):
            raise AssertionError(f"a method assigned {name} on the user's layer {self.name}")
        super().__setattr__(name, value)


def _model(conv=Watched):
    keras.utils.set_random_seed(3)
    x = keras.Input((10, 10, 3), name="image")
    h1 = conv(4, 3, padding="same", activation="relu", name="c1")(x)
    h2 = keras.layers.Conv2D(4, 3, padding="same", name="c2")(h1)
    a = keras.layers.ReLU(max_value=6.0, name="r6")(h2)
    h3 = keras.layers.Conv2D(4, 3, padding="same", name="c3")(h1)
    b = keras.layers.Activation("relu", name="act")(h3)
    s = keras.layers.Add(name="add")([a, b])
    p = keras.layers.MaxPooling2D(2, name="pool")(s)
    f = keras.layers.Flatten(name="flat")(p)
    model = keras.Model(x, keras.layers.Dense(3, activation="softmax", name="fc")(f))
    c2 = model.get_layer("c2")
    c2.kernel.assign(c2.kernel * 8.0)  # so that the ReLU6 clip is reached
    return model


def _ref_relu(mode, top=None):
    """The three rules written out independently of zfkeras."""

    @tf.custom_gradient
    def f(x):
        y = tf.nn.relu(x) if top is None else tf.minimum(tf.nn.relu(x), top)

        def grad(r):
            on = tf.cast(x > 0, r.dtype)
            if top is not None:
                on = on * tf.cast(x < top, r.dtype)
            return {"backprop": r * on, "deconvnet": tf.nn.relu(r), "guided": tf.nn.relu(r) * on}[
                mode
            ]

        return y, grad

    return f


def _ref_forward(model, x, mode):
    w = {n: model.get_layer(n).get_weights() for n in ("c1", "c2", "c3", "fc")}

    def conv(t, name):
        k, b = w[name]
        return tf.nn.conv2d(t, k, 1, "SAME") + b

    h1 = _ref_relu(mode)(conv(x, "c1"))
    a = _ref_relu(mode, 6.0)(conv(h1, "c2"))
    b = _ref_relu(mode)(conv(h1, "c3"))
    s = a + b
    p = tf.nn.max_pool2d(s, 2, 2, "VALID")
    z = tf.reshape(p, [tf.shape(p)[0], -1]) @ w["fc"][0] + w["fc"][1]
    return h1, s, z


def _ref_class(model, x, cls, mode):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        _, _, z = _ref_forward(model, x, mode)
        score = tf.reduce_sum(tf.gather(z, cls, axis=1, batch_dims=1))
    return tape.gradient(score, x).numpy()


def _ref_unit(model, x, which, channel, row, col, mode):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        h1, s, _ = _ref_forward(model, x, mode)
        t = h1 if which == "c1" else s
    value = t.numpy()[np.arange(len(x)), row, col, channel]
    sig = np.zeros(t.shape, np.float32)
    sig[np.arange(len(x)), row, col, channel] = value
    return tape.gradient(t, x, output_gradients=tf.constant(sig)).numpy()


@pytest.fixture(scope="module")
def setup():
    model = _model()
    x = np.random.default_rng(0).normal(0, 2, (3, 10, 10, 3)).astype(np.float32)
    cls = np.array([0, 1, 2], np.int32)
    return model, x, cls


def test_the_model_reaches_the_relu6_clip(setup):
    model, x, _ = setup
    pre = keras.Model(model.inputs, model.get_layer("c2").output)(x).numpy()
    assert (pre > 6).mean() > 0.02 and (pre < 0).mean() > 0.02


@pytest.mark.parametrize("mode", ["deconvnet", "guided", "backprop"])
def test_class_projection_and_explain_equal_the_reference(setup, mode):
    model, x, cls = setup
    ref = _ref_class(model, x, cls, mode)
    got = cam.class_projection(model, x, cls, mode=mode, verbose=0)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    maps = explain(model, x, mode, cls, verbose=0)
    np.testing.assert_allclose(maps, np.abs(ref).sum(-1), rtol=1e-4, atol=1e-5)


def test_guided_gradcam_uses_the_same_rule(setup):
    model, x, cls = setup
    heat = cam.gradcam(model, x, cls, layer="add", verbose=0)
    got = cam.guided_gradcam(model, x, cls, layer="add", verbose=0)
    ref = _ref_class(model, x, cls, "guided") * heat[..., None]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["deconvnet", "guided", "backprop"])
@pytest.mark.parametrize("way", ["graph", "chain"])
def test_deconvnet_equals_the_reference(setup, mode, way):
    model, x, _ = setup
    if way == "chain":  # the chain path takes plain Conv2D layers (same weights, same seed)
        model = _model(keras.layers.Conv2D)
    channel, row, col = np.array([0, 1, 3]), np.array([2, 5, 7]), np.array([4, 1, 8])
    layers = ["c1"] if way == "chain" else ["c1", "add"]
    deconv = zfkeras.Deconvnet(model, way=way)
    for layer in layers:
        got = deconv.project(
            x, layer, channels=channel, location=np.stack([row, col], 1), mode=mode, verbose=0
        )
        ref = _ref_unit(model, x, layer, channel, row, col, mode)
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5, err_msg=f"{layer}")


def test_filter_ascent_climbs_the_response_before_the_fused_relu(setup):
    model, x, _ = setup
    features = ascent.feature_model(model, "c1", size=(10, 10), pre_relu=True)[0]
    k, b = model.get_layer("c1").get_weights()
    ref = tf.nn.conv2d(x, k, 1, "SAME") + b
    np.testing.assert_allclose(features(x).numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    assert (features(x).numpy() < 0).any()  # the ReLU is split off
    after = ascent.feature_model(model, "c1", size=(10, 10), pre_relu=False)[0]
    np.testing.assert_allclose(after(x).numpy(), tf.nn.relu(ref).numpy(), rtol=1e-5, atol=1e-5)
    pats = zfkeras.visualize_filters(model, "c1", channels=[0, 1], steps=3, verbose=0)
    assert pats.shape == (2, 10, 10, 3) and np.isfinite(pats).all()


def test_relu_rules_table_is_the_one_implementation():
    f = np.array([[1.0, -1.0], [2.0, -2.0]])
    r = np.array([[-3.0, 4.0], [5.0, -6.0]])
    rules = zfkeras.methods.deconvnet.relu_rules(f, r)
    np.testing.assert_array_equal(rules.deconvnet, [[0, 4], [5, 0]])
    np.testing.assert_array_equal(rules.backprop, [[-3, 0], [5, 0]])
    np.testing.assert_array_equal(rules.guided, [[0, 0], [5, 0]])
