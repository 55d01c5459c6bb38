import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from zfkeras import models, training

TINY = dict(
    dataset="shapes",
    epochs=2,
    batch_size=16,
    width=0.125,
    fc_units=16,
    image_size=64,
    train_size=64,
    test_size=32,
    lr=0.01,
)


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
        np.mean(ten.argmax(1) == y)
    )


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


@pytest.mark.parametrize(
    "field, value, match", [("arch", "vgg", "arch"), ("dataset", "mnist", "dataset")]
)
def test_bad_recipe(tmp_path, field, value, match):
    with pytest.raises(ValueError, match=match):
        training.train(training.Recipe(**{**TINY, field: value}), tmp_path, verbose=0)


def test_bad_strategy():
    with pytest.raises(ValueError, match="strategy"):
        training.make_strategy("horovod")


@pytest.mark.slow
def test_cli_mirrored_on_two_logical_cpus(tmp_path, tiny_train_args):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "zfkeras.train",
        *tiny_train_args(strategy="mirrored", logical_cpus=2),
        "--out",
        str(out),
    ]
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
    assert not (tmp_path / "backup").exists()  # a rerun starts over instead of resuming NaNs


def test_help_is_a_sentence_for_every_option(capsys):
    from zfkeras import train

    parser = train.build_parser()
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    recipe_fields = {f for f in training.Recipe.__dataclass_fields__ if f != "extra"}
    assert recipe_fields <= {a.dest for a in options}
    for action in options:
        text = action.help or ""
        assert not text.lower().startswith("recipe field"), action.dest
        assert text[0].isupper() and text.endswith(".") and len(text.split()) >= 6, (
            action.dest,
            text,
        )
    with pytest.raises(SystemExit):
        train.main(["--help"])
    shown = " ".join(capsys.readouterr().out.split())  # undo the line wrapping
    assert "--no-renorm" in shown and "--fresh" in shown and "recipe field" not in shown
    assert "the paper used 0.9" in shown and "the paper used 128" in shown


def test_no_renorm_flag_reaches_the_recipe():
    from zfkeras import train

    assert train.parse_args([]).renorm is True
    assert train.parse_args(["--no-renorm"]).renorm is False


@pytest.mark.parametrize("renorm", [True, False])
def test_renorm_switch_caps_or_leaves_filters(renorm):
    """One SGD step from a conv1 filter of RMS 5: with renormalization every filter ends at RMS
    <= 0.1 (the big one at exactly 0.1), without it the kernel is the plain SGD update."""
    recipe = training.Recipe(
        **{
            **TINY,
            "renorm": renorm,
            "lr": 0.5,
            "warmup_epochs": 0,
            "weight_decay": 0.0,
            "dropout": 0.0,
            "epochs": 1,
        }
    )
    model = training.build_model(recipe, 3)
    training.compile_model(model, recipe, steps_per_epoch=1)
    conv1 = model.get_layer("conv1")
    w0 = np.array(conv1.kernel.numpy())
    w0[..., 0] *= 5.0 / np.sqrt(np.mean(w0[..., 0] ** 2))
    conv1.kernel.assign(w0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 64, 64, 3)).astype("float32")
    y = rng.integers(0, 3, 8)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))
        loss = tf.reduce_mean(loss)
    grad = tape.gradient(loss, conv1.kernel).numpy()
    model.train_on_batch(x, y)
    # first SGD step (the momentum buffer starts at zero), at conv1's own learning rate
    step = w0 - 0.5 * recipe.conv1_lr * grad
    rms = np.sqrt((step**2).reshape(-1, step.shape[-1]).mean(0))
    expected = step * np.minimum(1.0, 0.1 / rms) if renorm else step
    after = conv1.kernel.numpy()
    np.testing.assert_allclose(after, expected, rtol=1e-4, atol=1e-6)
    rms_after = np.sqrt((after**2).reshape(-1, after.shape[-1]).mean(0))
    if renorm:
        assert rms_after[0] == pytest.approx(0.1, rel=1e-4)
        assert np.all(rms_after <= 0.1 * (1 + 1e-5))
    else:
        assert rms_after[0] == pytest.approx(rms[0], rel=1e-4) and rms_after[0] > 4
