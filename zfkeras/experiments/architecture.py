"""Architecture selection over seeds: ZFNet's 7x7/2 first layer against AlexNet's 11x11/4
(paper section 4.1, Fig. 6).

The paper compared one AlexNet with one ZFNet by eye. One run per architecture cannot tell a
difference between architectures from the difference between two random initializations, so
this module trains both first layers with the course's default recipe for several seeds, under
one budget, and measures per run:

* ``test_accuracy``: centre-crop top-1 accuracy on a fixed, class-balanced set of CIFAR-10 test
  images (the same images for every run);
* ``concentration``: :func:`~zfkeras.experiments.diagnostics.spectral_concentration` of conv1;
* ``middle_band``: conv1's mean share of spectral energy in the middle frequency band
  (:func:`~zfkeras.experiments.diagnostics.frequency_bands`, column 1), what the paper saw
  missing in AlexNet's first layer (Fig. 6 b);
* ``conv2_high``: the mean high-band share of the deconvnet projections
  (:class:`zfkeras.Deconvnet`) of the strongest conv2 activation of a fixed set of test images,
  on a 96x96 FFT. It is not an aliasing measure that treats the two strides alike (an equal
  grid scores 3-4x higher at period 2 than at period 4); runs measured since also record:
* ``conv2_grid``: :func:`~zfkeras.experiments.diagnostics.grid_energy` of those projections at
  the period of conv1's stride (2 for ZFNet, 4 for AlexNet), the grid of Fig. 6 d;
* ``oriented``: conv1's mean :func:`~zfkeras.experiments.diagnostics.oriented_energy` (edges and
  gratings, not ramps or blobs);
* ``middle_band_width``: conv1's mean middle-band share in cycles per filter width
  (:func:`~zfkeras.experiments.diagnostics.relative_bands`), the same for a pattern drawn at
  7x7 or 11x11.

The budget (:func:`budget`): 10,000 CIFAR-10 training images (the subset drawn with the run's
seed), 8 epochs at 96x96, the rest of the recipe at its default; about 2-3 minutes per run on
two CPU cores. Each run trains through :func:`zfkeras.training.train` in its own folder
``run_dir/<arch>-seed<seed>``: a stopped command resumes from the last completed epoch, and a
finished run is loaded, not trained again.

Python: :func:`run_study`, :func:`load_study`, :func:`summarize`,
:func:`verdict`. Command line (the shipped ``data/architecture-cifar10.npz`` lists its own)::

    python -m zfkeras.experiments.architecture --out data/architecture-cifar10.npz
    # more seeds, without training the ones already in the file:
    python -m zfkeras.experiments.architecture --seeds 3 --add-to data/architecture-cifar10.npz \
        --out data/architecture-cifar10.npz
"""

from __future__ import annotations

from zfkeras._quiet import start_command

start_command(__name__)  # run as a command line: TensorFlow starts without its log lines

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import keras
import numpy as np

from zfkeras import config, training
from zfkeras import data as zdata
from zfkeras.experiments import cli, diagnostics
from zfkeras.methods.checks import SEED, VERBOSE

MODULE = "zfkeras.experiments.architecture"  # its command line: python -m MODULE

ARCHS = ("zfnet", "alexnet")
SEEDS = (0, 1, 2)
METRICS = ("test_accuracy", "concentration", "middle_band", "conv2_high")


@dataclass(frozen=True)
class Measures:
    """The numbers of one run (:func:`measure`; see the module docstring)."""

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
    """Every run of a study (:func:`run_study`, :func:`load_study`).

    Attributes:
        recipe: the shared budget, as a dict of its fields.
        eval_size, probes: the evaluation images and those projected from conv2.
        runs: dict run name (:func:`run_name`) -> :class:`Run`.
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


def budget(**overrides) -> training.Recipe:
    """The shared recipe of every run (``arch`` and ``seed`` are set per run): the default
    recipe on 10,000 CIFAR-10 training images for 8 epochs, validating on 1,000 (tiny in quick
    mode: 128 images, 1 epoch). ``overrides`` replace any field of the recipe."""
    base = training.Recipe(
        dataset="cifar10",
        epochs=config.pick(8, 1),
        train_size=config.pick(10000, 128),
        test_size=config.pick(1000, 64),
    )
    return replace(base, **overrides)


def run_name(arch: str, *, seed: int = SEED) -> str:
    """``"zfnet-seed0"``: the key (and folder name) of one run."""
    return f"{arch}-seed{seed}"


def train_or_load(
    recipe: training.Recipe,
    out_dir: Path,
    data_dir: str | None = None,
    *,
    verbose: int | str = VERBOSE,
) -> training.Trained:
    """Train ``recipe`` in ``out_dir`` (resuming a stopped run), or load the finished run there
    when its ``model.json`` holds the same recipe. Returns a :class:`zfkeras.training.Trained`
    (the model and the bundle's info)."""
    out_dir = Path(out_dir)
    info_path = out_dir / "model.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        if training.Recipe.from_dict(info["recipe"]) == recipe:
            return training.Trained(
                keras.saving.load_model(out_dir / "model.keras", compile=False), info
            )
    command = "python -m zfkeras.experiments.architecture"
    return training.train(recipe, out_dir, data_dir, verbose=verbose, command=command)


def evaluation_images(size: int, data_dir: str | None = None):
    """The fixed evaluation set: the first ``size // 10`` test images of every CIFAR-10 class,
    as uint8 ``(N, 32, 32, 3)`` images and int labels ``(N,)``."""
    return zdata.cifar10("test", data_dir, limit=max(1, size // 10))


def measure(model, images, labels, mean, recipe: training.Recipe, probes: int) -> Measures:
    """The numbers of one run (see the module docstring); ``probes`` is how many of
    ``images`` (the first ones) are projected down from conv2."""
    from zfkeras.methods.deconvnet import Deconvnet

    kernel = model.get_layer("conv1").kernel.numpy()
    x = zdata.centre_crop(
        zdata.normalize(images[:probes], mean), recipe.image_size, recipe.crop_scale
    ).numpy()
    proj = Deconvnet(model).project(x, "conv2")
    stride = int(model.get_layer("conv1").strides[0])
    return Measures(
        test_accuracy=training.evaluate(model, images, labels, mean, recipe.crop_scale),
        concentration=diagnostics.spectral_concentration(kernel),
        middle_band=float(diagnostics.frequency_bands(kernel)[:, 1].mean()),
        conv2_high=float(diagnostics.frequency_bands(proj, size=96)[:, 2].mean()),
        conv2_grid=float(diagnostics.grid_energy(proj, stride).mean()),
        oriented=float(diagnostics.oriented_energy(kernel).mean()),
        middle_band_width=float(diagnostics.relative_bands(kernel)[:, 1].mean()),
    )


def run_study(
    recipe: training.Recipe | None = None,
    run_dir: str | Path = "runs/architecture",
    archs=ARCHS,
    seeds=SEEDS,
    eval_size: int | None = None,
    probes: int | None = None,
    data_dir: str | None = None,
    *,
    verbose: int | str = VERBOSE,
) -> Study:
    """Train (or load) every ``(arch, seed)`` run and measure it.

    Args:
        recipe: the shared budget (default :func:`budget`).
        run_dir: folder of the run folders ``<arch>-seed<seed>``.
        eval_size: evaluation images (default 2,000; 40 in quick mode), class-balanced.
        probes: evaluation images projected from conv2 (default 64; 8 in quick mode).

    Returns:
        a :class:`Study` (its ``command`` None), one :class:`Run` per ``(arch, seed)``.
    """
    recipe = recipe or budget()
    eval_size = eval_size or config.pick(2000, 40)
    probes = probes or config.pick(64, 8)
    images, labels = evaluation_images(eval_size, data_dir)
    runs = {}
    for arch in archs:
        for seed in seeds:
            rec = replace(recipe, arch=arch, seed=int(seed))
            name = run_name(arch, seed=int(seed))
            run = train_or_load(rec, Path(run_dir) / name, data_dir, verbose=verbose)
            model, info = run.model, run.info
            mean = np.asarray(info["mean"], np.float32)
            runs[name] = Run(
                arch,
                int(seed),
                info["train_seconds"],
                model.get_layer("conv1").kernel.numpy(),
                asdict(measure(model, images, labels, mean, rec, probes)),
            )
            print(f"{name}: " + ", ".join(f"{k} {runs[name].metrics[k]:.3f}" for k in METRICS))
    return Study(asdict(recipe), len(images), probes, runs)


def save_study(study: Study, path: str | Path, command: str) -> None:
    """Write :func:`run_study`'s result as a small ``.npz``: ``<run>/conv1_kernel`` (float32)
    per run, the rest (recipe, numbers) as JSON in ``info``, with ``commands`` (those of a
    merged study, then ``command``) and ``command`` (all of them joined by ``&&``)."""
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
    """Read a file written by :func:`save_study` (the form of :func:`run_study`, with
    ``command`` and ``commands``)."""
    with np.load(path) as z:
        info = json.loads(str(z["info"]))
        runs = {}
        for k, r in info.pop("runs").items():
            r = dict(r)
            arch, seed, seconds = r.pop("arch"), r.pop("seed"), r.pop("train_seconds")
            runs[k] = Run(arch, seed, seconds, z[f"{k}/conv1_kernel"], r)
    return Study(**info, runs=runs)


def _merge_studies(first: Study, second: Study) -> Study:
    """One study from two with the same budget and measurements: the runs of both, and the
    commands of both (``"commands"``: every command that wrote a part, in order). This is how
    seeds are added to a shipped study without training its runs again.

    Raises:
        ValueError: the studies differ in recipe, ``eval_size`` or ``probes`` (the message
            names the fields), or both hold a run of the same name.
    """

    def recipe(study):  # a field added since a study was written takes its default
        return asdict(training.Recipe.from_dict(study.recipe))

    differ = [k for k in ("eval_size", "probes") if getattr(first, k) != getattr(second, k)]
    if recipe(first) != recipe(second):
        differ.insert(0, "recipe")
    if differ:
        raise ValueError(f"the studies were not measured alike: they differ in {differ}")
    both = sorted(set(first.runs) & set(second.runs))
    if both:
        raise ValueError(f"both studies hold the runs {both}; merge studies of different seeds")
    commands = [
        c
        for study in (first, second)
        for c in (study.commands or ([study.command] if study.command is not None else []))
    ]
    runs = {**first.runs, **second.runs}
    return replace(second, runs=runs, command=None, commands=commands)


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


def verdict(summary: Summary, metric: str, higher: str, lower: str) -> str:
    """Does ``higher`` score above ``lower`` on ``metric`` beyond the seed spread?

    ``"holds"`` when every seed of ``higher`` scores above every seed of ``lower`` (the ranges
    do not overlap), ``"reversed"`` when every seed scores below, and ``"within the seed
    spread"`` otherwise.

    Raises:
        ValueError: an architecture or metric not in ``summary``.
    """
    archs = summary.archs
    for arch in (higher, lower):
        if arch not in archs or metric not in archs[arch]:
            raise ValueError(f"no {metric!r} for arch {arch!r} in summary ({list(archs)})")
    h, lo = archs[higher][metric], archs[lower][metric]
    if h.min > lo.max:
        return "holds"
    if h.max < lo.min:
        return "reversed"
    return "within the seed spread"


def main(argv=None) -> int:
    p = cli.parser(MODULE, __doc__)
    p.add_argument("--out", default="data/architecture-cifar10.npz")
    p.add_argument("--run-dir", default="runs/architecture")
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--train-size", type=int, default=None)
    p.add_argument("--verbose", type=int, default=2)
    p.add_argument(
        "--add-to",
        default=None,
        metavar="PATH",
        help="A study written by this command: train only --seeds and write the union of both "
        "studies to --out (the file lists both commands).",
    )
    args = p.parse_args(argv)
    over = {k: v for k, v in (("epochs", args.epochs), ("train_size", args.train_size)) if v}
    study = run_study(budget(**over), args.run_dir, seeds=args.seeds, verbose=args.verbose)
    if args.add_to:
        study = _merge_studies(load_study(args.add_to), study)
    save_study(study, args.out, cli.command_line(MODULE, argv))
    for arch, s in summarize(study).archs.items():
        print(arch, ", ".join(f"{m} {v.mean:.3f} ± {v.std:.3f}" for m, v in s.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
