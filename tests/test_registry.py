"""One place to add a method: the registry feeds explain, the error table and mixed precision."""

import numpy as np
import pytest

import zfkeras
from zfkeras.evaluation import explain
from zfkeras.evaluation.faithfulness import METHODS
from zfkeras.methods import cam, registry

TWELVE = {
    "deconvnet",
    "guided",
    "backprop",
    "gradcam",
    "guided_gradcam",
    "occlusion",
    "smoothgrad",
    "integrated_gradients",
    "gradcam_plus_plus",
    "layercam",
    "scorecam",
    "rise",
}


def _occlusion_drop(m, x, c):
    # patch max(1, round(12 / 8)) = 2 px, stride 1: the drop of the class probability
    r = zfkeras.occlusion_sensitivity(m, x, patch_size=2, stride=1, class_index=c, verbose=0)
    return r.base_probability[:, None, None] - r.probability


# each name called through the public function it stands for (the oracle of explain's routing)
DIRECT = {
    "deconvnet": lambda m, x, c: cam.class_projection(m, x, c, mode="deconvnet", verbose=0),
    "guided": lambda m, x, c: cam.class_projection(m, x, c, mode="guided", verbose=0),
    "backprop": lambda m, x, c: cam.class_projection(m, x, c, mode="backprop", verbose=0),
    "gradcam": lambda m, x, c: zfkeras.gradcam(m, x, c, verbose=0),
    "guided_gradcam": lambda m, x, c: cam.guided_gradcam(m, x, c, verbose=0),
    "occlusion": _occlusion_drop,
    "smoothgrad": lambda m, x, c: zfkeras.smoothgrad(m, x, c, verbose=0),
    "integrated_gradients": lambda m, x, c: zfkeras.integrated_gradients(m, x, c, verbose=0),
    "gradcam_plus_plus": lambda m, x, c: zfkeras.gradcam_plus_plus(m, x, c, verbose=0),
    "layercam": lambda m, x, c: zfkeras.layercam(m, x, c, verbose=0),
    "scorecam": lambda m, x, c: zfkeras.scorecam(m, x, c, verbose=0),
    "rise": lambda m, x, c: zfkeras.rise(m, x, c, verbose=0),
}


def test_the_registry_lists_exactly_the_twelve_methods():
    assert set(registry.METHODS) == TWELVE and len(registry.METHODS) == 12
    assert METHODS == tuple(registry.METHODS)  # explain's names are the registry's
    assert {m.name for m in registry.METHODS.values()} == TWELVE
    for entry in registry.METHODS.values():
        assert set(entry.takes) <= set(registry.TAKES), entry.name


@pytest.mark.parametrize("name", sorted(TWELVE))
def test_explain_runs_each_method_by_name(tiny_model, name):
    model = tiny_model()
    x = np.random.default_rng(1).normal(size=(2, 12, 12, 3)).astype(np.float32)
    cls = np.array([1, 3], np.int32)
    direct = np.asarray(DIRECT[name](model, x, cls), np.float32)
    want = np.abs(direct).sum(-1) if direct.ndim == 4 else direct
    got = explain(model, x, name, cls, verbose=0)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_one_line_registers_a_method(tiny_model):
    model = tiny_model()
    x = np.random.default_rng(2).normal(size=(2, 12, 12, 3)).astype(np.float32)

    def image_energy(model, images, class_index=None, *, scale=1.0, batch_size=1, verbose=0):
        return scale * np.square(images).sum(-1)

    try:
        registry.method("image_energy", scale=2.0)(image_energy)
        assert "image_energy" in registry.METHODS
        got = explain(model, x, "image_energy", 0, verbose=0)
        np.testing.assert_allclose(got, 2.0 * (x**2).sum(-1), rtol=1e-6)
        with pytest.raises(ValueError, match="already the method"):
            registry.method("image_energy")(lambda model, images, class_index=None: images)
    finally:
        registry._METHODS.pop("image_energy", None)
    assert set(registry.METHODS) == TWELVE
    with pytest.raises(ValueError, match=r"takes must name arguments among \('layer', 'seed'\)"):
        registry.method("x", takes=("channels",))
    with pytest.raises(TypeError, match="name must be a str"):
        registry.method(3)
