import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from zfkeras import models, training

TINY = dict(dataset="shapes", epochs=2, batch_size=16, width=0.125, fc_units=16,
            image_size=64, train_size=64, test_size=32, lr=0.01)


def test_train_writes_bundle_and_history(tmp_path):
    recipe = training.Recipe(**TINY)
    model, info = training.train(recipe, tmp_path, steps_per_epoch=2, verbose=0)
    for f in ("checkpoint.keras", "history.json", "model.keras", "model.json"):
        assert (tmp_path / f).exists(), f
    history = json.loads((tmp_path / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert {"loss", "accuracy", "val_accuracy"} <= set(history[0])
    saved = json.loads((tmp_path / "model.json").read_text())
    assert saved["recipe"]["epochs"] == 2 and saved["class_names"] == info["class_names"]
    assert np.asarray(saved["mean"]).shape == (64, 64, 3)
    assert 0 <= saved["test_accuracy"] <= 1
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert getattr(loaded, "optimizer", None) is None  # small file: no optimizer state
    x = np.zeros((1, 64, 64, 3), "float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


def test_evaluate_single_and_ten_crop_against_numpy():
    m = models.zfnet((64, 64, 3), 3, width=0.125, fc_units=8)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 64, 64, 3), dtype=np.uint8)
    y = rng.integers(0, 3, 20)
    mean = x.mean(0).astype(np.float32)
    xn = (x.astype(np.float32) - mean) / 64
    p = m.predict(xn, verbose=0)
    pm = m.predict(xn[:, :, ::-1], verbose=0)
    # with crop_scale=1 every crop is the whole image or its mirror image
    assert training.evaluate(m, x, y, mean, 1.0) == pytest.approx(np.mean(p.argmax(1) == y))
    ten = (p + pm) / 2
    assert training.evaluate(m, x, y, mean, 1.0, ten_crop=True, batch_size=7) == pytest.approx(
        np.mean(ten.argmax(1) == y))


def test_schedule_warms_up_then_decays():
    m = models.zfnet((64, 64, 3), 3, width=0.125, fc_units=8)
    recipe = training.Recipe(epochs=4, lr=0.1, warmup_epochs=1)
    training.compile_model(m, recipe, steps_per_epoch=10)
    sched = m.optimizer._learning_rate
    assert float(sched(0)) == pytest.approx(0.0, abs=1e-7)
    assert float(sched(10)) == pytest.approx(0.1, rel=1e-5)
    assert float(sched(25)) == pytest.approx(0.05, rel=1e-3)  # cosine half-way
    assert float(sched(40)) == pytest.approx(0.0, abs=1e-6)
    assert m.optimizer.momentum == 0.9


@pytest.mark.parametrize("field, value, match", [("arch", "vgg", "arch"),
                                                  ("dataset", "mnist", "dataset")])
def test_bad_recipe(tmp_path, field, value, match):
    with pytest.raises(ValueError, match=match):
        training.train(training.Recipe(**{**TINY, field: value}), tmp_path, verbose=0)


def test_bad_strategy():
    with pytest.raises(ValueError, match="strategy"):
        training.make_strategy("horovod")


def test_cli_mirrored_on_two_logical_cpus(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "zfkeras.train", "--dataset", "shapes", "--epochs", "1",
           "--steps-per-epoch", "2", "--train-size", "64", "--test-size", "32", "--width",
           "0.125", "--fc-units", "16", "--image-size", "64", "--batch-size", "16",
           "--strategy", "mirrored", "--logical-cpus", "2", "--out", str(out), "--verbose", "0"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "2 replica(s)" in res.stdout
    info = json.loads((out / "model.json").read_text())
    assert "--strategy mirrored" in info["command"]


def test_divergence_is_reported_not_saved(tmp_path):
    recipe = training.Recipe(**{**TINY, "lr": 1e8, "warmup_epochs": 0})
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        training.train(recipe, tmp_path, steps_per_epoch=3, verbose=0)
    assert not (tmp_path / "model.keras").exists()
