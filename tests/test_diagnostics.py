"""Architecture diagnostics: known spectra, dead filters and units by construction."""

import keras
import numpy as np
import pytest

from zfkeras import figures
from zfkeras.experiments import diagnostics as diag


def test_bands_known_patterns():
    n = 8
    r, c = np.mgrid[:n, :n]
    smooth = np.cos(2 * np.pi * r / n)  # 1 cycle over 8 px: low
    checker = (-1.0) ** (r + c)  # Nyquist in both axes: high
    stripes = np.cos(2 * np.pi * 2 * c / n)  # 2 cycles / 8 px = 0.5 Nyquist: middle
    b = diag.frequency_bands(np.stack([smooth, checker, stripes]), size=8)
    np.testing.assert_allclose(b, [[1, 0, 0], [0, 0, 1], [0, 1, 0]], atol=1e-9)


def test_kernel_layout_and_zero():
    k = np.zeros((5, 5, 3, 6))
    k[..., 0] = (-1.0) ** np.add.outer(np.arange(5), np.arange(5))[..., None]
    b = diag.frequency_bands(k, size=16)
    assert b.shape == (6, 3)
    assert b[0, 2] > 0.5 and np.all(b[1:] == 0)
    np.testing.assert_allclose(b[0].sum(), 1)


def test_dead_filters():
    k = np.ones((3, 3, 3, 4))
    k[..., 2] *= 0.01
    assert diag.dead_filters(k).tolist() == [False, False, True, False]
    rep = diag.layer1_report(k)
    assert (rep.dead, rep.filters, rep.size) == (1, 4, 3)


def test_dead_units():
    x = keras.Input((4, 4, 1))
    conv = keras.layers.Conv2D(3, 1, activation="relu", name="conv1")
    model = keras.Model(x, conv(x))
    conv.set_weights([np.array([1.0, -1.0, 0.0]).reshape(1, 1, 1, 3), np.zeros(3)])
    imgs = np.abs(np.random.default_rng(0).normal(size=(5, 4, 4, 1))) + 0.1  # positive
    assert diag.dead_units(model, imgs, "conv1", batch_size=2).tolist() == [False, True, True]


def test_figures():
    rng = np.random.default_rng(0)
    k = {"a": rng.normal(size=(7, 7, 3, 20)), "b": rng.normal(size=(11, 11, 3, 20))}
    assert len(figures.compare_figure(k, ncols=10).axes) == 40
    assert figures.bands_figure({n: diag.frequency_bands(v) for n, v in k.items()}) is not None


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: diag.frequency_bands(np.zeros(5)), "x must be"),
        (lambda: diag.frequency_bands(np.zeros((2, 40, 40)), size=32), "size must be"),
        (lambda: diag.dead_filters(np.zeros((3, 3))), "kernel must be"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------- spectral concentration
def test_spectral_concentration_hand_worked():

    x = np.arange(7)
    grating = np.cos(2 * np.pi * 2 * x / 7)[None, :, None, None] * np.ones((7, 7, 3, 1))
    # all power in the conjugate pair of bins (0, +-2): 1 of it in the top 4, half in the top 1
    assert diag.spectral_concentration(grating) == pytest.approx(1.0)
    assert diag.spectral_concentration(grating, top=1) == pytest.approx(0.5)
    # a single pixel, minus its mean: power 1 in every one of the 48 non-DC bins
    delta = np.zeros((7, 7, 3, 1))
    delta[3, 3, 0, 0] = 1.0
    assert diag.spectral_concentration(delta) == pytest.approx(4 / 48)
    # per-channel offsets and a global scale change nothing; the average runs over filters
    both = np.concatenate([grating * 5 + np.array([1.0, -2.0, 3.0])[None, None, :, None], delta], 3)
    assert diag.spectral_concentration(both) == pytest.approx((1 + 4 / 48) / 2)
    # a constant filter has no pattern left: it counts as 0
    assert diag.spectral_concentration(np.ones((7, 7, 3, 2))) == 0.0


def test_spectral_concentration_references():

    rng = np.random.default_rng(0)
    assert diag.spectral_concentration(rng.normal(size=(7, 7, 3, 500))) == pytest.approx(
        0.19, abs=0.01
    )
    assert diag.spectral_concentration(rng.normal(size=(11, 11, 3, 500))) == pytest.approx(
        0.087, abs=0.01
    )
    bank = diag.gabor_bank()
    assert bank.shape == (7, 7, 3, 80)
    assert 0.75 <= diag.spectral_concentration(bank) <= 0.86
    # noise added to the bank pulls it towards the noise level
    noisy = bank + rng.normal(size=bank.shape) * bank.std() * 2
    assert 0.19 < diag.spectral_concentration(noisy) < diag.spectral_concentration(bank)


@pytest.mark.parametrize(
    "kernel, top, err, match",
    [
        (np.zeros((7, 7, 3)), 4, ValueError, "kernel must be a conv kernel"),
        (np.full((3, 3, 1, 1), np.nan), 4, ValueError, "kernel must be finite"),
        (np.ones((3, 3, 1, 1)), 0, ValueError, r"top must be in \[1, 9\]"),
        (np.ones((3, 3, 1, 1)), 2.0, TypeError, "top must be an int"),
    ],
)
def test_spectral_concentration_errors(kernel, top, err, match):

    with pytest.raises(err, match=match):
        diag.spectral_concentration(kernel, top=top)
