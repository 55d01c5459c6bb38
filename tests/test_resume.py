"""Interrupted training resumes: a real SIGKILL in the middle of epoch 2, then the same command."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from zfkeras import train as cli
from zfkeras import training

STEPS, EPOCHS, LR = 4, 3, 0.05
BUNDLE = {"checkpoint.keras", "history.json", "model.keras", "model.json"}

# The same command line, with a callback that stops dead after the 6th optimizer step (2 steps
# into epoch 2), leaves a marker file and waits to be killed.
STALLING = """
import runpy, sys, time, keras
import zfkeras.training as t
marker = sys.argv.pop(1)
class Stall(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == 6:
            open(marker, "w").close()
            time.sleep(600)
train = t.train
t.train = lambda *a, **k: train(*a, **{**k, "callbacks": [Stall()]})
runpy.run_module("zfkeras.train", run_name="__main__", alter_sys=True)
"""


def expected_lr(iteration: int) -> float:
    """Hand-written schedule: linear warm-up over one epoch, then cosine to zero."""
    if iteration <= STEPS:
        return LR * iteration / STEPS
    return LR * 0.5 * (1 + math.cos(math.pi * (iteration - STEPS) / ((EPOCHS - 1) * STEPS)))


@pytest.mark.slow
def test_killed_run_resumes_like_an_uninterrupted_one(tmp_path, capsys, tiny_train_args):
    args = tiny_train_args(
        epochs=EPOCHS, steps_per_epoch=STEPS, train_size=256, lr=LR, warmup_epochs=1
    )
    out, ref, marker = tmp_path / "run", tmp_path / "ref", tmp_path / "stalled"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(
        [sys.executable, "-c", STALLING, str(marker), *args, "--out", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 240
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.time() < deadline, "the stalling run never reached step 6"
        time.sleep(0.1)
    assert [r["epoch"] for r in json.loads((out / "history.json").read_text())] == [1]
    proc.send_signal(signal.SIGKILL)
    first_out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert first_out.splitlines()[0] == f"starting {out} fresh"
    assert not (out / "model.json").exists()

    res = subprocess.run(
        [sys.executable, "-m", "zfkeras.train", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.splitlines()[0] == (
        f"resuming {out} from epoch 1 of {EPOCHS} (pass --fresh to start over)"
    )

    assert cli.main([*args, "--out", str(ref)]) == 0  # the same command, never interrupted
    assert capsys.readouterr().out.splitlines()[0] == f"starting {ref} fresh"

    resumed = json.loads((out / "model.json").read_text())
    straight = json.loads((ref / "model.json").read_text())
    assert resumed["resumed_from_epoch"] == 1 and straight["resumed_from_epoch"] is None
    for info, folder in ((resumed, out), (straight, ref)):
        hist = info["history"]
        assert json.loads((folder / "history.json").read_text()) == hist
        assert [r["epoch"] for r in hist] == list(range(1, EPOCHS + 1))
        assert [r["iterations"] for r in hist] == [STEPS * e for e in range(1, EPOCHS + 1)]
        np.testing.assert_allclose(
            [r["lr"] for r in hist], [expected_lr(r["iterations"]) for r in hist], atol=1e-7
        )
        assert all(np.isfinite(r["loss"]) for r in hist)
        assert set(os.listdir(folder)) == BUNDLE  # no backup, no temporary file left
        ckpt = keras.saving.load_model(folder / "checkpoint.keras")
        assert int(ckpt.optimizer.iterations.numpy()) == EPOCHS * STEPS
    assert [set(r) for r in resumed["history"]] == [set(r) for r in straight["history"]]
    np.testing.assert_allclose(
        [r["lr"] for r in resumed["history"]], [r["lr"] for r in straight["history"]], atol=1e-7
    )


class Interrupt(Exception):
    pass


class RaiseAt(keras.callbacks.Callback):
    def __init__(self, iteration):
        super().__init__()
        self.iteration = iteration

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.iteration:
            raise Interrupt


def test_other_recipe_is_refused_and_fresh_starts_over(tmp_path, capsys):
    tiny = dict(
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
    with pytest.raises(Interrupt):
        training.train(
            training.Recipe(**tiny), tmp_path, steps_per_epoch=2, verbose=0, callbacks=[RaiseAt(3)]
        )
    assert training.read_backup(tmp_path / "backup")["epoch"] == 1
    with pytest.raises(ValueError, match=r"lr=0.01 there, 0.02 now.*fresh"):
        training.train(
            training.Recipe(**{**tiny, "lr": 0.02}), tmp_path, steps_per_epoch=2, verbose=0
        )
    with pytest.raises(ValueError, match="steps_per_epoch=2 there, 3 now"):
        training.train(training.Recipe(**tiny), tmp_path, steps_per_epoch=3, verbose=0)
    (tmp_path / ".partial-1-model.keras").write_text("half written")  # a killed write
    capsys.readouterr()
    info = training.train(
        training.Recipe(**{**tiny, "lr": 0.02}), tmp_path, steps_per_epoch=2, verbose=0, fresh=True
    ).info
    assert capsys.readouterr().out.splitlines()[0] == f"starting {tmp_path} fresh"
    assert info["resumed_from_epoch"] is None
    assert [r["iterations"] for r in info["history"]] == [2, 4]
    assert set(os.listdir(tmp_path)) == BUNDLE


def test_the_backup_is_written_before_the_history_row(tmp_path, monkeypatch):
    """A run killed between the two files never shows as done an epoch it will redo: the
    epoch's backup (weights, then state.json) is complete before history.json names it."""
    from zfkeras.training import resume

    order = []
    real = resume.atomic_write
    monkeypatch.setattr(resume, "atomic_write", lambda p, w: (order.append(p.name), real(p, w)))
    x = keras.Input((2,))
    model = keras.Model(x, keras.layers.Dense(1)(x))
    model.compile(optimizer="sgd", loss="mse")
    history = resume.History(tmp_path / "history.json")
    backup = resume.Backup(tmp_path / "backup", history, {"recipe": 1})
    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=2, verbose=0, callbacks=[history, backup])
    assert order == [
        "epoch-0001.weights.h5",
        "state.json",
        "history.json",
        "epoch-0002.weights.h5",
        "state.json",
        "history.json",
    ]
    assert [r["epoch"] for r in json.loads((tmp_path / "history.json").read_text())] == [1, 2]
    assert json.loads((tmp_path / "backup" / "state.json").read_text())["epoch"] == 2


def test_a_finished_run_is_returned_not_trained_again(tmp_path, capsys):
    tiny = dict(
        dataset="shapes",
        epochs=1,
        batch_size=16,
        width=0.125,
        fc_units=16,
        image_size=64,
        train_size=64,
        test_size=32,
    )
    trained = training.train(training.Recipe(**tiny), tmp_path, steps_per_epoch=2, verbose=0)
    model, info = trained.model, trained.info
    stamp = (tmp_path / "model.keras").stat().st_mtime_ns
    capsys.readouterr()
    trained = training.train(training.Recipe(**tiny), tmp_path, steps_per_epoch=2, verbose=0)
    again, info2 = trained.model, trained.info
    assert capsys.readouterr().out.splitlines()[0].startswith(f"finished {tmp_path}")
    assert (tmp_path / "model.keras").stat().st_mtime_ns == stamp and info2 == info
    for a, b in zip(again.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # another recipe, other steps per epoch, or fresh=True train
    for recipe, steps, fresh in [
        (training.Recipe(**{**tiny, "lr": 0.03}), 2, False),
        (training.Recipe(**tiny), 3, False),
        (training.Recipe(**tiny), 2, True),
    ]:
        capsys.readouterr()
        training.train(recipe, tmp_path, steps_per_epoch=steps, verbose=0, fresh=fresh)
        assert capsys.readouterr().out.splitlines()[0] == f"starting {tmp_path} fresh"
