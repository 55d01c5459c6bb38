"""Every method works under the mixed_float16 policy, with results in float32."""

import keras
import numpy as np
import pytest

import zfkeras
from zfkeras import evaluation
from zfkeras.methods import cam

X = np.random.default_rng(0).normal(size=(2, 12, 12, 3)).astype(np.float32)
CONCEPTS = {"c": np.pad(np.ones((2, 4, 4), np.int32), ((0, 0), (4, 4), (4, 4)))}


@pytest.fixture(scope="module")
def mixed_model(tiny_model):
    before = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tiny_model("dense")
        assert model.get_layer("conv1").compute_dtype == "float16"
        yield model
    finally:
        keras.mixed_precision.set_global_policy(before)


CALLS = {
    "gradcam": lambda m: zfkeras.gradcam(m, X, verbose=0),
    "guided_gradcam": lambda m: cam.guided_gradcam(m, X, verbose=0),
    "class_projection": lambda m: cam.class_projection(m, X, mode="deconvnet", verbose=0),
    "deconvnet": lambda m: zfkeras.Deconvnet(m).project(X, "conv2", verbose=0),
    "deconvnet_graph": lambda m: zfkeras.Deconvnet(m, way="graph").project(X, "conv2", verbose=0),
    "top_activations": lambda m: zfkeras.top_activations(m, X, "conv2", k=2, verbose=0).value,
    "visualize_filters": lambda m: zfkeras.visualize_filters(
        m, "conv2", channels=[0, 1], steps=2, verbose=0
    ),
    "occlusion": lambda m: (
        zfkeras.occlusion_sensitivity(
            m, X, patch_size=4, stride=4, layer="conv2", verbose=0
        ).activation
    ),
    "dissect": lambda m: (
        zfkeras.dissect(m, X, "conv2", concept_maps=CONCEPTS, quantile=0.1).thresholds
    ),
    "invariance": lambda m: (
        zfkeras.invariance_curves(
            m, X, kind="rotation", amounts=[0.0, 10.0], layers=["conv1"], verbose=0
        ).probability
    ),
    "explain": lambda m: evaluation.explain(m, X, "guided", verbose=0),
    "deletion_curve": lambda m: evaluation.deletion_curve(
        m, X, X[..., 0], steps=2, verbose=0
    ).scores.astype(np.float32),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_float32_results_under_mixed_float16(mixed_model, name):
    out = np.asarray(CALLS[name](mixed_model))
    assert out.dtype == np.float32, f"{name}: {out.dtype}"
    assert np.isfinite(out).all()
