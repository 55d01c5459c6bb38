"""The measures behind the chapters' verdicts, on constructed inputs with a known answer
(issue 27, item 1)."""

import numpy as np
import pytest

from zfkeras.experiments import diagnostics as diag
from zfkeras.experiments import filter_spectra


# ------------------------------------------------------------------ constructed first layers
def _grid(size):
    r = np.arange(size) - (size - 1) / 2
    return np.meshgrid(r / size, r / size, indexing="ij")  # in filter widths


def ramps(size, n, rng):
    """Linear colour ramps of random direction and colour, drawn over the filter's width."""
    yy, xx = _grid(size)
    out = []
    for _ in range(n):
        t = rng.uniform(0, np.pi)
        out.append((xx * np.cos(t) + yy * np.sin(t))[..., None] * rng.normal(size=3))
    return np.stack(out, -1)


def blobs(size, n, rng):
    """Isotropic Gaussian blobs of random width (1/8 to 1/3 of the filter) and colour."""
    yy, xx = _grid(size)
    out = []
    for _ in range(n):
        s, (cy, cx) = rng.uniform(1 / 8, 1 / 3), rng.uniform(-0.1, 0.1, 2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
        out.append(blob[..., None] * rng.normal(size=3))
    return np.stack(out, -1)


def gabors(size, cycles, n, rng):
    """Gabors with ``cycles`` cycles per filter width, envelope sigma 0.3 widths."""
    yy, xx = _grid(size)
    out = []
    for _ in range(n):
        t, phase = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
        u = xx * np.cos(t) + yy * np.sin(t)
        g = np.exp(-(xx**2 + yy**2) / (2 * 0.3**2)) * np.cos(2 * np.pi * cycles * u + phase)
        out.append(g[..., None] * rng.normal(size=3))
    return np.stack(out, -1)


@pytest.mark.parametrize("size", [7, 11])
def test_oriented_energy_separates_edges_from_ramps_blobs_and_noise(size):
    rng = np.random.default_rng(0)
    bank = diag.gabor_bank(size=size, wavelengths=tuple(np.linspace(2.5, size / 1.5, 5)))
    gabor = diag.oriented_energy(bank)
    ramp = diag.oriented_energy(ramps(size, 100, rng))
    blob = diag.oriented_energy(blobs(size, 100, rng))
    noise = diag.oriented_energy(rng.normal(size=(size, size, 3, 300)))
    assert gabor.mean() > 0.95 and gabor.min() > 0.9
    assert ramp.max() < 0.1
    assert blob.mean() < 0.35 and blob.max() < 0.5
    assert noise.mean() < 0.12
    # spectral concentration cannot tell them apart: ramps and blobs score like the Gabors
    assert diag.spectral_concentration(ramps(size, 100, rng)) > 0.65
    assert diag.spectral_concentration(blobs(size, 100, rng)) > 0.65


def test_oriented_energy_known_values():
    bank = filter_spectra.quadrature_bank(7)
    even, odd = bank[5]
    # a template itself (any colour mix, any scale, any channel offset): all its energy
    k = even.reshape(7, 7)[..., None, None] * np.array([1.0, -2.0, 0.5])[None, None, :, None]
    assert diag.oriented_energy(k * 3 + 7) == pytest.approx([1.0])
    # the pair is orthonormal: a mix of both phases is captured whole
    both = (0.6 * even + 0.8 * odd).reshape(7, 7, 1, 1)
    assert diag.oriented_energy(both) == pytest.approx([1.0])
    # any filter: the best share of its energy in one pair, computed here with plain loops
    rng = np.random.default_rng(1)
    w = rng.normal(size=(7, 7, 2, 1))
    w0 = w[..., 0] - w[..., 0].mean(axis=(0, 1))
    best = 0.0
    for e, o in bank:
        e, o = e.reshape(7, 7), o.reshape(7, 7)
        share = sum((w0[..., c] * e).sum() ** 2 + (w0[..., c] * o).sum() ** 2 for c in range(2))
        best = max(best, share / (w0**2).sum())
    assert diag.oriented_energy(w) == pytest.approx([best])
    assert diag.oriented_energy(np.ones((7, 7, 3, 2))).tolist() == [0.0, 0.0]


# --------------------------------------------------------------- bands that ignore the size
@pytest.mark.parametrize(
    "draw",
    [lambda s, r: gabors(s, 1.8, 20, r), lambda s, r: blobs(s, 20, r)],
    ids=["gabor", "blob"],
)
def test_relative_bands_same_pattern_same_score_at_7_and_11(draw):
    a = diag.relative_bands(draw(7, np.random.default_rng(3))).mean(0)
    b = diag.relative_bands(draw(11, np.random.default_rng(3))).mean(0)
    np.testing.assert_allclose(a, b, atol=0.02)


def test_relative_bands_halve_the_size_effect_of_ramps():
    per_pixel = [
        diag.frequency_bands(ramps(s, 50, np.random.default_rng(4)))[:, 1].mean() for s in (7, 11)
    ]
    per_width = [
        diag.relative_bands(ramps(s, 50, np.random.default_rng(4)))[:, 1].mean() for s in (7, 11)
    ]
    assert abs(per_pixel[0] - per_pixel[1]) > 0.05  # the bias the issue measured (0.19 / 0.13)
    assert abs(per_width[0] - per_width[1]) < abs(per_pixel[0] - per_pixel[1]) / 2


def test_relative_bands_hand_worked():
    x = np.arange(7)
    # a cosine of exactly 2 cycles per width, on its own grid: all in the middle band
    k = np.cos(2 * np.pi * 2 * x / 7)[None, :, None, None] * np.ones((7, 7, 1, 1))
    np.testing.assert_allclose(diag.relative_bands(k, oversample=1), [[0, 1, 0]], atol=1e-12)
    # 1 cycle: low; 3 cycles: high (3 >= 7/3)
    for cyc, band in ((1, 0), (3, 2)):
        k = np.cos(2 * np.pi * cyc * x / 7)[None, :, None, None] * np.ones((7, 7, 1, 1))
        assert diag.relative_bands(k, oversample=1)[0, band] == pytest.approx(1.0)
    assert diag.relative_bands(np.ones((5, 5, 3, 1))).tolist() == [[0.0, 0.0, 0.0]]


# ------------------------------------------------------------------------------ grid energy
def _pattern(period, rng):
    """A random pattern repeating every ``period`` pixels, mean 0 and RMS 1, on 96x96x3."""
    tile = rng.normal(size=(period, period, 3))
    g = np.tile(tile, (96 // period, 96 // period, 1))
    g = g - g.mean(axis=(0, 1))
    return g / g.std()


def test_grid_energy_equal_grids_score_alike_at_period_2_and_4():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:96, :96] / 96
    smooth = np.stack([np.sin(2 * np.pi * (xx + c)) + np.cos(2 * np.pi * yy) for c in range(3)], -1)
    smooth = smooth / smooth.std()
    for strength in (0.1, 0.3, 1.0):
        s2 = diag.grid_energy((smooth + strength * _pattern(2, rng))[None], 2)[0]
        s4 = diag.grid_energy((smooth + strength * _pattern(4, rng))[None], 4)[0]
        # the smooth part lies off both lattices: the share is the grid's power, computed here
        # by Parseval from the pixels
        expected = strength**2 / (strength**2 + 1)
        assert s2 == pytest.approx(expected, rel=1e-6) and s4 == pytest.approx(expected, rel=1e-6)
    # the high-band share, which the chapter used before, does not: a grating at the period
    # (the lattice's fundamental) lies in the high band at period 2, in the middle at period 4
    yy, xx = np.mgrid[:96, :96]
    gratings = {p: np.cos(2 * np.pi * xx / p) + np.cos(2 * np.pi * yy / p) for p in (2, 4)}
    gratings = {p: g / g.std() for p, g in gratings.items()}  # equal strength: equal RMS
    grid = [diag.grid_energy((smooth[..., 0] + 0.3 * g)[None], p)[0] for p, g in gratings.items()]
    high = [
        diag.frequency_bands((smooth[..., 0] + 0.3 * g)[None], size=96)[0, 2]
        for g in gratings.values()
    ]
    assert grid[0] == pytest.approx(grid[1], rel=0.05)
    assert high[0] > 3 * high[1]


def test_grid_energy_noise_smooth_and_checkerboard():
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(200, 32, 32))
    for p in (2, 4):
        assert diag.grid_energy(noise, p).mean() == pytest.approx(
            (p**2 - 1) / (32 * 32 - 1), rel=0.1
        )
    yy, xx = np.mgrid[:32, :32]
    smooth = np.exp(-((yy - 16.0) ** 2 + (xx - 12.0) ** 2) / 50)
    assert diag.grid_energy(smooth[None], 2)[0] < 1e-3
    checker = (-1.0) ** (yy + xx)
    assert diag.grid_energy(checker[None], 2)[0] == pytest.approx(1.0)
    assert diag.grid_energy(checker[None], 4)[0] == pytest.approx(
        1.0
    )  # period 2 also repeats every 4
    assert diag.grid_energy(np.ones((2, 8, 8, 3)), 2).tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "images, period, err, match",
    [
        (np.zeros((1, 8, 8)), 2.0, TypeError, "period must be an int"),
        (np.zeros((1, 8, 8)), 1, ValueError, "period must be an int >= 2"),
        (np.zeros((1, 9, 8)), 2, ValueError, "dividing the image size 9x8"),
        (np.zeros((8, 8)), 2, ValueError, "images must be"),
        (np.full((1, 8, 8), np.nan), 2, ValueError, "images must be finite"),
    ],
)
def test_grid_energy_errors(images, period, err, match):
    with pytest.raises(err, match=match):
        diag.grid_energy(images, period)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: diag.oriented_energy(np.zeros((7, 5, 3, 1))), "square conv kernel"),
        (lambda: diag.oriented_energy(np.zeros((7, 7, 3))), "square conv kernel"),
        (lambda: diag.oriented_energy(np.ones((7, 7, 1, 1)), min_cycles=4), "min_cycles"),
        (lambda: diag.relative_bands(np.ones((7, 7, 1, 1)), edges=(2, 1)), "edges"),
        (lambda: diag.relative_bands(np.ones((7, 7, 1, 1)), oversample=0), "oversample"),
        (lambda: diag.relative_bands(np.full((3, 3, 1, 1), np.inf)), "finite"),
    ],
)
def test_filter_measure_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ the correspondence gap
def test_hamming_zeros_count_as_agreement_unless_changed_only():
    from zfkeras.experiments import correspondence as corr

    # pair (0, 1): feature 0 differs, feature 1 agrees, features 2-3 are 0 in both
    eps = np.array([[1.0, -1.0, 0.0, 0.0], [-1.0, -1.0, 0.0, 0.0]])
    assert corr.hamming_score(eps) == pytest.approx(1 / 4)
    assert corr.hamming_score(eps, changed_only=True) == pytest.approx(1 / 2)
    # three images, counted per pair: (0,1) 1 of 2 changed features differ; (0,2) the
    # feature changed only in 2 differs (0 vs +1) and so does feature 0: 2 of 3; (1,2): 2 of 3
    eps3 = np.vstack([eps, [[0.0, -1.0, 1.0, 0.0]]])
    by_loop = sum(
        np.sum(np.sign(eps3[i]) != np.sign(eps3[j])) for i in range(3) for j in range(i + 1, 3)
    ) / sum(np.sum((eps3[i] != 0) | (eps3[j] != 0)) for i in range(3) for j in range(i + 1, 3))
    assert corr.hamming_score(eps3, changed_only=True) == pytest.approx(by_loop)
    assert corr.hamming_score(np.zeros((3, 4)), changed_only=True) == 0.0


def test_hamming_random_signs_score_one_half_only_without_zeros():
    from zfkeras.experiments import correspondence as corr

    rng = np.random.default_rng(0)
    signs = rng.choice([-1.0, 1.0], size=(5, 20000))
    assert corr.hamming_score(signs) == pytest.approx(0.5, abs=0.01)
    # 90% of the features unchanged in every image (silent units): the score falls to about
    # 0.05 although the changed features are coin flips; changed_only recovers 0.5
    sparse = signs * (rng.random(signs.shape[1]) < 0.1)
    assert corr.hamming_score(sparse) == pytest.approx(0.05, abs=0.01)
    assert corr.hamming_score(sparse, changed_only=True) == pytest.approx(0.5, abs=0.02)


# ------------------------------------------------------------------------------ invariance
def _shift_models():
    import keras

    x = keras.Input((16, 16, 1))
    conv = keras.layers.Conv2D(3, 2, strides=2, use_bias=False, name="conv")(x)  # stride 2
    pooled = keras.layers.GlobalAveragePooling2D(name="pooled")(conv)
    out = keras.layers.Dense(2, activation="softmax", name="out")(pooled)
    model = keras.Model(x, out)
    rng = np.random.default_rng(0)
    model.get_layer("conv").set_weights([rng.normal(size=(2, 2, 1, 3))])
    return model


def test_aligned_distance_removes_equivariance():
    import zfkeras

    model = _shift_models()
    rng = np.random.default_rng(1)
    images = np.zeros((3, 16, 16, 1), np.float32)
    images[:, 4:12, 4:12] = rng.normal(size=(3, 8, 8, 1))  # content away from the border
    res = zfkeras.invariance_curves(
        model,
        images,
        None,
        kind="translation",
        amounts=[-4, -2, 0, 2, 4],
        layers=("conv", "pooled"),
    )
    # the conv map moves with the content (a shift of 2 or 4 px is 1 or 2 of its positions):
    # large plain distance, none once the map is moved back
    shifted = np.array([0, 1, 3, 4])
    assert np.all(res.relative["conv"][shifted] > 0.5)
    np.testing.assert_allclose(res.aligned["conv"], 0, atol=1e-5)
    # the pooled layer is invariant (the content stays inside the image): both distances are 0
    np.testing.assert_allclose(res.distance["pooled"], 0, atol=1e-5)
    np.testing.assert_allclose(res.aligned["pooled"], res.distance["pooled"])
    # by hand for the +4 shift: move the map of the shifted image up 2 rows, compare rows 0-5
    probe = zfkeras.activation_model(model, ["conv"])
    a = probe.predict(images, verbose=0)["conv"]
    b = probe.predict(np.roll(images, 4, axis=1), verbose=0)["conv"]
    np.testing.assert_allclose(b[:, 2:], a[:, :-2], atol=1e-5)  # equivariance, by hand
    plain = np.linalg.norm((b - a).reshape(3, -1), axis=1)
    np.testing.assert_allclose(res.distance["conv"][4], plain, rtol=1e-5)


def test_aligned_distance_of_a_map_that_changes():
    import zfkeras

    model = _shift_models()
    rng = np.random.default_rng(2)
    images = rng.normal(size=(2, 16, 16, 1)).astype(np.float32)  # content up to the border
    res = zfkeras.invariance_curves(
        model, images, None, kind="translation", amounts=[3], layers=("conv",)
    )
    # a shift of 3 px is not a whole number of map positions: the map itself changes, and the
    # aligned distance stays well above 0 though below the plain one
    assert np.all(res.aligned_relative["conv"] > 0.2)
    assert np.all(res.aligned["conv"] < res.distance["conv"])


# -------------------------------------------------------------------------------- ablation
def test_converged_only_when_the_best_epoch_is_not_the_last():
    from zfkeras.experiments import ablation

    assert ablation.converged([0.5, 0.8, 0.7, 0.75])
    assert not ablation.converged([0.5, 0.6, 0.7, 0.8])  # still rising when the budget ended
    assert ablation.converged([0.5, 0.91, 0.91])  # levelled off: the best came first
    assert not ablation.converged([0.9, 0.5, 0.95])
    for bad in ([0.5], [0.5, np.nan], [[0.1, 0.2]]):
        with pytest.raises(ValueError, match="curve must hold"):
            ablation.converged(bad)


def test_like_for_like_variant_keeps_the_dropout():
    import keras

    from zfkeras import training
    from zfkeras.experiments import ablation

    recipe = training.Recipe(dataset="shapes", image_size=64, width=0.125, fc_units=16)
    spec = ablation.VARIANTS["without fc6, fc7 (dropout kept)"]
    model = ablation.build_variant(recipe, 5, spec["remove"])
    kinds = [type(lay).__name__ for lay in model.layers[-3:]]
    assert kinds == ["Flatten", "Dropout", "Dense"]
    assert model.layers[-2].rate == recipe.dropout
    plain = ablation.build_variant(recipe, 5, ablation.VARIANTS["without fc6, fc7"]["remove"])
    assert not any(isinstance(lay, keras.layers.Dropout) for lay in plain.layers)
    assert plain.count_params() == model.count_params()


# ------------------------------------------------------------------ patch similarity (ch 05)
def test_patch_correlation_by_hand():
    from zfkeras.experiments import patches

    a = np.array([1.0, 2.0, 3.0, 4.0])
    group = np.stack([a, 2 * a + 1, -a, np.ones(4)])
    # pairs: (0,1) 1, (0,2) -1, (1,2) -1, and the constant patch counts 0 with everyone
    assert patches.patch_correlation(group) == pytest.approx((1 - 1 - 1) / 6)
    rng = np.random.default_rng(0)
    group = rng.normal(size=(9, 5, 5, 3))
    loop = np.mean(
        [
            np.corrcoef(group[i].ravel(), group[j].ravel())[0, 1]
            for i in range(9)
            for j in range(i + 1, 9)
        ]
    )
    assert patches.patch_correlation(group) == pytest.approx(loop)


def test_cut_patches_pads_with_zeros():
    from zfkeras.experiments import patches

    img = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    p = patches.cut_patches(img, [0, 0], [-1, 2], [-1, 1], 3)
    np.testing.assert_array_equal(p[0, :, :, 0], [[0, 0, 0], [0, 0, 1], [0, 4, 5]])
    np.testing.assert_array_equal(p[1, :, :, 0], [[9, 10, 11], [13, 14, 15], [0, 0, 0]])


def test_random_patch_baseline_knows_the_shared_layout():
    from zfkeras.experiments import patches
    from zfkeras.methods.fields import ReceptiveField

    # every image: one shared layout (RMS 1) plus its own noise (RMS 1). Patches covering the
    # whole image share the layout: correlation var / (var + var) = 0.5 whatever a unit does;
    # small patches at random places share nothing: about 0
    rng = np.random.default_rng(1)
    layout = rng.normal(size=(32, 32, 1))
    layout = (layout - layout.mean()) / layout.std()
    images = layout + rng.normal(size=(80, 32, 32, 1))

    def field(size):
        return ReceptiveField((size, size), (1, 1), (0, 0), (32, 32), (33 - size, 33 - size))

    assert patches.random_patches(images, field(32), groups=50) == pytest.approx(0.5, abs=0.05)
    assert abs(patches.random_patches(images, field(3), groups=300)) < 0.05
    # identical patches (one image, one position) correlate 1
    same = ReceptiveField((5, 5), (1, 1), (0, 0), (32, 32), (1, 1))
    assert patches.random_patches(images[:1], same, groups=3) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="groups must be"):
        patches.random_patches(images, same, groups=0)
    # one value per draw; the mean is random_patches, the same draws for the same seed
    per_draw = patches.random_patch_correlations(images, field(3), groups=40, seed=5)
    assert per_draw.shape == (40,) and np.all(np.abs(per_draw) <= 1)
    assert patches.random_patches(images, field(3), groups=40, seed=5) == pytest.approx(
        per_draw.mean()
    )
    with pytest.raises(ValueError, match="k >= 2"):
        patches.random_patch_correlations(images, same, k=1)


# ----------------------------------------------------- kept under held-out transforms (ch 08)
def test_activation_change_is_finite_where_the_ratio_explodes():
    from zfkeras.evaluation.robustness import activation_change

    own = np.array([2.0, 1e-7, 4.0])
    moved = np.array([[1.0, 0.05, 4.0], [3.0, 0.05, 2.0]])  # means 2, 0.05, 3
    ref = np.array([4.0, 1.0, 2.0])
    assert activation_change(own, moved, ref) == pytest.approx((0 + (0.05 - 1e-7) - 0.5) / 3)
    ratio = np.mean(moved.mean(0) / np.maximum(own, 1e-6))  # the old measure: about 1.7e4
    assert ratio > 1000
    assert activation_change(own, own, ref) == 0.0
    assert activation_change(own, own - ref, ref) == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "args, match",
    [
        (([1.0], [1.0, 2.0], [1.0]), "must be"),
        (([1.0], [1.0], [0.0]), "reference must be positive"),
        (([np.nan], [1.0], [1.0]), "finite"),
    ],
)
def test_activation_change_errors(args, match):
    from zfkeras.evaluation.robustness import activation_change

    with pytest.raises(ValueError, match=match):
        activation_change(*args)


def test_invariance_figure_draws_the_moved_back_curve_for_maps_only():
    import matplotlib

    matplotlib.use("Agg")
    import zfkeras
    from zfkeras import figures

    images = np.random.default_rng(3).normal(size=(2, 16, 16, 1)).astype(np.float32)
    res = zfkeras.invariance_curves(
        _shift_models(),
        images,
        None,
        kind="translation",
        amounts=[-2, 0, 2],
        layers=("conv", "pooled"),
    )
    fig = figures.invariance_figure([res], names=["a", "b"])
    labels = [[ln.get_label() for ln in ax.get_lines()] for ax in fig.axes[:2]]
    assert "moved back (mean)" in labels[0] and "moved back (mean)" not in labels[1]
    line = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "moved back (mean)"][0]
    np.testing.assert_allclose(line.get_ydata(), res.aligned_relative["conv"].mean(1))
    matplotlib.pyplot.close(fig)
