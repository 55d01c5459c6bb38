"""The record of an architecture seed study (:mod:`zfkeras.experiments.architecture`): its
types, its ``.npz`` file and its statistics over the seeds.

* :class:`Measures`, :class:`Run`, :class:`Study`: one run's numbers, one ``(arch, seed)`` run,
  every run of a study;
* :func:`save_study`, :func:`load_study`: the small ``.npz`` (the shipped
  ``data/architecture-cifar10.npz``);
* :func:`summarize` (a :class:`Spread` per architecture and metric; a verdict on two
  architectures is :func:`zfkeras.evaluation.verdict.compare_seeds` over the per-seed values).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

METRICS = ("test_accuracy", "concentration", "middle_band", "conv2_high")


@dataclass(frozen=True)
class Measures:
    """The numbers of one run (:func:`~zfkeras.experiments.architecture.measure`; see that module's
    docstring)."""

    test_accuracy: float
    concentration: float
    middle_band: float
    conv2_high: float
    conv2_grid: float
    oriented: float
    middle_band_width: float


@dataclass(frozen=True)
class Run:
    """One ``(arch, seed)`` run of a study.

    Attributes:
        arch, seed: the run's architecture and seed.
        train_seconds: its training time.
        conv1_kernel: its first-layer kernel ``(kh, kw, 3, n)``.
        metrics: dict measure name -> value (the fields of :class:`Measures`; a study written
            before a measure existed lacks it).
    """

    arch: str
    seed: int
    train_seconds: float
    conv1_kernel: np.ndarray
    metrics: dict


@dataclass(frozen=True)
class Study:
    """Every run of a study (:func:`~zfkeras.experiments.architecture.run_study`,
    :func:`load_study`).

    Attributes:
        recipe: the shared budget, as a dict of its fields.
        eval_size, probes: the evaluation images and those projected from conv2.
        runs: dict run name (:func:`~zfkeras.experiments.architecture.run_name`) -> :class:`Run`.
        command: the command line(s) that wrote the file (joined by ``&&``), else None.
        commands: every command that wrote a part of a merged study, in order (else empty).
    """

    recipe: dict
    eval_size: int
    probes: int
    runs: dict
    command: str | None = None
    commands: Sequence[str] = ()


@dataclass(frozen=True)
class Spread:
    """One metric of one architecture over the seeds (:func:`summarize`).

    Attributes:
        values: per-seed values in seed order; mean; std: the sample standard deviation (0 for
            one seed); min; max.
    """

    values: list
    mean: float
    std: float
    min: float
    max: float


@dataclass(frozen=True)
class Summary:
    """:func:`summarize`'s result.

    Attributes:
        metrics: the metrics summarized.
        archs: dict arch -> metric -> :class:`Spread`.
    """

    metrics: tuple
    archs: dict


def save_study(study: Study, path: str | Path, command: str) -> None:
    """Write :func:`~zfkeras.experiments.architecture.run_study`'s result as a small ``.npz``:
    ``<run>/conv1_kernel`` (float32) per run, the rest (recipe, numbers) as JSON in ``info``,
    with ``commands`` (those of a merged study, then ``command``) and ``command`` (all of them
    joined by ``&&``)."""
    arrays = {
        f"{k}/conv1_kernel": np.asarray(r.conv1_kernel, np.float32) for k, r in study.runs.items()
    }
    info = {"recipe": study.recipe, "eval_size": study.eval_size, "probes": study.probes}
    info["commands"] = list(study.commands or []) + [command]
    info["command"] = " && ".join(info["commands"])  # one line that reproduces the file
    info["runs"] = {
        k: {"arch": r.arch, "seed": r.seed} | r.metrics | {"train_seconds": r.train_seconds}
        for k, r in study.runs.items()
    }
    np.savez_compressed(path, info=json.dumps(info), **arrays)


def load_study(path: str | Path) -> Study:
    """Read a file written by :func:`save_study` (the form of
    :func:`~zfkeras.experiments.architecture.run_study`, with ``command`` and ``commands``)."""
    with np.load(path) as z:
        info = json.loads(str(z["info"]))
        runs = {}
        for k, r in info.pop("runs").items():
            r = dict(r)
            arch, seed, seconds = r.pop("arch"), r.pop("seed"), r.pop("train_seconds")
            runs[k] = Run(arch, seed, seconds, z[f"{k}/conv1_kernel"], r)
    return Study(**info, runs=runs)


def summarize(study: Study, metrics=METRICS) -> Summary:
    """Mean and spread of every metric per architecture.

    Returns:
        a :class:`Summary`: per arch and metric, the :class:`Spread` over the seeds.
    """
    values: dict = {}
    for r in sorted(study.runs.values(), key=lambda r: (r.arch, r.seed)):
        for m in metrics:
            values.setdefault(r.arch, {}).setdefault(m, []).append(r.metrics[m])
    archs = {}
    for arch, per_arch in values.items():
        archs[arch] = {}
        for m, vs in per_arch.items():
            v = np.asarray(vs, np.float64)
            std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
            archs[arch][m] = Spread(vs, float(v.mean()), std, float(v.min()), float(v.max()))
    return Summary(tuple(metrics), archs)
