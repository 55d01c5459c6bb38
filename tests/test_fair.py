"""Issue 13's fair tests: ablation to convergence, dead filters without the renormalization,
transfer to held-out classes."""

import dataclasses
import json

import keras
import numpy as np
import pytest

from zfkeras import data, training
from zfkeras.experiments import ablation, renorm, transfer

# ---- the source/target split (no target class leaks into pretraining)


def test_split_keeps_targets_out_of_source():
    labels = np.random.default_rng(0).integers(0, 10, 500)
    split = transfer.source_target_split(labels, [6, 9, 2])
    assert not np.isin(labels[split.source], [6, 9, 2]).any()
    assert np.isin(labels[split.target], [6, 9, 2]).all()
    assert len(split.source) + len(split.target) == len(labels)
    assert split.source_classes == (0, 1, 3, 4, 5, 7, 8)
    # renumbering in the given order, checked against a plain loop
    for i, t in zip(split.target, split.target_labels):
        assert [6, 9, 2][t] == labels[i]
    for i, s in zip(split.source, split.source_labels):
        assert split.source_classes[s] == labels[i]


@pytest.mark.parametrize(
    "targets, match",
    [([], "distinct"), ([1, 1], "distinct"), ([11], "absent"), ([0, 1, 2], "at least one")],
)
def test_split_rejects_bad_targets(targets, match):
    with pytest.raises(ValueError, match=match):
        transfer.source_target_split(np.array([0, 1, 2, 2]), targets)


# ---- the dead-filter activity measure on a hand-built first layer


def hand_layer():
    rng = np.random.default_rng(1)
    kernel = rng.normal(0, 0.1, (3, 3, 3, 4)).astype("float32")
    bias = np.array([0.5, 0.5, -100.0, 0.5], "float32")  # filter 2 can never switch on
    return kernel, bias


def test_conv1_outputs_match_a_numpy_loop():
    kernel, bias = hand_layer()
    x = np.random.default_rng(2).normal(size=(2, 9, 9, 3)).astype("float32")
    got = renorm.conv1_outputs(kernel, bias, x, stride=2, pad=1).numpy()
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    want = np.zeros((2, 5, 5, 4))
    for n in range(2):
        for i in range(5):
            for j in range(5):
                patch = xp[n, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3, :]
                want[n, i, j] = np.maximum(0, np.tensordot(patch, kernel, 3) + bias)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_very_negative_bias_is_dead_others_alive():
    kernel, bias = hand_layer()
    x = np.random.default_rng(3).normal(size=(8, 16, 16, 3)).astype("float32")
    dead = renorm.dead_by_activity(kernel, bias, x, stride=2, pad=1)
    np.testing.assert_array_equal(dead, [False, False, True, False])
    zf = renorm.zero_fraction(kernel, bias, x, stride=2, pad=1)
    assert zf[2] == 1.0 and np.all(zf[[0, 1, 3]] < 0.9)
    with pytest.raises(ValueError, match="fraction"):
        renorm.dead_by_activity(kernel, bias, x, 2, 1, fraction=0)
    with pytest.raises(ValueError, match="images"):
        renorm.conv1_outputs(kernel, bias, x[..., :2], 2, 1)


# ---- the chapter-facing functions in quick mode


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setenv("ZFKERAS_QUICK", "1")


@pytest.mark.slow
def test_ablation_to_convergence_quick(quick):
    recipe = ablation.budget_recipe(converged=True, width=0.125, fc_units=16, epochs=3)
    variants = {"full": {}, "narrow fc": {"fc_units": 8}}
    result = ablation.run_ablation(recipe, variants, patience=1)
    assert [r["fc_units"] for r in result.rows] == [16, 8]
    for row in result.rows:
        assert 1 <= row["epochs"] <= 3 and len(row["curve"]) == row["epochs"]
        assert row["val_accuracy"] == max(row["curve"])
        assert row["curve"][row["best_epoch"] - 1] == row["val_accuracy"]
    with pytest.raises(ValueError, match="patience"):
        ablation.train_variant(None, recipe, None, None, None, None, patience=0)


def test_dead_filter_runs_quick(quick, tmp_path):
    recipe = renorm.dead_filter_recipe(width=0.125, fc_units=16)
    result = renorm.run_dead_filters(recipe, runs=(("alexnet", False),))
    renorm.save_runs(result, tmp_path / "d.npz", "cmd")
    runs = renorm.load_runs(tmp_path / "d.npz")
    assert runs.command == "cmd" and list(runs.runs) == ["alexnet, no renorm"]
    run = runs.runs["alexnet, no renorm"]
    saved = result.runs["alexnet, no renorm"]
    np.testing.assert_allclose(run.kernel, saved.kernel, rtol=1e-6)
    assert (run.history, run.test_accuracy) == (saved.history, saved.test_accuracy)
    assert run.kernel.shape == (11, 11, 3, 12) and (run.stride, run.pad) == (4, 2)
    images = data.shapes(6, seed=9, image_size=64).images
    report = renorm.dead_filter_report(runs, images).runs["alexnet, no renorm"]
    assert report.filters == 12 and 0 <= report.dead_activity <= 12
    # the same count from the trained model's own conv1 output (an independent path)
    model = training.build_model(
        training.Recipe(**(runs.recipe | {"arch": "alexnet", "renorm": False})), 5
    )
    conv = model.get_layer("conv1")
    conv.set_weights([run.kernel, run.bias])
    x = transfer.eval_view(images, run.mean, training.Recipe(**runs.recipe))
    act = keras.Model(model.inputs[0], conv.output)(x).numpy()
    np.testing.assert_allclose(report.zero_fraction, (act <= 1e-6).mean(axis=(0, 1, 2)), atol=1e-6)


@pytest.mark.slow
def test_transfer_quick(quick, cifar_dir, tmp_path):
    result = transfer.run_transfer(
        transfer.transfer_recipe(width=0.125, fc_units=16), per_class=(1, 2), data_dir=cifar_dir
    )
    assert result.source_classes == ["airplane", "automobile", "bird", "cat", "deer", "dog"]
    assert [r["per_class"] for r in result.rows] == [1, 2]
    for r in result.rows:
        assert set(r["frozen"]) == set(transfer.LAYERS)
        assert all(0 <= v <= 1 for v in r["frozen"].values()) and 0 <= r["scratch"] <= 1
    json.dumps(dataclasses.asdict(result))  # JSON-ready
