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

Python: :func:`run_study`, :func:`load_study`, :func:`summarize` (a verdict over the seeds:
:func:`zfkeras.evaluation.verdict.compare_seeds`). Command line (the shipped
``data/architecture-cifar10.npz`` lists its own)::

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
from dataclasses import asdict, replace
from pathlib import Path

import keras
import numpy as np

from zfkeras import config, training
from zfkeras import data as zdata
from zfkeras.experiments import cli, diagnostics
from zfkeras.experiments.seed_study import METRICS as METRICS
from zfkeras.experiments.seed_study import Measures as Measures
from zfkeras.experiments.seed_study import Run as Run
from zfkeras.experiments.seed_study import Spread as Spread
from zfkeras.experiments.seed_study import Study as Study
from zfkeras.experiments.seed_study import Summary as Summary
from zfkeras.experiments.seed_study import load_study as load_study
from zfkeras.experiments.seed_study import save_study as save_study
from zfkeras.experiments.seed_study import summarize as summarize
from zfkeras.methods.checks import SEED, VERBOSE

MODULE = "zfkeras.experiments.architecture"  # its command line: python -m MODULE

ARCHS = ("zfnet", "alexnet")
SEEDS = (0, 1, 2)


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
