"""Training that survives interruption: atomic files, the per-epoch history and the backup
of weights and optimizer state that lets a rerun continue from the last completed epoch."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import keras

BACKUP, STATE, PARTIAL = "backup", "state.json", ".partial-"


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp)`` on a temporary name in ``path``'s folder (same suffix, which Keras
    needs), then rename it to ``path``: a reader sees the old file or the whole new one."""
    path = Path(path)
    tmp = path.with_name(f"{PARTIAL}{os.getpid()}-{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class History(keras.callbacks.Callback):
    """After every epoch append a row (``epoch``, cumulative ``seconds``, ``lr``: the rate the
    schedule gives at the optimizer's ``iterations`` count, that count, and Keras' logs) and
    write all rows to a JSON file, atomically. ``rows`` continues a resumed run's history.

    With a :class:`Backup` the file is written by the backup, after the epoch's backup is
    complete (:meth:`write`), so a run killed between the two never shows as done an epoch it
    will redo."""

    def __init__(self, path: Path, rows: list | None = None):
        super().__init__()
        self.path, self.rows = Path(path), list(rows or [])
        self.t0 = time.time() - (self.rows[-1]["seconds"] if self.rows else 0.0)
        self.deferred = False

    def write(self) -> None:
        """Write all rows to the JSON file, atomically."""
        atomic_write(self.path, lambda p: p.write_text(json.dumps(self.rows, indent=1)))

    def on_epoch_end(self, epoch, logs=None):
        opt = self.model.optimizer
        row = {
            "epoch": epoch + 1,
            "seconds": round(time.time() - self.t0, 1),
            "lr": float(keras.ops.convert_to_numpy(opt.learning_rate)),
            "iterations": int(keras.ops.convert_to_numpy(opt.iterations)),
        }
        row.update({k: float(v) for k, v in (logs or {}).items()})
        self.rows.append(row)
        if not self.deferred:
            self.write()


class Checkpoint(keras.callbacks.Callback):
    """Save the whole model (optimizer state included) to a ``.keras`` file after every epoch,
    atomically."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = Path(path)

    def on_epoch_end(self, epoch, logs=None):
        atomic_write(self.path, self.model.save)


class Backup(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` that survives a kill at any instant.

    After every epoch it writes ``epoch-NNNN.weights.h5`` (model and optimizer variables, the
    iteration counter included) and then ``state.json`` (that epoch, the file's name, the
    history rows and ``fingerprint``), each atomically; as ``state.json`` names only a complete
    weights file, the backup is always one consistent epoch. Only then is the history file
    written (:meth:`History.write`). At the start of ``fit`` it restores them and sets the epoch
    to continue from. It is not deleted at the end of ``fit``:
    :func:`train` removes it once the bundle is written.
    """

    def __init__(self, backup_dir: Path, history: History, fingerprint: dict):
        super().__init__(str(backup_dir), delete_checkpoint=False)
        self.folder, self.history, self.fingerprint = Path(backup_dir), history, fingerprint
        history.deferred = True

    def on_train_begin(self, logs=None):
        state = read_backup(self.folder)
        if state is None:
            return
        if not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self.folder / state["weights"])
        self.model._initial_epoch = state["epoch"]  # as keras.callbacks.BackupAndRestore does

    def on_epoch_end(self, epoch, logs=None):
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{epoch + 1:04d}.weights.h5"
        atomic_write(self.folder / name, self.model.save_weights)
        state = {
            "epoch": epoch + 1,
            "weights": name,
            "history": self.history.rows,
            "fingerprint": self.fingerprint,
        }
        atomic_write(self.folder / STATE, lambda p: p.write_text(json.dumps(state)))
        for old in self.folder.glob("epoch-*.weights.h5"):
            if old.name != name:
                old.unlink()
        self.history.write()


def read_backup(backup_dir: str | Path) -> dict | None:
    """The state an interrupted run left in ``backup_dir`` (``epoch`` completed, ``weights``
    file name, ``history`` rows, ``fingerprint``: recipe and steps per epoch), or None."""
    path = Path(backup_dir) / STATE
    return json.loads(path.read_text()) if path.exists() else None


def check_backup(state: dict, fingerprint: dict, out: Path) -> None:
    old, new = state["fingerprint"], json.loads(json.dumps(fingerprint))
    diff = [
        f"{k}={old['recipe'].get(k)!r} there, {v!r} now"
        for k, v in new["recipe"].items()
        if old["recipe"].get(k) != v
    ]
    if old.get("steps_per_epoch") != new["steps_per_epoch"]:
        diff.append(
            f"steps_per_epoch={old.get('steps_per_epoch')!r} there, {new['steps_per_epoch']!r} now"
        )
    if diff:
        raise ValueError(
            f"out_dir {str(out)!r} holds the backup of a different run ("
            + "; ".join(diff)
            + "); pass fresh=True (--fresh) to discard it, "
            "or choose another out_dir"
        )
