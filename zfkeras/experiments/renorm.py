"""Dead first-layer filters with and without the filter renormalization (paper Fig. 6 b, c).

The paper saw dead filters in AlexNet's first layer (Fig. 6 b) and none in its 7x7/2 layer
(Fig. 6 c). Its networks renormalized every conv filter whose RMS exceeded 0.1 (section 3), a cap
that stops a filter from growing until one large update kills it; with the cap on (our recipe's
default) no dead filters can be expected. This module trains both first layers with and without
the cap, under one budget and a learning rate high enough for the cap to matter, and measures:

* :func:`dead_by_activity`: filters whose ReLU output is zero (``<= eps``) on at least
  ``fraction`` of all positions of all validation images;
* :func:`zfkeras.experiments.diagnostics.dead_filters`: filters whose weights collapsed (RMS
  below a fraction of the layer's largest).

Python: :func:`run_dead_filters`, :func:`dead_filter_report`. Command line (the shipped
``data/dead-filters-shapes.npz``)::

    python -m zfkeras.experiments.renorm --out data/dead-filters-shapes.npz
"""

from __future__ import annotations

from zfkeras._quiet import start_command

start_command(__name__)  # run as a command line: TensorFlow starts without its log lines

import json
import sys
from dataclasses import asdict, dataclass, fields, replace

import keras
import numpy as np

from zfkeras import config, training
from zfkeras import data as zdata
from zfkeras.experiments import cli
from zfkeras.experiments.conv1_activity import conv1_geometry as conv1_geometry
from zfkeras.experiments.conv1_activity import conv1_outputs as conv1_outputs
from zfkeras.experiments.conv1_activity import dead_by_activity as dead_by_activity
from zfkeras.experiments.conv1_activity import zero_fraction as zero_fraction
from zfkeras.experiments.diagnostics import dead_filters
from zfkeras.methods.checks import VERBOSE, Progress

MODULE = "zfkeras.experiments.renorm"  # its command line: python -m MODULE

RUNS = (("zfnet", True), ("zfnet", False), ("alexnet", True), ("alexnet", False))


def run_name(arch: str, renorm: bool) -> str:
    """``"zfnet, renorm"`` / ``"alexnet, no renorm"``: the key of a run."""
    return f"{arch}, {'renorm' if renorm else 'no renorm'}"


def dead_filter_recipe(**overrides) -> training.Recipe:
    """The shared budget of the four runs: 64x64 shapes, 2,000 images, 5 epochs of batches of
    32 (310 steps), lr 0.05 (tiny in quick mode)."""
    base = training.Recipe(
        dataset="shapes",
        image_size=64,
        lr=0.05,
        epochs=config.pick(5, 1),
        train_size=config.pick(2000, 64),
        test_size=config.pick(1000, 32),
        batch_size=32,
        seed=0,
    )
    return replace(base, **overrides)


@dataclass(frozen=True)
class ConvRun:
    """One training run's first layer and scores (:func:`train_run`).

    Attributes:
        kernel: conv1's kernel ``(kh, kw, 3, n)``; bias: its bias ``(n,)``.
        stride, pad: conv1's stride and padding.
        mean: the per-pixel mean the images were normalized with ``(H, W, 3)``.
        history: one dict per epoch (``loss``, ``accuracy``, ``val_accuracy``).
        test_accuracy: centre-crop accuracy (NaN if training diverged).
        seconds: the training time.
    """

    kernel: np.ndarray
    bias: np.ndarray
    stride: int
    pad: int
    mean: np.ndarray
    history: list
    test_accuracy: float
    seconds: float


@dataclass(frozen=True)
class DeadFilterRuns:
    """The runs of :func:`run_dead_filters` (or read back by :func:`load_runs`).

    Attributes:
        recipe: the shared recipe, as a dict of its fields.
        runs: dict run name (:func:`run_name`) -> :class:`ConvRun`.
        command: the command line that made the file (:func:`load_runs`; else None).
    """

    recipe: dict
    runs: dict
    command: str | None = None


@dataclass(frozen=True)
class DeadFilters:
    """Dead conv1 filters of one run (:func:`dead_filter_report`).

    Attributes:
        filters: the number of conv1 filters.
        dead_activity: filters zero on at least ``fraction`` of the positions (None: diverged).
        dead_norm: filters dead by weight norm (None: diverged).
        zero_fraction: per filter, the share of zero outputs, float ``(n,)`` (None: diverged).
        test_accuracy: the run's test accuracy.
    """

    filters: int
    dead_activity: int | None
    dead_norm: int | None
    zero_fraction: np.ndarray | None
    test_accuracy: float


@dataclass(frozen=True)
class DeadFilterReport:
    """:func:`dead_filter_report`'s result.

    Attributes:
        runs: dict run name -> :class:`DeadFilters`.
    """

    runs: dict


ARRAYS = ("kernel", "bias", "mean")  # stored as arrays in the .npz; the rest of a run as JSON


def train_run(
    recipe: training.Recipe, xtr, ytr, xte, yte, num_classes: int, *, verbose: int | str = VERBOSE
) -> ConvRun:
    """Train ``recipe``'s model; return a :class:`ConvRun`: its conv1 ``kernel``, ``bias``,
    ``stride``, ``pad``, the per-pixel ``mean``, the per-epoch ``history`` (loss, accuracy,
    val_accuracy), the ``test_accuracy`` (centre crop; NaN if diverged) and ``seconds``."""
    fitted = training.fit(
        recipe,
        xtr,
        ytr,
        (xte, yte),
        num_classes=num_classes,
        callbacks=[keras.callbacks.TerminateOnNaN()],
        verbose=verbose,
    )
    model, mean, hist, seconds = fitted.model, fitted.mean, fitted.history, fitted.seconds
    kernel, bias = (np.asarray(w) for w in model.get_layer("conv1").get_weights())
    finite = bool(np.isfinite(kernel).all() and np.isfinite(hist.history["loss"]).all())
    acc = training.evaluate(model, xte, yte, mean, recipe.crop_scale) if finite else float("nan")
    stride, pad = conv1_geometry(model)
    epochs = min(len(v) for v in hist.history.values())  # a diverged run stops mid-epoch
    history = [{k: round(float(v[e]), 4) for k, v in hist.history.items()} for e in range(epochs)]
    return ConvRun(kernel, bias, stride, pad, mean, history, round(acc, 4), round(seconds, 1))


def run_dead_filters(
    recipe: training.Recipe | None = None,
    runs=RUNS,
    *,
    verbose: int | str = VERBOSE,
    fit_verbose: int | str = 0,
) -> DeadFilterRuns:
    """Train every ``(arch, renorm)`` of ``runs`` with the same recipe and data.

    ``verbose``: the progress bar over the runs (``"auto"``, 0 or 1); ``fit_verbose``: Keras
    ``fit``'s verbosity per run.

    Returns:
        :class:`DeadFilterRuns`: the shared recipe as a dict, and per run name
        (:func:`run_name`) the :class:`ConvRun` of :func:`train_run`.
    """
    recipe = recipe or dead_filter_recipe()
    xtr, ytr, xte, yte, names = training.load_dataset(recipe)
    out = {}
    bar = Progress(len(runs), verbose=verbose, unit_name="run")
    for k, (arch, renorm) in enumerate(runs):
        rec = replace(recipe, arch=arch, renorm=renorm)
        out[run_name(arch, renorm)] = train_run(
            rec, xtr, ytr, xte, yte, len(names), verbose=fit_verbose
        )
        bar.update(k + 1)
    return DeadFilterRuns(recipe=asdict(recipe), runs=out)


def save_runs(result: DeadFilterRuns, path, command: str) -> None:
    """Write :func:`run_dead_filters`' result as a small ``.npz`` (per run: ``<key>/kernel``,
    ``bias``, ``mean``; the rest as JSON in ``info``)."""
    arrays, info = (
        {},
        {"recipe": result.recipe, "command": command, "keras": keras.__version__, "runs": {}},
    )
    for key, run in result.runs.items():
        for a in ARRAYS:
            arrays[f"{key}/{a}"] = np.asarray(getattr(run, a), np.float32)
        info["runs"][key] = {
            f.name: getattr(run, f.name) for f in fields(ConvRun) if f.name not in ARRAYS
        }
    np.savez_compressed(path, info=json.dumps(info), **arrays)


def load_runs(path) -> DeadFilterRuns:
    """Read a file written by :func:`save_runs` back into the form of :func:`run_dead_filters`
    (with ``command``)."""
    with np.load(path) as z:
        info = json.loads(str(z["info"]))
        runs = {
            key: ConvRun(**run, **{a: z[f"{key}/{a}"] for a in ARRAYS})
            for key, run in info["runs"].items()
        }
    return DeadFilterRuns(recipe=info["recipe"], runs=runs, command=info["command"])


def dead_filter_report(
    runs: DeadFilterRuns,
    images,
    eps: float = 1e-6,
    fraction: float = 0.99,
    rel_threshold: float = 0.1,
) -> DeadFilterReport:
    """For each run: conv1 filters dead by activity on ``images`` (uint8 validation images at
    the runs' size, fed through the evaluation view with the run's mean) and by weight norm.

    Returns:
        :class:`DeadFilterReport`: per run name, its :class:`DeadFilters`.
    """
    rec = runs.recipe
    out = {}
    for key, run in runs.runs.items():
        x = zdata.centre_crop(
            zdata.normalize(np.asarray(images), run.mean), rec["image_size"], rec["crop_scale"]
        )
        filters = int(run.kernel.shape[-1])
        if not np.isfinite(run.kernel).all():
            out[key] = DeadFilters(filters, None, None, None, run.test_accuracy)
            continue
        zf = zero_fraction(run.kernel, run.bias, x, run.stride, run.pad, eps)
        out[key] = DeadFilters(
            filters=filters,
            dead_activity=int(np.sum(zf >= fraction)),
            dead_norm=int(dead_filters(run.kernel, rel_threshold).sum()),
            zero_fraction=zf,
            test_accuracy=run.test_accuracy,
        )
    return DeadFilterReport(runs=out)


def main(argv=None) -> int:
    p = cli.parser(MODULE, __doc__)
    p.add_argument("--out", default="data/dead-filters-shapes.npz")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    args = p.parse_args(argv)
    over = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr)) if v is not None}
    result = run_dead_filters(dead_filter_recipe(**over))
    save_runs(result, args.out, cli.command_line(MODULE, argv))
    for key, run in result.runs.items():
        print(f"{key:20s} test {run.test_accuracy:.3f}  {run.seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
