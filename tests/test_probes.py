"""Probes and transfer: pooled features by hand, a separable probe, freezing, errors."""

import keras
import numpy as np
import pytest

from zfkeras import figures
from zfkeras.experiments import probes


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    x = keras.Input((6, 6, 2))
    c = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv1")(x)
    f = keras.layers.Dense(4, activation="relu", name="fc7")(keras.layers.Flatten()(c))
    return keras.Model(x, keras.layers.Dense(3, activation="softmax", name="predictions")(f))


def test_pooled_features_by_hand():
    inp = keras.Input((5, 4, 1))
    ident = keras.Model(inp, keras.layers.Activation("linear", name="same")(inp))
    x = np.arange(40, dtype="float32").reshape(2, 5, 4, 1)
    f = probes.layer_features(ident, x, ["same"], grid=2).features["same"]
    # rows split 0:2 / 2:5, cols 0:2 / 2:4: max of each cell is its bottom-right pixel
    want = np.stack([x[:, 1, 1, 0], x[:, 1, 3, 0], x[:, 4, 1, 0], x[:, 4, 3, 0]], 1)
    np.testing.assert_array_equal(f, want)
    g = probes.layer_features(ident, x, ["same"], grid=1).features["same"]
    np.testing.assert_array_equal(g[:, 0], x.max((1, 2, 3)))


def test_nested_layer_path_and_batch_size():
    # pooled features of a layer inside a nested model, found by its path, equal those of the
    # inner model; batch_size does not change them
    inp = keras.Input((5, 4, 1))
    inner = keras.Model(inp, keras.layers.Activation("linear", name="same")(inp), name="inner")
    outer = keras.Sequential([keras.Input((5, 4, 1)), inner])
    x = np.random.default_rng(1).normal(size=(5, 5, 4, 1)).astype("float32")
    a = probes.layer_features(outer, x, ["inner/same"], grid=2, batch_size=2)
    b = probes.layer_features(inner, x, ["same"], grid=2).features["same"]
    a = a.features["inner/same"]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(b[:, 0], x[:, :2, :2, 0].max((1, 2)))


def test_feature_shapes(model):
    x = np.random.default_rng(0).normal(size=(5, 6, 6, 2)).astype("float32")
    f = probes.layer_features(model, x, ["conv1", "fc7"], grid=3, batch_size=2)
    assert f.layers == ("conv1", "fc7") and f.grid == 3
    assert f.features["conv1"].shape == (5, 27) and f.features["fc7"].shape == (5, 4)


def test_linear_probe_separable_and_chance():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    x = rng.normal(size=(90, 5)) + 4 * np.eye(3, 5)[y]
    assert probes.linear_probe(x, y, x, y) == 1.0
    noise = rng.normal(size=(90, 5))
    assert probes.linear_probe(noise[::2], y[::2], noise[1::2], y[1::2]) < 0.7


def test_few_shot_indices():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    idx = probes.few_shot_indices(labels, 2, seed=3)
    assert np.bincount(labels[idx]).tolist() == [2, 2, 2]
    np.testing.assert_array_equal(idx, probes.few_shot_indices(labels, 2, seed=3))
    with pytest.raises(ValueError, match="fewer than per_class"):
        probes.few_shot_indices(labels, 3)
    with pytest.raises(ValueError, match="per_class"):
        probes.few_shot_indices(labels, 0)


def test_transfer_freezes_and_unfreezes(model):
    t = probes.transfer_model(model, 7)
    assert t.output.shape[-1] == 7
    assert [w.name for w in t.trainable_weights] == ["kernel", "bias"]  # only the new softmax
    before = model.get_layer("conv1").kernel.numpy().copy()
    t.compile("sgd", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(8, 6, 6, 2)).astype("float32")
    t.fit(x, np.arange(8) % 7, epochs=2, verbose=0)
    np.testing.assert_array_equal(model.get_layer("conv1").kernel.numpy(), before)
    probes.unfreeze_top(t, ["fc7"])
    assert len(t.trainable_weights) == 4  # fc7 kernel and bias + the new softmax
    with pytest.raises(ValueError, match="layers must name a layer of the model, got 'nope'"):
        probes.unfreeze_top(t, ["nope"])


def test_probe_layers_and_figure(model):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 6, 6, 2)).astype("float32")
    y = np.arange(30) % 3
    probe = probes.probe_layers(model, x, y, x, y, layers=["conv1", "fc7"])
    acc = probe.accuracy
    assert list(acc) == ["conv1", "fc7"] and all(0 <= a <= 1 for a in acc.values())
    assert len(figures.probe_figure(acc, chance=1 / 3).axes) == 1


def test_probe_figure_legend_names_every_curve():
    """Every line in the legend says what it is: the main curve takes ``label``."""
    acc = {"conv1": 0.4, "fc7": 0.6}
    fig = figures.probe_figure(
        acc, chance=0.2, label="probe on shapes", others={"probe on CIFAR-10": acc}
    )
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["probe on shapes", "probe on CIFAR-10", "chance"]
    assert [line.get_label() for line in ax.get_lines()] == texts
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.4, 0.6])
    default = figures.probe_figure(acc).axes[0].get_legend().get_texts()
    assert [t.get_text() for t in default] == ["probe"]


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda m: probes.layer_features(m, np.zeros((1, 6, 6, 2)), ["x"]),
            "layers must name a layer of the model, got 'x'",
        ),
        (
            lambda m: probes.layer_features(m, np.zeros((1, 6, 6, 2)), "conv1"),
            "layers must be a sequence of layer names",
        ),
        (
            lambda m: probes.layer_features(m, np.zeros((1, 6, 6, 3)), ["conv1"]),
            r"images must have shape \(N, 6, 6, 2\), got shape \(1, 6, 6, 3\)",
        ),
        (lambda m: probes.layer_features(m, np.zeros((1, 6, 6, 2)), ["conv1"], grid=0), "grid"),
        (
            lambda m: probes.linear_probe(np.zeros((3, 2)), [0, 1, 0], np.zeros((3, 4)), [0, 1, 0]),
            "same D",
        ),
        (
            lambda m: probes.transfer_model(m, 3, layer="fc9"),
            "layer must name a layer of the model, got 'fc9'",
        ),
    ],
)
def test_errors(model, call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(model)


def test_few_shot_transfer_leaves_model_unchanged(model):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 6, 6, 2)).astype("float32")
    y = np.arange(12) % 2
    before = [w.numpy().copy() for w in model.weights]
    res = probes.few_shot_transfer(
        model, x, y, x, y, per_class=3, epochs=2, fine_tune_epochs=2, fine_tune_layers=["fc7"]
    )
    assert res.per_class == 3
    assert all(0 <= a <= 1 for a in (res.frozen, res.fine_tuned, res.scratch))
    for w, b in zip(model.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)
    assert all(lay.trainable for lay in model.layers)


def test_generalization_figure():
    rows = [probes.FewShot(per_class=k, frozen=0.5, fine_tuned=0.6, scratch=0.2) for k in (1, 5)]
    fig = figures.generalization_figure(rows, chance=0.2)
    assert len(fig.axes[0].lines) == 4
