"""A training run that writes a bundle (paper section 3, at CPU size) and survives interruption.

A run survives interruption: every epoch backs up the weights, the optimizer state (with its
iteration counter, so the learning-rate schedule carries on where it stopped) and the history
in ``out_dir/backup`` (a :class:`keras.callbacks.BackupAndRestore`), and calling :func:`train`
again with the same recipe and ``out_dir`` resumes from the last completed epoch. Every file is
written under a temporary name in its folder and then renamed, so none is ever half written.

Python: :func:`train`. Command line: ``python -m zfkeras.train --help``.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from zfkeras.training.loop import fit
from zfkeras.training.pipeline import evaluate, load_dataset
from zfkeras.training.recipe import Recipe, build_model, make_strategy
from zfkeras.training.resume import (
    BACKUP,
    PARTIAL,
    Backup,
    Checkpoint,
    History,
    atomic_write,
    check_backup,
    read_backup,
)


@dataclass(frozen=True)
class Trained:
    """What :func:`train` returns.

    Attributes:
        model: the trained ``keras.Model`` (softmax output ``predictions``).
        info: the bundle's ``model.json``: recipe, class names, per-pixel mean, measured
            single- and 10-crop test accuracy, history, the commands that reproduce it.
    """

    model: keras.Model
    info: dict


def train(
    recipe: Recipe | None = None,
    out_dir: str | Path = "runs/zfnet",
    data_dir: str | None = None,
    *,
    strategy: str | tf.distribute.Strategy | None = None,
    steps_per_epoch: int | None = None,
    verbose: int | str = "auto",
    callbacks: list | None = None,
    command: str | None = None,
    fresh: bool = False,
) -> Trained:
    """Train a model by a :class:`Recipe` and save a bundle under ``out_dir``; resume an
    interrupted run.

    Writes ``out_dir/checkpoint.keras`` and ``out_dir/history.json`` (after every epoch; each
    history row has the epoch's ``lr`` and optimizer ``iterations``), and the bundle
    ``out_dir/model.keras`` + ``out_dir/model.json`` (recipe, per-pixel mean, class names,
    measured single- and 10-crop test accuracy, full history, the command that reproduces it;
    for a warm restart also ``commands``, every command from the first run on, and ``stages``,
    one row per run with its command, epochs, peak learning rate, re-initialized layers,
    training seconds and test accuracy), which
    :func:`zfkeras.pretrained` reads. While it trains, ``out_dir/backup`` holds the last
    completed epoch (see :class:`Backup`); if it is there, training resumes from it, with the
    optimizer state and learning-rate schedule where they stopped and the earlier epochs kept in
    the history. Once the run has finished, the same call again returns the bundle in
    ``out_dir`` instead of training (``fresh=True`` trains it again). The first line printed says
    ``resuming OUT from epoch E of N``, ``starting OUT fresh`` or ``finished OUT``. All files are
    written atomically.

    Args:
        fresh: delete ``out_dir/backup`` and start over instead of resuming.

    Returns:
        A :class:`Trained`: the trained model and the bundle's info.

    Raises:
        ValueError: an unknown ``recipe.arch`` or ``recipe.dataset``, or a backup in ``out_dir``
            left by a different recipe or ``steps_per_epoch`` (the message names the fields).
        FloatingPointError: the loss became NaN (no bundle is written, the backup is removed).
    """
    recipe = recipe or Recipe()
    if isinstance(strategy, str) or strategy is None:
        strategy = make_strategy(strategy)
    out = Path(out_dir)
    backup = out / BACKUP
    if fresh:
        shutil.rmtree(backup, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    for leftover in [*out.glob(PARTIAL + "*"), *backup.glob(PARTIAL + "*")]:
        leftover.unlink()  # temporary files of a killed run
    fingerprint = {"recipe": asdict(recipe), "steps_per_epoch": steps_per_epoch}
    state = read_backup(backup)
    done = _finished(out, recipe, steps_per_epoch) if state is None and not fresh else None
    if done is not None:  # the same command run again after it finished: nothing to train
        print(f"finished {out}: it holds this recipe's bundle (pass --fresh to train again)")
        return done
    if state is not None:  # a backup written before a recipe field existed has its default
        old = state["fingerprint"]
        old["recipe"] = asdict(Recipe.from_dict(old["recipe"]))
        check_backup(state, fingerprint, out)
    print(
        f"resuming {out} from epoch {state['epoch']} of {recipe.epochs} (pass --fresh to "
        "start over)"
        if state
        else f"starting {out} fresh",
        flush=True,
    )
    xtr, ytr, xte, yte, names = load_dataset(recipe, data_dir)
    history = History(out / "history.json", state["history"] if state else None)
    cbs = [
        history,
        Checkpoint(out / "checkpoint.keras"),
        Backup(backup, history, fingerprint),
        keras.callbacks.TerminateOnNaN(),
    ]
    t0 = time.time()
    fitted = fit(
        recipe,
        xtr,
        ytr,
        (xte, yte),
        num_classes=len(names),
        steps_per_epoch=steps_per_epoch,
        callbacks=cbs + list(callbacks or []),
        strategy=strategy,
        verbose=verbose,
    )
    model, mean = fitted.model, fitted.mean
    if not np.isfinite(history.rows[-1]["loss"] if history.rows else 0.0):
        shutil.rmtree(backup, ignore_errors=True)
        raise FloatingPointError(
            f"training diverged (loss is NaN); lower the learning rate (lr={recipe.lr}) and "
            f"train again; the last checkpoint is in {out}"
        )
    acc1 = evaluate(model, xte, yte, mean, recipe.crop_scale)
    acc10 = evaluate(model, xte, yte, mean, recipe.crop_scale, ten_crop=True)
    command = command or "python -m zfkeras.train " + " ".join(sys.argv[1:])
    commands_before, stages_before = _runs_before(recipe.init_from)
    info = {
        "recipe": asdict(recipe),
        "class_names": names,
        "mean": mean.round(3).tolist(),
        "test_accuracy": round(acc1, 4),
        "test_accuracy_10crop": round(acc10, 4),
        "test_images": int(len(xte)),
        "train_images": int(len(xtr)),
        "train_seconds": history.rows[-1]["seconds"]
        if history.rows
        else round(time.time() - t0, 1),
        "params": int(model.count_params()),
        "history": history.rows,
        "resumed_from_epoch": state["epoch"] if state else None,
        "steps_per_epoch": steps_per_epoch,
        "command": command,
        "commands": commands_before + [command],
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
    }
    info["stages"] = stages_before + [_stage(info)]
    # an uncompiled copy: no optimizer state saved
    clean = build_model(replace(recipe, init_from=None, reinit=""), len(names))
    clean.set_weights(model.get_weights())
    atomic_write(out / "model.keras", clean.save)
    atomic_write(out / "model.json", lambda p: p.write_text(json.dumps(info)))
    shutil.rmtree(backup, ignore_errors=True)
    return Trained(model, info)


def _finished(out: Path, recipe: Recipe, steps_per_epoch: int | None) -> Trained | None:
    """The :class:`Trained` of the finished run in ``out`` when it was trained by ``recipe`` (and
    ``steps_per_epoch``), else None."""
    info_path, model_path = out / "model.json", out / "model.keras"
    if not (info_path.is_file() and model_path.is_file()):
        return None
    info = json.loads(info_path.read_text())
    try:
        same = Recipe.from_dict(info["recipe"]) == recipe
    except (KeyError, TypeError, ValueError):
        return None
    if not same or info.get("steps_per_epoch") != steps_per_epoch:
        return None
    return Trained(keras.models.load_model(model_path, compile=False), info)


def _runs_before(init_from) -> tuple[list, list]:
    """What the ``model.json`` beside ``init_from`` says of the runs that produced it, so that a
    bundle lists every run that reproduces it: their commands, and one row per run
    (``command``, ``epochs``, ``lr``, ``reinit``, ``train_seconds``, ``test_accuracy``).
    ``([], [])`` for a fresh run or when there is no such file."""
    if init_from is None:
        return [], []
    path = Path(init_from).with_suffix(".json")
    if not path.is_file():
        return [], []
    before = json.loads(path.read_text())
    commands = list(before.get("commands") or [before["command"]])
    return commands, list(before.get("stages") or [_stage(before)])


def _stage(info: dict) -> dict:
    """A run's row in a bundle's ``stages``, from its ``model.json`` (``info``): its command,
    epochs, learning rate, re-initialized layers, training seconds and test accuracy."""
    rec = info["recipe"]
    row = {k: info.get(k) for k in ("command", "train_seconds", "test_accuracy")}
    return row | {"epochs": rec["epochs"], "lr": rec["lr"], "reinit": rec.get("reinit", "")}
