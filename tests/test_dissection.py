"""Network dissection: known detectors, a plain numpy reference and bad input."""

import math

import keras
import numpy as np
import pytest

import zfkeras
import zfkeras.methods.dissection
from zfkeras.methods.dissection import Dissection, dissect, holding_weights, unit_masks


def _detector_model(size=24):
    """conv_a (3x3 same, relu): [red (centre tap r - g - b), +stripes, -stripes] where the
    stripe taps are the vertical second derivative of the grey level; units (1x1, linear):
    u0 = red, u1 = |second derivative| (fires on horizontal stripes), u2 = 0 (dead)."""
    inp = keras.Input((size, size, 3))
    a = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv_a")(inp)
    u = keras.layers.Conv2D(3, 1, name="units")(a)
    model = keras.Model(inp, u)
    k = np.zeros((3, 3, 3, 3), np.float32)
    k[1, 1, :, 0] = [1, -1, -1]
    for c in range(3):
        k[:, 1, c, 1] = np.array([-1, 2, -1]) / 3
        k[:, 1, c, 2] = -np.array([-1, 2, -1]) / 3
    model.get_layer("conv_a").set_weights([k, np.zeros(3, np.float32)])
    w = np.zeros((1, 1, 3, 3), np.float32)
    w[0, 0, 0, 0] = 1
    w[0, 0, 1, 1] = w[0, 0, 2, 1] = 1
    model.get_layer("units").set_weights([w, np.zeros(3, np.float32)])
    return model


def _detector_data(n=40, size=24, seed=0):
    rng = np.random.default_rng(seed)
    x = np.full((n, size, size, 3), 0.5, np.float32)
    colour = np.full((n, size, size), 2, np.int32)  # 1 red, 2 grey (stripes too), 3 never
    texture = np.zeros((n, size, size), np.int32)  # 1 stripes
    for i in range(n):
        s = 8
        r0, c0 = rng.integers(0, size // 2 - s + 1, 2)
        x[i, r0 : r0 + s, c0 : c0 + s] = [rng.uniform(0.7, 1.0), 0.0, 0.05]
        x[i, r0 : r0 + s, c0 : c0 + s, 0] += rng.uniform(0, 0.1, (s, s))
        colour[i, r0 : r0 + s, c0 : c0 + s] = 1
        r1, c1 = rng.integers(size // 2, size - s + 1, 2)
        rows = (np.arange(s) % 2).astype(np.float32)[:, None, None]
        x[i, r1 : r1 + s, c1 : c1 + s] = rows * rng.uniform(0.6, 1.0) + rng.uniform(
            0, 0.05, (s, s, 1)
        )
        texture[i, r1 : r1 + s, c1 : c1 + s] = 1
    return x, {"colour": colour, "texture": texture}


def test_known_detectors_are_labelled():
    model = _detector_model()
    x, maps = _detector_data()
    names = {"colour": ["none", "red", "grey", "other"], "texture": ["none", "stripes"]}
    d = dissect(model, x, "units", concept_maps=maps, quantile=0.05, concept_names=names, verbose=0)
    assert isinstance(d, Dissection)
    assert d.best[0][:2] == ("colour", "red") and d.best[0][2] > 0.3
    assert d.best[1][:2] == ("texture", "stripes") and d.best[1][2] > 0.3
    assert d.best[2][:2] == (None, None)  # dead unit: empty mask
    assert d.iou["colour"].shape == (3, 4) and d.iou["texture"].shape == (3, 2)
    assert np.all(d.iou["colour"][:, 0] == 0) and np.all(d.iou["texture"][:, 0] == 0)
    assert d.summary() == {"colour": 1, "texture": 1}
    assert d.detectors() == {"colour": 1, "texture": 1}
    # a higher bar than any unit reaches: no detectors at all
    high = dissect(
        model, x, "units", concept_maps=maps, quantile=0.05, iou_threshold=0.99, verbose=0
    )
    assert all(b[0] is None for b in high.best) and high.summary() == {"colour": 0, "texture": 0}
    assert high.concept_names["texture"] == ("0", "1")


def _numpy_dissection(a, maps, quantile, centres, strides, size):
    """Plain reference: k-th largest value by sorting, bilinear interpolation between the
    receptive-field centres pixel by pixel (clamped at the ends), IoU summed over images."""
    n, h, w, units = a.shape
    k = math.ceil(quantile * n * h * w)
    t = np.array([np.sort(a[..., u].ravel())[::-1][k - 1] for u in range(units)])

    def interp(p, axis):
        v = np.clip((p - centres[axis]) / strides[axis], 0, a.shape[1 + axis] - 1)
        i0 = int(np.floor(v))
        i1 = min(i0 + 1, a.shape[1 + axis] - 1)
        return i0, i1, v - i0

    up = np.zeros((n, *size, units))
    for r in range(size[0]):
        r0, r1, fr = interp(r, 0)
        for c in range(size[1]):
            c0, c1, fc = interp(c, 1)
            up[:, r, c] = (
                (1 - fr) * (1 - fc) * a[:, r0, c0]
                + (1 - fr) * fc * a[:, r0, c1]
                + fr * (1 - fc) * a[:, r1, c0]
                + fr * fc * a[:, r1, c1]
            )
    iou = {}
    for cat, m in maps.items():
        names = m.max() + 1
        out = np.zeros((units, names))
        for u in range(units):
            for c in range(1, names):
                inter = sum(np.sum((up[i, ..., u] > t[u]) & (m[i] == c)) for i in range(n))
                union = sum(np.sum((up[i, ..., u] > t[u]) | (m[i] == c)) for i in range(n))
                out[u, c] = inter / union if union else 0.0
        iou[cat] = out
    return t, iou


def test_matches_numpy_reference():
    keras.utils.set_random_seed(1)
    inp = keras.Input((11, 11, 2))
    out = keras.layers.Conv2D(4, 3, strides=2, name="c")(inp)  # 5x5; centre 1 + 2 i
    model = keras.Model(inp, out)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(7, 11, 11, 2)).astype(np.float32)
    maps = {"a": rng.integers(0, 3, (7, 11, 11)), "b": rng.integers(0, 5, (7, 11, 11))}
    d = dissect(
        model, x, "c", concept_maps=maps, quantile=0.1, iou_threshold=0.0, batch_size=3, verbose=0
    )
    a = model.predict(x, verbose=0)
    t, iou = _numpy_dissection(a, maps, 0.1, (1.0, 1.0), (2.0, 2.0), (11, 11))
    np.testing.assert_allclose(d.thresholds, t, rtol=1e-6)
    for cat in maps:
        np.testing.assert_allclose(d.iou[cat], iou[cat], atol=1e-12)
    best = [
        max(
            ((c, str(j), iou[c][u, j]) for c in iou for j in range(iou[c].shape[1])),
            key=lambda b: b[2],
        )
        for u in range(4)
    ]
    assert [b[:2] for b in d.best] == [b[:2] for b in best]
    masks = unit_masks(model, x, "c", thresholds=d.thresholds, channels=[1, 3])
    assert masks.shape == (7, 11, 11, 2)
    inter = (masks[..., 0] & (maps["a"] == 1)).sum()
    union = (masks[..., 0] | (maps["a"] == 1)).sum()
    assert inter / union == pytest.approx(iou["a"][1, 1])


def test_upsampling_puts_cells_at_receptive_field_centres():
    model = zfkeras.zfnet((96, 96, 3), 10, width=0.25, fc_units=16)
    rows, cols, placement = holding_weights(model, "conv5", grid=(5, 5), size=(96, 96))
    assert placement == "receptive field"
    cell = np.arange(25, dtype=np.float32).reshape(5, 5)
    up = rows @ cell @ cols.T
    centres = [20, 36, 52, 68, 84]  # conv5 at 96 px (tests/test_cam.py works them by hand)
    np.testing.assert_allclose(up[np.ix_(centres, centres)], cell, atol=1e-5)
    assert up[0, 0] == cell[0, 0] and up[95, 95] == cell[4, 4]  # held beyond the ends
    assert up[28, 20] == pytest.approx((cell[0, 0] + cell[1, 0]) / 2)


def test_streaming_does_not_depend_on_batch_size(monkeypatch):
    model = _detector_model(16)
    x, maps = _detector_data(9, 16, seed=2)
    a = dissect(model, x, "units", concept_maps=maps, quantile=0.03, batch_size=2, verbose=0)
    monkeypatch.setattr(zfkeras.methods.dissection, "_CHUNK_VALUES", 2 * 16 * 16 * 3)  # 2 images
    b = dissect(model, x, "units", concept_maps=maps, quantile=0.03, batch_size=5, verbose=0)
    np.testing.assert_array_equal(a.thresholds, b.thresholds)
    for cat in maps:
        np.testing.assert_allclose(a.iou[cat], b.iou[cat])


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(images=np.zeros((3, 16, 16, 3))), "concept_maps"),
        (dict(maps={"colour": np.zeros((4, 8, 8), int)}), "concept_maps"),
        (dict(maps={"colour": np.zeros((4, 16, 16))}), "int"),
        (dict(maps={"colour": -np.ones((4, 16, 16), int)}), "labels"),
        (dict(maps={}), "concept_maps"),
        (dict(quantile=0.0), "quantile"),
        (dict(quantile=1.5), "quantile"),
        (dict(iou_threshold=-0.1), "iou_threshold"),
        (dict(batch_size=0), "batch_size"),
        (dict(layer="nope"), "layer"),
        (dict(images=np.zeros((4, 15, 15, 3))), "images"),
        (dict(images=np.full((4, 16, 16, 3), np.nan)), "finite"),
        (dict(quantile=np.float32(2.0)), "quantile"),
        (dict(names={"colour": ["none"]}), "labels"),
        (dict(names={"other": ["none"]}), "concept_names"),
    ],
)
def test_bad_input(change, match):
    model = _detector_model(16)
    x = change.get("images", np.zeros((4, 16, 16, 3), np.float32))
    maps = change.get("maps", {"colour": np.ones((4, 16, 16), int)})
    with pytest.raises((ValueError, TypeError), match=match):
        dissect(
            model,
            x,
            change.get("layer", "units"),
            concept_maps=maps,
            quantile=change.get("quantile", 0.005),
            iou_threshold=change.get("iou_threshold", 0.04),
            batch_size=change.get("batch_size", 64),
            concept_names=change.get("names"),
            verbose=0,
        )


def test_layer_must_be_4d():
    inp = keras.Input((8, 8, 1))
    f = keras.layers.Flatten(name="flat")(inp)
    model = keras.Model(inp, keras.layers.Dense(2, name="d")(f))
    with pytest.raises(ValueError, match="4-D"):
        dissect(
            model,
            np.zeros((2, 8, 8, 1)),
            "d",
            concept_maps={"c": np.zeros((2, 8, 8), int)},
            verbose=0,
        )


def test_figures_show_the_counts():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zfkeras.figures.dissection import summary_figure

    model = _detector_model()
    x, maps = _detector_data(6)
    d = dissect(model, x, "units", concept_maps=maps, quantile=0.05, verbose=0)
    fig = summary_figure(d)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [1, 1, 1, 1]  # unique concepts, then detector units, per category
    assert sorted(p.get_height() for p in fig.axes[1].patches) == sorted(b[2] for b in d.best)
    masks = unit_masks(model, x[:3], "units", thresholds=d.thresholds, channels=[0, 1])
    assert masks.shape == (3, *x.shape[1:3], 2) and masks.dtype == bool
    plt.close("all")
