"""Correspondence analysis: a hand-computed tiny case, occlusion, table shape, errors."""

import keras
import numpy as np
import pytest

from zfkeras import figures
from zfkeras.experiments import correspondence as corr


def test_hamming_by_hand():
    eps = np.array([[1.0, -2.0, 0.0], [3.0, 0.5, 0.0], [-1.0, -1.0, 0.0]])
    # pairs: (0,1) differ at feature 1 -> 1; (0,2) at feature 0 -> 1; (1,2) at 0 and 1 -> 2.
    # sum 4, over 3 pairs x 3 features
    assert corr.hamming_score(eps) == pytest.approx(4 / 9)
    assert corr.hamming_score(np.ones((4, 5))) == 0.0
    assert corr.hamming_score([[1.0, 0.0], [0.0, 1.0]]) == 1.0  # zero is a sign of its own


def test_occlude_by_hand():
    x = np.ones((2, 6, 6, 1), np.float32)
    out = corr.occlude(x, [[2, 2], [0, 5]], [2, 3], fill=-1)
    assert (out[0, 1:3, 1:3] == -1).all() and (out[0] == -1).sum() == 4
    # square of 3 centred on (0, 5): rows -1.5..1.5 -> 0..1 (rows 0, 1), cols 4..5 (clipped)
    assert (out[1, 0:2, 4:6] == -1).all() and (out[1] == -1).sum() == 4
    assert (x == 1).all()  # the input is not changed


def test_sign_change_score_on_pixels():
    """With the pixels themselves as features, eps is the image inside the occluder."""
    x = np.array([[[1, -1], [2, 3]], [[-4, 5], [6, 0]], [[1, 1], [-1, 1]]], np.float32)
    x = x[..., None]  # (3, 2, 2, 1)
    inp = keras.Input((2, 2, 1))
    model = keras.Model(inp, keras.layers.Flatten(name="flat")(inp))
    score = corr.sign_change_score(model, x, [[0.5, 0.5]] * 3, 1, "flat")
    # the occluder covers pixel (0, 0) (rounded from centre 0.5 - 0.5): signs there 1, -1, 1;
    # others unchanged (0). pairs (0,1): 1, (0,2): 0, (1,2): 1 -> 2 / (3 * 4)
    assert score == pytest.approx(2 / 12)


def test_table_on_tiny_model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((12, 12, 3))
    c = keras.layers.Conv2D(4, 3, activation="relu", name="conv5")(inp)
    f = keras.layers.Dense(6, activation="relu", name="fc7")(keras.layers.Flatten()(c))
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(f))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 12, 12, 3)).astype("float32")
    parts = {"left_eye": np.tile([[4.0, 4.0]], (6, 1)), "mouth": np.tile([[8.0, 6.0]], (6, 1))}
    masks = np.zeros((6, 12, 12), bool)
    masks[:, 2:10, 2:10] = True
    t = corr.correspondence_table(model, x, parts, masks, 3, n_images=4, draws=3, seed=1)
    assert t.rows == ["left_eye", "mouth", "random"] and t.layers == ["conv5", "fc7"]
    for r in t.rows:
        assert t.scores[r]["conv5"].shape == (3,)
        assert 0 <= t.mean[r]["fc7"] <= 1 and t.std[r]["conv5"] >= 0
        np.testing.assert_allclose(t.mean[r]["conv5"], t.scores[r]["conv5"].mean())
    # the gap, by hand from the means
    parts_mean = (t.mean["left_eye"]["fc7"] + t.mean["mouth"]["fc7"]) / 2
    assert t.gap("fc7") == pytest.approx(t.mean["random"]["fc7"] - parts_mean)
    t2 = corr.correspondence_table(model, x, parts, masks, 3, n_images=4, draws=3, seed=1)
    assert t2.mean == t.mean  # deterministic for a seed
    assert "±" in figures.table_markdown(t, {"random": ("0.11", "0.07")}).data


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_images=1), "n_images must be"),
        (dict(n_images=9), "n_images must be"),
        (dict(draws=0), "draws must be"),
        (dict(layers=("nope",)), "layers must name a layer of the model, got .nope."),
        (dict(masks=np.ones((6, 5, 5), bool)), "masks must be"),
        (dict(parts={"eye": np.full((6, 2), np.nan)}), "parts"),
    ],
)
def test_errors(kwargs, match):
    inp = keras.Input((8, 8, 1))
    model = keras.Model(inp, keras.layers.Flatten(name="flat")(inp))
    args = (
        dict(
            model=model,
            images=np.zeros((6, 8, 8, 1)),
            parts={"eye": np.ones((6, 2))},
            masks=np.ones((6, 8, 8), bool),
            patch_size=2,
            layers=("flat",),
        )
        | kwargs
    )
    with pytest.raises(ValueError, match=match):
        corr.correspondence_table(**args)


def test_hamming_errors():
    with pytest.raises(ValueError, match="at least 2 images"):
        corr.hamming_score(np.ones((1, 3)))
    with pytest.raises(ValueError, match="empty"):
        corr.random_centres(np.zeros((1, 4, 4), bool), 2, np.random.default_rng(0))


def test_align_centres_and_scales():
    x = np.zeros((2, 21, 21, 1), np.float32)
    masks = np.zeros((2, 21, 21), bool)
    masks[0, 2:7, 3:8] = True  # centroid (4, 5)
    masks[1, 10:19, 8:17] = True  # centroid (14, 12)
    x[0, 4, 5] = x[1, 14, 12] = 1.0
    parts = {"p": np.array([[4.0, 5.0], [14.0, 12.0]])}
    out, m, moved = corr.align(x, masks, parts, [2.5, 4.5], margin=2.0)
    np.testing.assert_allclose(moved["p"], [[10, 10], [10, 10]], atol=1e-6)
    assert out[0, 10, 10, 0] == pytest.approx(1.0) and out[1, 10, 10, 0] == pytest.approx(1.0)
    assert m[:, 10, 10].all() and not m[:, 0, 0].any()
