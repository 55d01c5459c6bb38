"""Sanity checks for explanations: similarity measures, class-score projections, the
randomization test, deletion/insertion curves and the pointing game."""

import cv2
import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

import zfkeras
from zfkeras.evaluation.deletion import Curve, blur, deletion_curve, insertion_curve
from zfkeras.evaluation.faithfulness import (
    METHODS,
    explain,
    randomization_test,
    reinitialize,
)
from zfkeras.evaluation.pointing import pointing_scores
from zfkeras.evaluation.similarity import normalize, ranks, spearman, ssim


# ----------------------------------------------------------------------------- similarity
def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, (4, 6, 7)).astype(float)  # many ties
    b = a + rng.integers(0, 3, a.shape)
    want = [scipy.stats.spearmanr(a[i].ravel(), b[i].ravel())[0] for i in range(4)]
    np.testing.assert_allclose(spearman(a, b), want, atol=1e-12)
    np.testing.assert_allclose(ranks([3, 1, 3, 2]), [2.5, 0, 2.5, 1])
    flat = np.zeros((1, 3, 3))
    assert spearman(flat, flat)[0] == 1.0 and spearman(flat, a[:1, :3, :3])[0] == 0.0
    assert spearman(a[0], -a[0])[0] == pytest.approx(-1.0)


def test_ssim_identity_noise_and_tensorflow():
    rng = np.random.default_rng(1)
    x = normalize(
        cv2.GaussianBlur(rng.random((3, 32, 32)).transpose(1, 2, 0), (7, 7), 2).transpose(2, 0, 1)
    )
    np.testing.assert_allclose(ssim(x, x), 1.0, atol=1e-12)
    noisy = [ssim(x, np.clip(x + rng.normal(0, s, x.shape), 0, 1)).mean() for s in (0.02, 0.1, 0.3)]
    assert 1 > noisy[0] > noisy[1] > noisy[2]
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    want = tf.image.ssim(
        tf.constant(x[..., None], tf.float32),
        tf.constant(y[..., None], tf.float32),
        max_val=1.0,
        filter_size=11,
        filter_sigma=1.5,
        k1=0.01,
        k2=0.03,
    ).numpy()
    np.testing.assert_allclose(ssim(x, y), want, atol=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        ssim(x, y[:, :10])
    with pytest.raises(ValueError, match="finite"):
        spearman(x, np.full_like(x, np.nan))


# ----------------------------------------------------------------------------- a tiny CNN
def _tiny(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 2))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    h = keras.layers.Conv2D(3, 3, activation="relu", name="top")(h)
    h = keras.layers.Flatten(name="flat")(h)
    h = keras.layers.Dense(6, activation="relu", name="fc")(h)
    logits = keras.layers.Dense(3, name="logits")(h)
    model = keras.Model(inp, keras.layers.Activation("softmax", name="prob")(logits))
    for layer in model.layers:  # positive-ish weights so that the ReLUs are not all dead
        if layer.weights:
            k, b = layer.get_weights()
            layer.set_weights([k + 0.05, b + 0.05])
    x = np.random.default_rng(seed).normal(size=(3, 12, 12, 2)).astype(np.float32)
    return model, x


def test_backprop_guided_and_deconvnet_of_the_class_score():
    model, x = _tiny()
    cls = np.array([0, 1, 2], np.int32)
    logits = keras.Model(model.inputs[0], model.get_layer("logits").output)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        score = tf.reduce_sum(tf.gather(logits(xt), cls, axis=1, batch_dims=1))
    grad = tape.gradient(score, xt).numpy()
    np.testing.assert_allclose(
        explain(model, x, "backprop", cls), np.abs(grad).sum(-1), rtol=1e-5, atol=1e-7
    )
    guided = zfkeras.methods.cam.class_projection(model, x, cls, mode="guided")
    np.testing.assert_allclose(
        explain(model, x, "guided", cls), np.abs(guided).sum(-1), rtol=1e-5, atol=1e-7
    )
    # deconvnet: ReLU(signal) at fc, through its kernel, then zfkeras.Deconvnet from "top"
    w_fc = model.get_layer("fc").get_weights()[0]
    w_out = model.get_layer("logits").get_weights()[0]
    signal = (np.maximum(w_out[:, cls].T, 0) @ w_fc.T).reshape(3, 3, 3, 3)
    down = zfkeras.Deconvnet(model).down(x, "top", signal=signal, mode="deconvnet")
    np.testing.assert_allclose(
        explain(model, x, "deconvnet", cls), np.abs(down).sum(-1), rtol=1e-4, atol=1e-6
    )
    # the patched activations are restored
    assert model.get_layer("fc").activation is keras.activations.relu


def test_every_method_gives_2d_maps():
    model, x = _tiny()
    cls = np.zeros(3, np.int32)
    for method in METHODS:
        maps = explain(model, x, method, cls)
        assert maps.ndim == 3 and len(maps) == 3 and np.all(np.isfinite(maps)), method
        if method != "occlusion":
            assert maps.shape == (3, 12, 12), method
    assert explain(model, x, "occlusion", cls).shape == (3, 11, 11)  # patch 2, stride 1


@pytest.mark.parametrize("name", ["integrated_gradients", "scorecam"])
def test_randomization_takes_the_new_methods(name):
    model, x = _tiny()
    weights = [w.copy() for w in model.get_weights()]
    r = randomization_test(model, x[:2], name, [0, 1], verbose=0)
    assert r.layers[0] == "original" and r.spearman[0] == 1.0 and r.maps.shape[:2] == (5, 2)
    np.testing.assert_allclose(r.maps[0], explain(model, x[:2], name, [0, 1]), atol=1e-6)
    for w, v in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(w, v)  # the model itself is left as it was


# ----------------------------------------------------------------------------- randomization
def test_randomization_cascade_keeps_the_model_and_randomizes_top_down():
    model, x = _tiny()
    before = [w.copy() for w in model.get_weights()]
    original = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
    seen = []

    def record(m, images, class_index):
        same = {
            lay.name: all(
                np.array_equal(a, b) for a, b in zip(lay.get_weights(), original[lay.name])
            )
            for lay in m.layers
            if lay.weights
        }
        seen.append(same)
        return explain(m, images, "backprop", class_index)

    out = randomization_test(model, x, record, cascade=True, verbose=0)
    assert out.layers == ("original", "logits", "fc", "top", "conv")
    assert [sum(not v for v in s.values()) for s in seen] == [0, 1, 2, 3, 4]
    assert not seen[2]["fc"] and not seen[2]["logits"] and seen[2]["top"]
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    seen.clear()
    randomization_test(model, x, record, cascade=False, verbose=0)
    assert [[k for k, v in s.items() if not v] for s in seen] == [
        [],
        ["logits"],
        ["fc"],
        ["top"],
        ["conv"],
    ]


def test_randomization_scores_against_independent_measures():
    model, x = _tiny()
    out = randomization_test(model, x, "backprop", class_index=1, seed=3, verbose=0)
    assert out.spearman[0] == 1.0 and out.ssim[0] == 1.0
    assert out.maps.shape == (5, 3, 12, 12)
    maps = np.abs(out.maps)
    assert np.all(maps.std(axis=(2, 3)) > 0)
    for k in range(1, len(maps)):
        rho = np.mean(
            [scipy.stats.spearmanr(maps[0, i].ravel(), maps[k, i].ravel())[0] for i in range(3)]
        )
        assert out.spearman[k] == pytest.approx(rho, abs=1e-9)
        tfs = tf.image.ssim(
            tf.constant(normalize(maps[0])[..., None], tf.float32),
            tf.constant(normalize(maps[k])[..., None], tf.float32),
            1.0,
        ).numpy()
        assert out.ssim[k] == pytest.approx(tfs.mean(), abs=1e-5)
    assert out.spearman[-1] < 0.9  # a fully random network explains something else
    guided = randomization_test(model, x, "guided", class_index=1, seed=3, verbose=0)
    np.testing.assert_allclose(
        guided.maps[0],
        np.abs(zfkeras.methods.cam.class_projection(model, x, 1, mode="guided")).sum(-1),
        rtol=1e-5,
        atol=1e-7,
    )


def test_reinitialize_uses_the_layers_initializers_and_a_fallback():
    layer = keras.layers.Dense(400, kernel_initializer="glorot_normal", bias_initializer="ones")
    layer.build((None, 300))
    layer.kernel.assign(np.zeros((300, 400)))
    reinitialize(layer, seed=5)
    k = np.asarray(layer.kernel)
    assert k.std() == pytest.approx(np.sqrt(2 / 700), rel=0.05)  # glorot: 2 / (in + out)
    np.testing.assert_array_equal(np.asarray(layer.bias), 1.0)

    class Scale(keras.layers.Layer):
        def build(self, shape):
            self.w = self.add_weight(shape=(1000,), initializer="zeros", name="w")

        def call(self, x):
            return x * self.w

    s = Scale()
    s.build((None, 1000))
    s.w.assign(np.random.default_rng(0).normal(3.0, 2.0, 1000))
    reinitialize(s, seed=1)
    w = np.asarray(s.w)
    assert w.mean() == pytest.approx(3.0, abs=0.3) and w.std() == pytest.approx(2.0, rel=0.1)


def test_randomization_bad_input():
    model, x = _tiny()
    with pytest.raises(ValueError, match="method"):
        randomization_test(model, x, "lime")
    with pytest.raises(ValueError, match="class_index"):
        randomization_test(model, x, "gradcam", class_index=7)
    with pytest.raises(ValueError, match="images"):
        randomization_test(model, x[:, :8], "gradcam")
    with pytest.raises(TypeError, match="model"):
        randomization_test("model", x, "gradcam")


# ----------------------------------------------------------------------------- deletion
def _region_model():
    """Two logits: z0 = sum of the pixels in rows 2-4, cols 1-5; z1 = 0; softmax."""
    inp = keras.Input((8, 8, 1))
    out = keras.layers.Dense(2, activation="softmax", use_bias=False)(keras.layers.Flatten()(inp))
    model = keras.Model(inp, out)
    region = np.zeros((8, 8), bool)
    region[2:5, 1:6] = True
    w = np.zeros((64, 2), np.float32)
    w[:, 0] = region.ravel()
    model.layers[-1].set_weights([w])
    return model, region


def _numpy_curve(x, heat, region, steps, base, insert):
    n, pixels = len(x), 64
    counts = (np.arange(steps + 1) * pixels) // steps
    out = np.zeros((n, steps + 1))
    for i in range(n):
        order = np.argsort(-heat[i].ravel(), kind="stable")
        for s, c in enumerate(counts):
            img = (base[i] if insert else x[i]).reshape(-1).copy()
            img[order[:c]] = (x[i] if insert else base[i]).reshape(-1)[order[:c]]
            z0 = img[region.ravel()].sum()
            out[i, s] = 1 / (1 + np.exp(-z0))
    return out


def test_deletion_matches_numpy_and_perfect_order_drops_fastest():
    model, region = _region_model()
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 1.0, (5, 8, 8, 1)).astype(np.float32)
    perfect = region[None] + 0.01 * x[..., 0]
    shuffled = rng.random((5, 8, 8))
    good = deletion_curve(model, x, perfect, class_index=0, steps=16, batch_size=20)
    bad = deletion_curve(model, x, shuffled, class_index=0, steps=16)
    assert isinstance(good, Curve) and good.scores.shape == (5, 17)
    np.testing.assert_allclose(good.fractions, np.arange(17) * 4 / 64)
    np.testing.assert_allclose(
        good.scores, _numpy_curve(x, perfect, region, 16, 0 * x, False), rtol=1e-5
    )
    np.testing.assert_allclose(
        bad.scores, _numpy_curve(x, shuffled, region, 16, 0 * x, False), rtol=1e-5
    )
    np.testing.assert_allclose(good.auc, np.trapezoid(good.scores, good.fractions, axis=1))
    assert np.all(good.auc < bad.auc)
    ins = insertion_curve(model, x, perfect, class_index=0, steps=8, baseline=-0.5)
    np.testing.assert_allclose(
        ins.scores, _numpy_curve(x, perfect, region, 8, np.full_like(x, -0.5), True), rtol=1e-5
    )
    assert np.all(ins.auc > insertion_curve(model, x, shuffled, 0, steps=8, baseline=-0.5).auc)


def test_blur_matches_opencv_and_is_the_insertion_start():
    x = np.random.default_rng(2).random((2, 20, 24, 3)).astype(np.float32)
    want = np.stack(
        [cv2.GaussianBlur(im, (11, 11), 5, borderType=cv2.BORDER_REFLECT_101) for im in x]
    )
    np.testing.assert_allclose(blur(x), want, atol=1e-5)
    model, region = _region_model()
    x8 = np.random.default_rng(3).random((2, 8, 8, 1)).astype(np.float32)
    curve = insertion_curve(model, x8, np.zeros((2, 8, 8)), class_index=0, steps=4)
    np.testing.assert_allclose(
        curve.scores, _numpy_curve(x8, np.zeros((2, 8, 8)), region, 4, blur(x8), True), rtol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(heatmaps=np.zeros((2, 4, 4))), "heatmaps"),
        (dict(steps=0), "steps"),
        (dict(baseline="noise"), "baseline"),
        (dict(baseline=np.zeros(3)), "baseline"),
        (dict(class_index=[0]), "class_index"),
        (dict(batch_size=0), "batch_size"),
    ],
)
def test_deletion_bad_input(kwargs, match):
    model, _ = _region_model()
    args = (
        dict(heatmaps=np.zeros((2, 8, 8)), class_index=None, steps=4, baseline=0.0, batch_size=8)
        | kwargs
    )
    with pytest.raises((ValueError, TypeError), match=match):
        deletion_curve(model, np.zeros((2, 8, 8, 1)), **args)


# ----------------------------------------------------------------------------- pointing game
def pointing_all(maps, masks, tolerance=0):
    return pointing_scores(maps, masks, tolerance, peaks="all")


def test_pointing_game_agrees_with_cam_and_scores_plateaus():
    rng = np.random.default_rng(4)
    maps = rng.random((30, 16, 16))
    masks = rng.random((30, 16, 16)) < 0.2
    for t in (0, 2):
        first = pointing_scores(maps, masks, t, peaks="first")
        np.testing.assert_array_equal(pointing_scores(maps, masks, t, peaks="all"), first)
    plateau = np.zeros((2, 6, 6))
    plateau[:, 0, :4] = 1.0  # four peak pixels
    mask = np.zeros((2, 6, 6), bool)
    mask[0, 0, 0] = True  # one of the four on the object
    mask[1, 3, 3] = True  # 3 px (square window) from every peak pixel
    np.testing.assert_allclose(pointing_all(plateau, mask), [0.25, 0.0])
    np.testing.assert_allclose(pointing_all(plateau, mask, tolerance=3), [1.0, 1.0])
    np.testing.assert_allclose(pointing_all(plateau, mask, tolerance=2), [0.75, 0.0])
    four = np.repeat(plateau[..., None], 3, -1) * np.array([1, -1, 0])
    np.testing.assert_allclose(pointing_all(four, mask), [0.25, 0.0])
    assert pointing_all(np.zeros((1, 6, 6)), mask[:1])[0] == 0.0  # flat: no peak
    with pytest.raises(ValueError, match="maps"):
        pointing_all(maps[:2], masks)
    with pytest.raises(ValueError, match="masks"):
        pointing_all(maps, masks.astype(int))
    with pytest.raises(ValueError, match="tolerance"):
        pointing_all(maps, masks, tolerance=-1)


def test_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zfkeras.figures.faithfulness import deletion_insertion_figure

    model, region = _region_model()
    xs = np.random.default_rng(0).random((2, 8, 8, 1)).astype(np.float32)
    c = deletion_curve(model, xs, xs[..., 0], steps=4)
    fig = deletion_insertion_figure({"pixel value": c}, {"pixel value": c})
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), c.scores.mean(0))
    plt.close("all")
