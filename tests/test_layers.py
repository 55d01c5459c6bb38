import keras
import numpy as np
import pytest

from zfkeras import models
from zfkeras.models.layers import ContrastNormalization, FilterRenorm


def lrn_loop(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    """Krizhevsky et al. (2012), eq. in section 3.3, written as a plain loop."""
    out = np.empty_like(a)
    c = a.shape[-1]
    for i in range(c):
        lo, hi = max(0, i - n // 2), min(c - 1, i + n // 2)
        s = np.sum(a[..., lo : hi + 1] ** 2, axis=-1)
        out[..., i] = a[..., i] / (k + alpha * s) ** beta
    return out


def test_contrast_normalization_matches_formula():
    a = np.random.default_rng(0).normal(0, 30, (2, 4, 5, 9)).astype("float32")
    got = np.asarray(ContrastNormalization()(a))
    np.testing.assert_allclose(got, lrn_loop(a), rtol=1e-5)
    got = np.asarray(ContrastNormalization(depth_radius=1, bias=1.0, alpha=0.01, beta=0.5)(a))
    np.testing.assert_allclose(got, lrn_loop(a, 3, 1.0, 0.01, 0.5), rtol=1e-5)


@pytest.mark.parametrize("kwargs", [{"depth_radius": -1}, {"depth_radius": 1.5}, {"bias": 0}])
def test_contrast_normalization_bad_args(kwargs):
    with pytest.raises(ValueError):
        ContrastNormalization(**kwargs)


def test_filter_renorm_scales_only_large_filters():
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.05, (3, 3, 4, 6)).astype("float32")
    w[..., 0] *= 10  # rms ~0.5
    w[..., 3] *= 4  # rms ~0.2
    got = np.asarray(FilterRenorm(0.1)(keras.ops.convert_to_tensor(w)))
    for j in range(6):
        rms = np.sqrt(np.mean(w[..., j] ** 2))
        expect = w[..., j] * (0.1 / rms if rms > 0.1 else 1.0)
        np.testing.assert_allclose(got[..., j], expect, rtol=1e-5, atol=1e-7)
    assert np.isclose(np.sqrt(np.mean(got[..., 0] ** 2)), 0.1, rtol=1e-5)
    with pytest.raises(ValueError, match="radius"):
        FilterRenorm(0)


def test_renorm_applied_during_training():
    m = models.zfnet((64, 64, 3), 3, width=0.125, fc_units=8, renorm_radius=0.1)
    m.compile(keras.optimizers.SGD(10.0), "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(0, 1, (8, 64, 64, 3)).astype("float32")
    m.fit(x, np.arange(8) % 3, epochs=1, batch_size=8, verbose=0)
    for i in range(1, 6):
        k = m.get_layer(f"conv{i}").kernel.numpy()
        rms = np.sqrt(np.mean(k**2, axis=(0, 1, 2)))
        assert rms.max() <= 0.1 + 1e-5, f"conv{i}"


def test_model_with_custom_pieces_round_trips(tmp_path):
    m = models.zfnet((64, 64, 3), 4, width=0.25, fc_units=16)
    x = np.random.default_rng(2).normal(size=(2, 64, 64, 3)).astype("float32")
    path = tmp_path / "m.keras"
    m.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects needed
    assert isinstance(loaded.get_layer("norm1"), ContrastNormalization)
    assert isinstance(loaded.get_layer("conv1").kernel_constraint, FilterRenorm)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(m(x)), rtol=1e-5, atol=1e-6)
