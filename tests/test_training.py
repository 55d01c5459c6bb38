import json
import os
import subprocess
import sys
from dataclasses import asdict

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
    trained = training.train(recipe, tmp_path, steps_per_epoch=2, verbose=0)
    model, info = trained.model, trained.info
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
    # per image: the same decisions, one bool each (the accuracy is their mean)
    hits = training.evaluate(m, x, y, mean, 1.0, ten_crop=True, batch_size=7, per_image=True)
    assert hits.dtype == bool and hits.shape == (20,)
    np.testing.assert_array_equal(hits, ten.argmax(1) == y)
    per_image = training.evaluate(m, x, y, mean, 1.0, per_image=True)
    np.testing.assert_array_equal(per_image, p.argmax(1) == y)


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


def test_recipe_from_dict_fills_fields_written_before_they_existed():
    full = training.Recipe(**TINY)
    stored = {k: v for k, v in json.loads(json.dumps(asdict(full))).items() if k != "init_from"}
    assert training.Recipe.from_dict(stored) == full  # the missing field takes its default
    assert training.Recipe.from_dict(asdict(full)) == full
    with pytest.raises(ValueError, match=r"not Recipe fields: \['lr_mult'\]"):
        training.Recipe.from_dict({**stored, "lr_mult": 10})
    with pytest.raises(TypeError, match="dict"):
        training.Recipe.from_dict([("lr", 0.1)])


def test_a_backup_written_before_a_field_existed_resumes(tmp_path, capsys):
    class Interrupt(Exception):
        pass

    class RaiseAt(keras.callbacks.Callback):  # stops the run after the 3rd step (in epoch 2)
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) == 3:
                raise Interrupt

    recipe = training.Recipe(**TINY)
    with pytest.raises(Interrupt):
        training.train(recipe, tmp_path, steps_per_epoch=2, verbose=0, callbacks=[RaiseAt()])
    state_file = tmp_path / "backup" / "state.json"
    state = json.loads(state_file.read_text())
    del state["fingerprint"]["recipe"]["init_from"]  # as an older zfkeras wrote it
    state_file.write_text(json.dumps(state))
    capsys.readouterr()
    info = training.train(recipe, tmp_path, steps_per_epoch=2, verbose=0).info
    assert capsys.readouterr().out.startswith(f"resuming {tmp_path} from epoch 1 of 2")
    assert [r["epoch"] for r in info["history"]] == [1, 2]


def test_init_from_starts_at_a_finished_runs_weights_and_lists_both_commands(tmp_path):
    first = training.Recipe(**{**TINY, "epochs": 1})
    training.train(first, tmp_path / "a", steps_per_epoch=2, verbose=0, command="first run")
    saved = keras.saving.load_model(tmp_path / "a" / "model.keras", compile=False)
    warm = training.Recipe(**{**TINY, "epochs": 1, "init_from": str(tmp_path / "a/model.keras")})
    classes = saved.output_shape[-1]  # the shapes' five
    start = training.build_model(warm, classes)
    for got, want in zip(start.get_weights(), saved.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    # the first run's conv1 is not rescaled by conv1_init: it is the saved kernel
    assert np.abs(start.get_layer("conv1").get_weights()[0]).max() > 0
    info = training.train(warm, tmp_path / "b", steps_per_epoch=2, verbose=0, command="second").info
    assert info["commands"] == ["first run", "second"] and info["command"] == "second"
    first_info = json.loads((tmp_path / "a" / "model.json").read_text())
    assert [st["command"] for st in info["stages"]] == ["first run", "second"]
    assert info["stages"][0]["train_seconds"] == first_info["train_seconds"]
    assert info["stages"][0]["test_accuracy"] == first_info["test_accuracy"]
    assert [st["epochs"] for st in info["stages"]] == [1, 1]
    assert [st["lr"] for st in info["stages"]] == [TINY["lr"]] * 2
    assert info["stages"][1]["train_seconds"] == info["train_seconds"]
    assert info["recipe"]["init_from"] == str(tmp_path / "a/model.keras")
    fresh = training.Recipe(**TINY)
    assert training.build_model(fresh, classes).count_params() == start.count_params()


def test_bad_init_from(tmp_path):
    training.train(training.Recipe(**{**TINY, "epochs": 1}), tmp_path, steps_per_epoch=1, verbose=0)
    saved = str(tmp_path / "model.keras")
    training.build_model(training.Recipe(**{**TINY, "init_from": saved}), 5)  # matches: loads
    with pytest.raises(ValueError, match=r"init_from must be the path .* \(no such file\)"):
        training.build_model(training.Recipe(**{**TINY, "init_from": "no/such/model.keras"}), 5)
    with pytest.raises(ValueError, match=r"different network: weight shapes \[\(7, 7, 3, 12\)"):
        training.build_model(training.Recipe(**{**TINY, "init_from": saved, "width": 0.25}), 5)


def test_init_from_flag_reaches_the_recipe():
    from zfkeras import train

    assert train.parse_args([]).init_from is None
    assert train.parse_args(["--init-from", "runs/a/model.keras"]).init_from == "runs/a/model.keras"


def test_reinit_keeps_every_layer_but_the_named_ones(tmp_path):
    first = training.Recipe(**{**TINY, "epochs": 1, "conv1_init": 1.0})
    training.train(first, tmp_path / "a", steps_per_epoch=2, verbose=0, command="first run")
    path = str(tmp_path / "a/model.keras")
    saved = keras.saving.load_model(path, compile=False)
    warm = training.Recipe(**{**TINY, "init_from": path, "reinit": "conv1", "conv1_init": 0.01})
    start = training.build_model(warm, saved.output_shape[-1])
    for var, want in zip(start.weights, saved.get_weights(), strict=True):
        if "/conv1/" in f"/{var.path}":
            continue
        np.testing.assert_array_equal(var.numpy(), want, err_msg=var.path)
    kernel, bias = start.get_layer("conv1").get_weights()
    np.testing.assert_array_equal(bias, 0.0)  # a fresh bias, not the trained one
    assert np.any(saved.get_layer("conv1").get_weights()[1] != 0)
    # a fresh He-normal draw (std sqrt(2 / fan_in), truncated) times conv1_init
    he = np.sqrt(2.0 / np.prod(kernel.shape[:3]))
    assert 0.7 * 0.01 * he < kernel.std() < 1.1 * 0.01 * he
    # two layers, spaces allowed
    two = training.build_model(
        training.Recipe(**{**warm.__dict__, "reinit": "conv1, predictions"}), 5
    )
    assert not np.array_equal(
        two.get_layer("predictions").get_weights()[0],
        saved.get_layer("predictions").get_weights()[0],
    )


@pytest.mark.parametrize(
    "over, err, match",
    [
        ({"reinit": "conv1"}, ValueError, r"reinit='conv1' needs init_from"),
        (
            {"reinit": "conv9", "init_from": "x"},
            ValueError,
            r"layers \['conv9'\] that this network",
        ),
        (
            {"reinit": ["conv1"]},
            TypeError,
            "reinit must be a str of comma-separated layer names, got list",
        ),
    ],
)
def test_bad_reinit(over, err, match):
    with pytest.raises(err, match=match):
        training.build_model(training.Recipe(**{**TINY, **over}), 5)


def test_reinit_flag_reaches_the_recipe():
    from zfkeras import train

    assert train.parse_args([]).reinit == ""
    assert train.parse_args(["--reinit", "conv1"]).reinit == "conv1"
