"""One cache that never keeps a model alive and never serves a stale function: after every
public method, deleting the model and collecting garbage frees it; after ``Sequential.pop()`` /
``add()`` the methods see the new layers; ``zfkeras.methods.clear_cache`` empties a model's
entries."""

import gc
import weakref

import keras
import numpy as np
import pytest

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
