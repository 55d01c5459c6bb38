"""Every method works under the mixed_float16 policy, with results in float32 (the methods of
explain's registry all, by name)."""

import keras
import numpy as np
import pytest

import zfkeras
from zfkeras import evaluation
from zfkeras.methods import cam, registry

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


# every method of explain's registry (zfkeras.methods.registry), then the others
CALLS = {
    **{
        f"explain-{name}": (lambda m, name=name: evaluation.explain(m, X, name, verbose=0))
        for name in registry.METHODS
    },
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
    "deletion_curve": lambda m: evaluation.deletion_curve(
        m, X, X[..., 0], steps=2, verbose=0
    ).scores.astype(np.float32),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_float32_results_under_mixed_float16(mixed_model, name):
    out = np.asarray(CALLS[name](mixed_model))
    assert out.dtype == np.float32, f"{name}: {out.dtype}"
    assert np.isfinite(out).all()


# The CAM family under mixed_float16 against the same weights in float32: float16 keeps about
# 3 decimal digits per op, so each map may differ by at most CAM_TOLERANCE times the float32
# map's largest absolute value (measured: under 0.1% for every method on this model).
CAM_TOLERANCE = 0.01
CLASSES = np.array([1, 3])
CAMS = {
    "gradcam": lambda m: zfkeras.gradcam(m, X, CLASSES, verbose=0),
    "gradcam_raw": lambda m: zfkeras.gradcam(
        m, X, CLASSES, resize=False, relu=False, normalize=False, verbose=0
    ),
    "gradcam_plus_plus": lambda m: zfkeras.gradcam_plus_plus(m, X, CLASSES, verbose=0),
    "layercam": lambda m: zfkeras.layercam(m, X, CLASSES, layer="conv1", verbose=0),
    "scorecam": lambda m: zfkeras.scorecam(m, X, CLASSES, verbose=0),
    "guided_gradcam": lambda m: cam.guided_gradcam(m, X, CLASSES, verbose=0),
    "class_projection_guided": lambda m: cam.class_projection(m, X, CLASSES, verbose=0),
    "class_projection_deconvnet": lambda m: cam.class_projection(
        m, X, CLASSES, mode="deconvnet", verbose=0
    ),
}


@pytest.mark.parametrize("name", sorted(CAMS))
def test_cam_family_under_mixed_float16_matches_float32(tiny_model, mixed_model, name):
    policy = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("float32")
    try:
        reference = tiny_model("dense")
    finally:
        keras.mixed_precision.set_global_policy(policy)
    assert reference.get_layer("conv1").compute_dtype == "float32"
    reference.set_weights(mixed_model.get_weights())
    want = np.asarray(CAMS[name](reference))
    got = np.asarray(CAMS[name](mixed_model))
    assert got.dtype == np.float32 and got.shape == want.shape
    scale = np.abs(want).max()
    assert scale > 0
    np.testing.assert_allclose(got, want, atol=CAM_TOLERANCE * scale, rtol=0)
