"""Every method on every Keras CNN: the six keras.applications architectures
(weights=None, 32x32 inputs, 10 classes), each built once per module, times every public method.

Independent checks: ``backprop`` projections against a bare ``tf.GradientTape`` gradient;
receptive fields against the support of an input gradient; ``guided`` projections against a
hand-written network whose ReLUs override their gradient with ``tf.custom_gradient``.
"""

import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import zfkeras
from zfkeras.methods.cam import guided_gradcam
from zfkeras.methods.deconvnet import MODES

SIZE = 32
# architecture -> (constructor, a mid-level layer, a layer whose box fits in the image)
ARCHS = {
    "vgg16": (keras.applications.VGG16, "block3_conv3", None),
    "resnet50": (keras.applications.ResNet50, "conv3_block1_out", "conv2_block1_out"),
    "mobilenetv2": (keras.applications.MobileNetV2, "block_3_expand_relu", "block_2_add"),
    "densenet121": (keras.applications.DenseNet121, "conv3_block2_concat", "conv2_block1_concat"),
    "efficientnetb0": (keras.applications.EfficientNetB0, "block3a_expand_activation", None),
    "convnext_tiny": (
        keras.applications.ConvNeXtTiny,
        "convnext_tiny_stage_1_block_0_identity",
        None,
    ),
}
SLOW = {"densenet121", "efficientnetb0", "convnext_tiny"}
PARAMS = [pytest.param(a, marks=pytest.mark.slow) if a in SLOW else a for a in ARCHS]
X = np.random.default_rng(0).normal(size=(4, SIZE, SIZE, 3)).astype("float32")
_BUILT: dict = {}


@pytest.fixture(scope="module")
def built():
    """Build each architecture once per module (on first use)."""

    def get(arch):
        if arch not in _BUILT:
            keras.utils.set_random_seed(0)
            ctor, layer, _ = ARCHS[arch]
            model = ctor(weights=None, input_shape=(SIZE, SIZE, 3), classes=10)
            _BUILT[arch] = (model, zfkeras.Deconvnet(model))
        return _BUILT[arch]

    yield get
    _BUILT.clear()


def finite(a, shape):
    a = np.asarray(a)
    assert a.shape == shape and np.isfinite(a).all(), (a.shape, shape)
    return a


@pytest.mark.parametrize("arch", PARAMS)
def test_activations_gradcam_filters_occlusion(built, arch):
    model, _ = built(arch)
    layer = ARCHS[arch][1]
    heat = finite(zfkeras.gradcam(model, X[:2]), (2, SIZE, SIZE))
    assert heat.min() >= 0 and heat.max() <= 1
    finite(guided_gradcam(model, X[:2], class_index=3), (2, SIZE, SIZE, 3))
    out = zfkeras.activation_model(model, [layer])(X[:2])[layer]
    finite(out, (2, *model.get_layer(layer).output.shape[1:]))
    channels = [0, 1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pats = zfkeras.visualize_filters(model, layer, channels=channels, steps=2, verbose=0)
    finite(pats, (2, SIZE, SIZE, 3))
    # a channel of a random network can have no gradient at all; the method says so, and what
    # it returns for that channel is one flat grey image
    for w in caught:
        assert issubclass(w.category, RuntimeWarning), w
        dead = re.search(r"channels \[([\d, ]+)\] had a zero", str(w.message))
        assert dead, w.message
        for c in map(int, dead.group(1).split(",")):
            assert np.ptp(pats[channels.index(c)]) == 0
    occ = zfkeras.occlusion_sensitivity(model, X[:1], patch_size=16, stride=16)
    finite(occ.probability, (1, 2, 2))


@pytest.mark.parametrize("arch", PARAMS)
def test_projections(built, arch):
    model, d = built(arch)
    layer = ARCHS[arch][1]
    units = d.units(X, layer)
    proj = {m: finite(d.project(X, layer, mode=m), X.shape) for m in MODES}
    # backprop: value * d unit / d image, by a bare GradientTape
    sub = keras.Model(model.inputs, model.get_layer(layer).output)
    x = tf.constant(X)
    idx = np.stack([np.arange(len(X)), units.row, units.col, units.channel], 1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        act = tf.gather_nd(sub(x, training=False), idx)
    grad = tape.gradient(act, x, output_gradients=tf.constant(units.value)).numpy()
    assert np.abs(grad).max() > 0
    np.testing.assert_allclose(proj["backprop"], grad, atol=1e-4 * np.abs(grad).max())
    info = d.describe(layer)
    assert info.layer == layer and (info.relu or info.nonlinear)
    if info.relu:  # a ReLU rule changes the result
        assert np.abs(proj["deconvnet"] - grad).max() > 1e-3 * np.abs(grad).max()
    if arch == "vgg16":
        assert info.way == "chain" and not info.nonlinear
    else:
        assert info.way == "graph"
    if arch in ("efficientnetb0", "convnext_tiny"):  # swish / gelu: crossed by gradient
        assert info.nonlinear


@pytest.mark.parametrize("arch", PARAMS)
def test_top_activations_and_tiles(built, arch):
    model, d = built(arch)
    layer = ARCHS[arch][1]
    top = zfkeras.top_activations(model, X, layer, k=3, channels=[0, 1, 2], verbose=0)
    assert top.layer == layer and top.index.shape == (3, 3)
    act = keras.Model(model.inputs, model.get_layer(layer).output)(X, training=False).numpy()
    at = act[top.index, top.row, top.col, np.array([[0], [1], [2]])]
    np.testing.assert_allclose(at, top.value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(top.value[:, 0], act[..., :3].max(axis=(0, 1, 2)), rtol=1e-5)
    tiles = zfkeras.top9_tiles(d, X, top, channels=[1, 2])
    rf = zfkeras.receptive_field(model, layer)
    shape = (2, 3, *rf.size, 3)
    finite(tiles.projections, shape)
    assert tiles.patches.shape == shape and tiles.patches.dtype == np.uint8
    if arch == "efficientnetb0":  # squeeze-and-excitation: a global path
        assert rf.global_context


def gradient_support(model, layer, row, col):
    x = tf.constant(np.random.default_rng(5).uniform(0.1, 1, (2, SIZE, SIZE, 3)), tf.float32)
    sub = keras.Model(model.inputs, model.get_layer(layer).output)
    with tf.GradientTape() as tape:
        tape.watch(x)
        act = tf.reduce_sum(sub(x, training=False)[:, row, col, :])
    return np.any(tape.gradient(act, x).numpy() != 0, axis=(0, 3))


@pytest.mark.parametrize(
    "arch", ["resnet50", "mobilenetv2", pytest.param("densenet121", marks=pytest.mark.slow)]
)
def test_receptive_field_against_gradient_support(built, arch):
    model, _ = built(arch)
    layer = ARCHS[arch][2]
    rf = zfkeras.receptive_field(model, layer)
    assert rf.size[0] < SIZE and not rf.global_context
    row, col = rf.output_size[0] // 2, rf.output_size[1] // 2
    sup = gradient_support(model, layer, row, col)
    top, left, bottom, right = rf.box(row, col)
    assert 0 <= top and bottom <= SIZE and 0 <= left and right <= SIZE
    rows, cols = np.nonzero(sup)
    assert sup.any() and rows.min() >= top and rows.max() < bottom
    assert cols.min() >= left and cols.max() < right
    # the box is not much larger than the support: within 2 px of every edge
    assert rows.min() - top <= 2 and bottom - 1 - rows.max() <= 2
    assert cols.min() - left <= 2 and right - 1 - cols.max() <= 2


# ---------------------------------------------------------------- a small branching model
def branching_model():
    rng = np.random.default_rng(7)
    inp = keras.Input((15, 15, 3))
    a = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(inp)
    b = keras.layers.BatchNormalization(name="bn")(
        keras.layers.Conv2D(6, 3, padding="same", name="c2")(a)
    )
    b = keras.layers.ReLU(name="r2")(b)
    s = keras.layers.Add(name="add")([a, b])
    p = keras.layers.MaxPooling2D(3, 2, name="pool")(s)
    c = keras.layers.Conv2D(4, 1, name="c3")(p)
    c6 = keras.layers.ReLU(max_value=6.0, name="r6")(c)
    cat = keras.layers.Concatenate(name="cat")([c6, p])
    out = keras.layers.Conv2D(5, 3, activation="relu", name="top")(cat)
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(out)))
    bn = model.get_layer("bn")
    bn.gamma.assign(rng.uniform(0.5, 2, 6))
    bn.beta.assign(rng.normal(0, 0.5, 6))
    bn.moving_mean.assign(rng.normal(0, 0.5, 6))
    bn.moving_variance.assign(rng.uniform(0.5, 2, 6))
    c3 = model.get_layer("c3")
    c3.kernel.assign(c3.kernel * 8.0)  # some units above 6, so ReLU6 clips
    return model


def bare_projection(model, x, units, mode):
    """The branching model rewritten with tf ops; each ReLU's gradient is the mode's rule."""

    def rule(top=None):
        @tf.custom_gradient
        def relu(z):
            y = tf.nn.relu(z) if top is None else tf.minimum(tf.nn.relu(z), top)

            def grad(r):
                on = tf.cast((z > 0) & ((z < top) if top else True), r.dtype)
                return {
                    "backprop": r * on,
                    "deconvnet": tf.nn.relu(r),
                    "guided": tf.nn.relu(r) * on,
                }[mode]

            return y, grad

        return relu

    def conv(name, t):
        layer = model.get_layer(name)
        return tf.nn.conv2d(t, layer.kernel, 1, layer.padding.upper()) + layer.bias

    bn = model.get_layer("bn")
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        a = rule()(conv("c1", x))
        b = (conv("c2", a) - bn.moving_mean) * tf.math.rsqrt(bn.moving_variance + bn.epsilon)
        b = rule()(b * bn.gamma + bn.beta)
        p = tf.nn.max_pool2d(a + b, 3, 2, "VALID")
        cat = tf.concat([rule(6.0)(conv("c3", p)), p], -1)
        top = rule()(conv("top", cat))
        idx = np.stack([np.arange(len(units.row)), units.row, units.col, units.channel], 1)
        kept = tf.scatter_nd(idx, tf.gather_nd(top, idx), tf.shape(top))
    return tape.gradient(top, x, output_gradients=kept).numpy()


@pytest.mark.parametrize("mode", ["guided", "deconvnet", "backprop"])
def test_branching_model_against_bare_custom_gradients(mode):
    model = branching_model()
    x = np.random.default_rng(8).normal(size=(6, 15, 15, 3)).astype("float32")
    d = zfkeras.Deconvnet(model)
    units = d.units(x, "top", channels=np.arange(6) % 5)
    got = d.project(x, "top", channels=np.arange(6) % 5, mode=mode)
    expect = bare_projection(model, x, units, mode)
    assert np.abs(expect).max() > 0
    np.testing.assert_allclose(got, expect, atol=1e-5 * np.abs(expect).max())
    info = d.describe("top")
    assert info.way == "graph" and info.switches == ("pool",)
    assert set(info.relu) == {"top", "r6", "r2", "c1"} and not info.nonlinear
    assert {"add", "cat", "bn", "c2", "c3"} <= set(info.linear)
    c3 = keras.Model(model.inputs, model.get_layer("c3").output)(x).numpy()
    assert (c3 > 6).any() and (c3 > 0).any()  # the clip and the ReLU are both at work


def test_receptive_field_of_the_branching_model_is_the_union():
    # c1 3x3 + c2 3x3 on one branch (5x5), c1 alone on the skip (3x3): the Add sees 5x5;
    # pool 3x3/2 -> 7x7 jump 2; top 3x3 over cat of c3 (1x1) and pool -> 11x11 jump 2
    rf = zfkeras.receptive_field(branching_model(), "top")
    assert rf.size == (11, 11) and rf.stride == (2, 2) and rf.offset == (-2, -2)
    assert zfkeras.receptive_field(branching_model(), "add").size == (5, 5)


def _logits_and_layer(model, layer):
    """A model on the original graph giving (the layer's output, the input of the last Dense
    layer, the softmax head), and the logits from the latter by hand."""
    pred = [lay for lay in model.layers if isinstance(lay, keras.layers.Dense)][-1]
    assert pred.activation is keras.activations.softmax
    sub = keras.Model(model.input, [model.get_layer(layer).output, pred.input])
    return sub, lambda feat: feat @ pred.kernel + pred.bias


@pytest.mark.parametrize("arch", PARAMS)
def test_gradcam_against_a_tape(built, arch):
    model, _ = built(arch)
    layer, cls = ARCHS[arch][1], np.array([3, 7])
    sub, logits = _logits_and_layer(model, layer)
    with tf.GradientTape() as tape:
        a, feat = sub(tf.constant(X[:2]))
        score = tf.reduce_sum(logits(feat) * tf.one_hot(cls, 10))
    g = tape.gradient(score, a).numpy()
    raw = (g.mean(axis=(1, 2), keepdims=True) * a.numpy()).sum(-1)
    got = zfkeras.gradcam(model, X[:2], cls, layer=layer, resize=False, relu=False, normalize=False)
    scale = np.abs(raw).max()
    assert scale > 0
    np.testing.assert_allclose(got, raw, rtol=1e-3, atol=1e-4 * scale)
    heat = zfkeras.gradcam(model, X[:2], cls, layer=layer, resize=False)  # the defaults
    top = np.maximum(raw, 0).max(axis=(1, 2), keepdims=True)
    want = np.divide(np.maximum(raw, 0), top, out=np.zeros_like(raw), where=top > 0)
    np.testing.assert_allclose(heat, want, atol=1e-3)


@pytest.mark.parametrize("arch", ["mobilenetv2", "resnet50"])
def test_attributions_against_the_gradient(built, arch):
    # MobileNetV2 as the issue asks; its random logits are tiny (about 1e-12), so ResNet50
    # (logits about 0.1) checks the same at an ordinary scale
    model, _ = built(arch)
    cls, x = np.array([3, 7]), X[:2]
    sub, logits = _logits_and_layer(model, ARCHS[arch][1])

    def scores(v):
        return tf.reduce_sum(logits(sub(v)[1]) * tf.one_hot(cls, 10), -1)

    v = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(v)
        total = tf.reduce_sum(scores(v))
    grad = tape.gradient(total, v).numpy()
    # SmoothGrad without noise is the gradient (every sample is the image itself)
    got = zfkeras.smoothgrad(model, x, cls, samples=3, noise=0.0, verbose=0)
    np.testing.assert_allclose(got, grad, rtol=1e-3, atol=1e-4 * np.abs(grad).max())
    # Integrated Gradients: completeness, the attributions sum to f(x) - f(baseline)
    ig = zfkeras.integrated_gradients(model, x, cls, steps=64, verbose=0)
    change = (scores(v) - scores(tf.zeros_like(v))).numpy()
    assert (np.abs(change) > 0).all()  # the tolerance is relative
    np.testing.assert_allclose(ig.sum(axis=(1, 2, 3)), change, rtol=0.02, atol=0)
