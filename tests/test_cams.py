"""Grad-CAM++, LayerCAM and Score-CAM against formulas written out in NumPy and a plain loop
over channels, on a tiny model (feature maps and gradients by a bare GradientTape)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zfkeras
from zfkeras.methods import cams


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((14, 14, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(inp)
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    x = keras.layers.Conv2D(7, 3, activation="relu", name="c2")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(10, activation="relu", name="fc")(x)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="out")(x))


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).normal(size=(4, 14, 14, 3)).astype(np.float32)


CLS = np.array([0, 1, 2, 1])


def maps_and_gradients(model, x, layer, cls):
    last = model.get_layer("out")
    sub = keras.Model(model.input, [model.get_layer(layer).output, last.input])
    with tf.GradientTape() as tape:
        a, feat = sub(tf.constant(x))
        z = feat @ last.kernel + last.bias
        score = tf.reduce_sum(z * tf.one_hot(cls, 3))
    return a.numpy().astype(np.float64), tape.gradient(score, a).numpy().astype(np.float64)


def scaled(m):
    m = np.maximum(m, 0)
    return m / m.max() if m.max() > 0 else m


def plus_plus(a, g):
    """Grad-CAM++'s weighted sum of the maps ``(N, h, w)``, before the ReLU."""
    out = np.zeros(a.shape[:3])
    for i in range(len(a)):
        for k in range(a.shape[-1]):
            gk, ak = g[i, :, :, k], a[i, :, :, k]
            denom = 2 * gk**2 + ak.sum() * gk**3
            alpha = np.where(denom != 0, gk**2 / np.where(denom != 0, denom, 1), 0)
            out[i] += (alpha * np.maximum(gk, 0)).sum() * ak
    return out


def test_gradcam_plus_plus_closed_form(model, images):
    got = cams.gradcam_plus_plus(model, images, CLS, layer="c2", resize=False)
    a, g = maps_and_gradients(model, images, "c2", CLS)
    ref = plus_plus(a, g)
    for i in range(len(images)):
        np.testing.assert_allclose(got[i], scaled(ref[i]), atol=1e-5)


def test_layercam_formula(model, images):
    for layer in ("c1", "c2"):
        got = cams.layercam(model, images, CLS, layer=layer, resize=False)
        a, g = maps_and_gradients(model, images, layer, CLS)
        for i in range(len(images)):
            ref = (np.maximum(g[i], 0) * a[i]).sum(-1)
            np.testing.assert_allclose(got[i], scaled(ref), atol=1e-5)


def loop_scorecam(model, x, layer, cls, keep=None, finish=None):
    a = keras.Model(model.input, model.get_layer(layer).output)(x).numpy()
    out = []
    for i in range(len(x)):
        channels = range(a.shape[-1]) if keep is None else np.argsort(-a[i].std((0, 1)))[:keep]
        ref = np.zeros(a.shape[1:3])
        for k in channels:
            up = tf.image.resize(a[i, :, :, k, None], x.shape[1:3], "bilinear").numpy()[..., 0]
            span = up.max() - up.min()
            mask = (up - up.min()) / span if span > 0 else np.zeros_like(up)
            p = model(x[i : i + 1] * mask[None, :, :, None]).numpy()[0, cls[i]]
            ref += p * a[i, :, :, k]
        out.append((finish or scaled)(ref))
    return np.array(out)


@pytest.mark.parametrize("batch_size", [3, 128])
def test_scorecam_loop_over_channels(model, images, batch_size):
    got = cams.scorecam(model, images, CLS, layer="c2", resize=False, batch_size=batch_size)
    np.testing.assert_allclose(got, loop_scorecam(model, images, "c2", CLS), atol=1e-5)


def test_scorecam_top_channels(model, images):
    got = cams.scorecam(model, images, CLS, layer="c1", resize=False, top_channels=2)
    np.testing.assert_allclose(got, loop_scorecam(model, images, "c1", CLS, keep=2), atol=1e-5)


def test_default_layer_and_resize(model, images):
    for fn in (cams.gradcam_plus_plus, cams.layercam, cams.scorecam):
        small = fn(model, images, CLS, resize=False)
        assert small.shape == (4, 4, 4)  # c2, the last convolutional feature maps
        np.testing.assert_allclose(small, fn(model, images, CLS, layer="c2", resize=False))
        big = fn(model, images, CLS)
        assert big.shape == (4, 14, 14) and big.min() >= 0 and big.max() <= 1


def test_raw_signed_maps_at_the_layer_resolution(model, images):
    # relu=False, normalize=False, resize=False: the weighted sum itself, by a bare tape
    a, g = maps_and_gradients(model, images, "c2", CLS)
    raw = {
        cams.gradcam_plus_plus: plus_plus(a, g),
        cams.layercam: (np.maximum(g, 0) * a).sum(-1),
        zfkeras.gradcam: (g.mean(axis=(1, 2), keepdims=True) * a).sum(-1),
        cams.scorecam: loop_scorecam(model, images, "c2", CLS, finish=lambda m: m),
    }
    assert (raw[zfkeras.gradcam] < 0).any()  # Grad-CAM's sum is signed here
    for fn, ref in raw.items():
        kw = dict(layer="c2", resize=False)
        got = fn(model, images, CLS, relu=False, normalize=False, **kw)
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5, err_msg=fn.__name__)
        peak = np.abs(ref).max(axis=(1, 2), keepdims=True)
        got = fn(model, images, CLS, relu=False, **kw)  # scaled into [-1, 1], sign kept
        np.testing.assert_allclose(got, ref / peak, rtol=1e-4, atol=1e-5, err_msg=fn.__name__)
        got = fn(model, images, CLS, normalize=False, **kw)
        np.testing.assert_allclose(got, np.maximum(ref, 0), rtol=1e-4, atol=1e-5)
        # the ReLU, then the upsampling, then the scaling: the defaults are the scaled raw map
        up = fn(model, images, CLS, layer="c2", normalize=False)
        top = up.max(axis=(1, 2), keepdims=True)
        want = np.divide(up, top, out=np.zeros_like(up), where=top > 0)  # zero maps stay zero
        np.testing.assert_allclose(fn(model, images, CLS, layer="c2"), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("option", ["relu", "normalize", "resize"])
def test_options_must_be_bools(model, images, option):
    for fn in (zfkeras.gradcam, cams.gradcam_plus_plus, cams.layercam):
        with pytest.raises(TypeError, match=f"{option} must be True or False, got str 'yes'"):
            fn(model, images, CLS, **{option: "yes"})
