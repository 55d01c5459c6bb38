"""One cache that never keeps a model alive and never serves a stale function: after every
public method, deleting the model and collecting garbage frees it; after ``Sequential.pop()`` /
``add()`` the methods see the new layers; ``zfkeras.methods.clear_cache`` empties a model's
entries."""

import gc
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

import zfkeras
from zfkeras import evaluation
from zfkeras.methods import cache, cam

X = np.random.default_rng(0).normal(size=(2, 12, 12, 3)).astype(np.float32)
MASKS = np.zeros((2, 12, 12), bool)
MASKS[:, 4:8, 4:8] = True
CALLS = {
    "gradcam": lambda m: zfkeras.gradcam(m, X, verbose=0),
    "guided_gradcam": lambda m: cam.guided_gradcam(m, X, verbose=0),
    "class_projection": lambda m: cam.class_projection(m, X, mode="deconvnet", verbose=0),
    "pre_softmax": lambda m: zfkeras.pre_softmax(m)(X),
    "activation_model": lambda m: zfkeras.activation_model(m, ["conv1"])(X),
    "deconvnet": lambda m: zfkeras.Deconvnet(m).project(X, "conv2", verbose=0),
    "top_activations": lambda m: zfkeras.top_activations(m, X, "conv2", k=1, verbose=0),
    "top9_tiles": lambda m: zfkeras.top9_tiles(
        m, X, zfkeras.top_activations(m, X, "conv2", k=1, verbose=0)
    ),
    "receptive_field": lambda m: zfkeras.receptive_field(m, "conv2"),
    "visualize_filters": lambda m: zfkeras.visualize_filters(
        m, "conv1", channels=0, steps=2, verbose=0
    ),
    "occlusion": lambda m: zfkeras.occlusion_sensitivity(
        m, X, patch_size=4, stride=4, layer="conv2", verbose=0
    ),
    "dissect": lambda m: zfkeras.dissect(
        m, X, "conv2", concept_maps={"c": MASKS.astype(np.int32)}, quantile=0.1, verbose=0
    ),
    "invariance": lambda m: zfkeras.invariance_curves(
        m, X, kind="rotation", amounts=[0.0, 10.0], layers=["conv1"], verbose=0
    ),
    "explain": lambda m: evaluation.explain(m, X, "guided", verbose=0),
    "randomization_test": lambda m: evaluation.randomization_test(m, X, "gradcam", verbose=0),
    "deletion_curve": lambda m: evaluation.deletion_curve(m, X, X[..., 0], steps=2, verbose=0),
    "insertion_curve": lambda m: evaluation.insertion_curve(m, X, X[..., 0], steps=2, verbose=0),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_model_is_freed_after_every_method(tiny_model, name):
    model = tiny_model("dense")
    CALLS[name](model)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None, f"{name} keeps the model alive"


def test_a_changed_model_misses_the_cache(tiny_model):
    x = keras.Input((12, 12, 3))
    model = keras.Sequential([x, keras.layers.Conv2D(3, 3, name="a"), keras.layers.Flatten()])
    model.add(keras.layers.Dense(2, name="old"))
    before = zfkeras.pre_softmax(model)(X).numpy()
    model.pop()
    model.add(keras.layers.Dense(5, name="new"))
    after = zfkeras.pre_softmax(model)(X).numpy()
    assert before.shape == (2, 2) and after.shape == (2, 5)
    np.testing.assert_allclose(after, model(X).numpy(), rtol=1e-5, atol=1e-6)


def test_clear_cache(tiny_model):
    model = tiny_model("dense")
    zfkeras.gradcam(model, X, verbose=0)
    assert model in cache._CACHE
    zfkeras.methods.clear_cache(model)
    assert model not in cache._CACHE
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        zfkeras.clear_cache("model")


def _raw_gradcam_by_tape(model, x, cls):
    """Grad-CAM's signed sum at conv2, by a bare tape on the model as it is now."""
    sub = keras.Model(model.input, [model.get_layer("conv2").output, model.output])
    with tf.GradientTape() as tape:
        a, z = sub(tf.constant(x))
        score = tf.reduce_sum(tf.cast(z, tf.float32) * tf.one_hot(cls, z.shape[-1]))
    a, g = tf.cast(a, tf.float32).numpy(), tf.cast(tape.gradient(score, a), tf.float32).numpy()
    return (g.mean(axis=(1, 2), keepdims=True) * a).sum(-1)


def _raw_gradcam(model, cls):
    options = dict(layer="conv2", resize=False, relu=False, normalize=False, verbose=0)
    return zfkeras.gradcam(model, X, cls, **options)


@pytest.mark.parametrize("change", ["activation", "dtype_policy"])
def test_a_changed_activation_or_dtype_policy_misses_the_cache(tiny_model, change):
    model, cls = tiny_model("none"), np.array([1, 3])
    before = _raw_gradcam(model, cls)
    np.testing.assert_allclose(before, _raw_gradcam_by_tape(model, X, cls), rtol=1e-4, atol=1e-6)
    assert cache.cache_keys(model)
    fc7 = model.get_layer("fc7")
    if change == "activation":  # what tf-keras-vis's model modifiers do
        fc7.activation = keras.activations.tanh
    else:
        fc7.dtype_policy = "mixed_bfloat16"
    assert cache.cache_keys(model) == []  # every entry of the model is stale
    after, want = _raw_gradcam(model, cls), _raw_gradcam_by_tape(model, X, cls)
    scale = np.abs(want).max()
    assert np.abs(before - want).max() > 1e-3 * scale  # the change matters...
    np.testing.assert_allclose(after, want, atol=1e-4 * scale)  # ...and the cache saw it


def test_the_deconvnet_caches_live_in_the_one_cache(tiny_model):
    model = tiny_model("dense")
    first = zfkeras.Deconvnet(model).project(X, "conv2", verbose=0)
    keys = cache.cache_keys(model)
    assert {k[0] for k in keys} == {"deconvnet", "nodes"}  # the route, shape and compiled pass
    again = zfkeras.Deconvnet(model).project(X, "conv2", verbose=0)  # a new instance: shared
    assert cache.cache_keys(model) == keys
    np.testing.assert_array_equal(first, again)
    d = zfkeras.Deconvnet(model)
    assert list(d.describe("conv2").relu) == ["conv2", "conv1"]
    model.get_layer("conv1").activation = keras.activations.linear  # no ReLU below conv2 now
    assert list(d.describe("conv2").relu) == ["conv2"]  # the same instance sees the change
    zfkeras.clear_cache(model)
    assert cache.cache_keys(model) == []


def test_entries_stay_bounded_over_calls_with_different_learning_rates(tiny_model):
    model = tiny_model("dense")
    sizes = []
    for lr in np.linspace(0.001, 0.2, 100):
        zfkeras.visualize_filters(model, "conv2", channels=0, steps=1, learning_rate=lr, verbose=0)
        sizes.append(len(cache.cache_keys(model)))
    assert len(set(sizes)) == 1, sizes
    count = len(cache.cache_keys(model))
    for k, lr in enumerate(np.linspace(0.01, 0.1, 100)):
        zfkeras.visualize_units(
            model, X, "conv2", channels=0, steps=1, learning_rate=float(lr), verbose=0, seed=k
        )
    grown = cache.cache_keys(model)
    assert len(grown) == count + 2, grown  # Lucid's traced model and compiled step, once each


def _score_gradient(model, rows, cls):
    """d (sum of each row's class score) / d rows, by a plain GradientTape (the oracle)."""
    rows = tf.constant(rows, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(rows)
        score = tf.reduce_sum(tf.gather(model(rows), cls, axis=1, batch_dims=1))
    return tape.gradient(score, rows).numpy()


def test_entries_stay_bounded_over_calls_with_varied_steps_samples_and_channels(tiny_model):
    """``steps``, ``samples``, ``channels`` and ``k`` are arguments of the compiled functions,
    not cache-key parts: a model's entries do not grow over calls that vary them, and the one
    compiled function still computes each call's own definition (hand-computed oracles)."""
    model = tiny_model("none")  # plain logits: the class score is the model's output
    cls = np.array([1, 3], np.int32)

    def calls(k):
        zfkeras.integrated_gradients(model, X, cls, steps=1 + k, verbose=0)
        zfkeras.smoothgrad(model, X, cls, samples=1 + k, verbose=0, seed=k)
        chans = [c for c in range(6) if (c + k) % 3] or [0]
        zfkeras.top_activations(model, X, "conv2", channels=chans, k=1 + k % 2, verbose=0)

    calls(0)
    zfkeras.top_activations(model, X, "conv2", k=1, verbose=0)  # every channel: its own entry
    count = len(cache.cache_keys(model))
    for k in range(1, 30):
        calls(k)
        assert len(cache.cache_keys(model)) == count, cache.cache_keys(model)

    # Integrated Gradients, 5 steps after 29 other step counts: the midpoint rule by hand
    got = zfkeras.integrated_gradients(model, X, cls, steps=5, verbose=0)
    total = sum(_score_gradient(model, X * (j + 0.5) / 5, cls) for j in range(5))
    np.testing.assert_allclose(got, X * total / 5, rtol=1e-4, atol=1e-6)
    # SmoothGrad, 3 samples after 29 other sample counts: each image's noise by hand
    got = zfkeras.smoothgrad(model, X, cls, samples=3, noise=0.2, verbose=0, seed=7)
    sigma = 0.2 * (X.max(axis=(1, 2, 3)) - X.min(axis=(1, 2, 3)))
    want = []
    for i in range(len(X)):
        eps = tf.random.stateless_normal((3, *X.shape[1:]), [7, i]).numpy()
        rows = X[i] + sigma[i] * eps
        want.append(_score_gradient(model, rows, np.full(3, cls[i])).mean(0))
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-4, atol=1e-6)
    # top activations of channels [5, 2], k=2: the per-image spatial maximum by NumPy
    top = zfkeras.top_activations(model, X, "conv2", channels=[5, 2], k=2, verbose=0)
    a = keras.Model(model.inputs, model.get_layer("conv2").output)(X).numpy()[..., [5, 2]]
    peak = a.max(axis=(1, 2)).T  # (channels, images)
    np.testing.assert_array_equal(top.channels, [5, 2])
    np.testing.assert_allclose(top.value, -np.sort(-peak, axis=1), rtol=1e-5)
    np.testing.assert_array_equal(top.index, np.argsort(-peak, axis=1))
    assert len(cache.cache_keys(model)) == count
