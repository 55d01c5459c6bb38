"""Ablation of ZFNet's layers and widths under one fixed training budget (paper Table 3).

The paper removed fully connected layers 6 and 7, two middle conv layers (3 and 4), or both, and
widened or narrowed layers, and compared ImageNet errors. Here every variant is trained with the
same small recipe (the synthetic set by default) and scored on the same test images.

Removing fc6 and fc7 also removes their dropout, so "without fc6, fc7" differs from the full
network in two ways; "without fc6, fc7 (dropout kept)" keeps one dropout layer before the
classifier and compares like with like. A run counts as converged only when its best
validation epoch is not its last (:func:`converged`).

Python: :func:`remove_layers`, :func:`build_variant`, :func:`run_ablation`, :func:`converged`.
Command line (writes the shipped table)::

    python -m zfkeras.experiments.ablation --out data/ablation-shapes.json
"""

from __future__ import annotations

from zfkeras._quiet import start_command

start_command(__name__)  # run as a command line: TensorFlow starts without its log lines

import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import numpy as np

from zfkeras import config, training
from zfkeras.experiments import cli
from zfkeras.experiments.variants import CONV34 as CONV34
from zfkeras.experiments.variants import FC as FC
from zfkeras.experiments.variants import VARIANTS as VARIANTS
from zfkeras.experiments.variants import Variant as Variant
from zfkeras.experiments.variants import build_variant as build_variant
from zfkeras.experiments.variants import converged as converged
from zfkeras.experiments.variants import remove_layers as remove_layers
from zfkeras.experiments.variants import train_variant as train_variant
from zfkeras.methods.checks import VERBOSE, Progress

MODULE = "zfkeras.experiments.ablation"  # its command line: python -m MODULE


@dataclass(frozen=True)
class Ablation(cli.Record):
    """The variants of one ablation (:func:`run_ablation`); its JSON record
    (:func:`zfkeras.experiments.cli.write_record`) holds the same fields.

    Attributes:
        recipe: the recipe, as a dict of its fields.
        train_images, test_images: the image counts.
        patience: as passed (None: a fixed budget).
        rows: one dict per variant: ``variant``, ``removed``, ``width``, ``fc_units`` and the
            fields of its :class:`Variant` that are set.
        command, keras: as in :class:`~zfkeras.experiments.cli.Record`.
    """

    recipe: dict
    train_images: int
    test_images: int
    patience: int | None
    rows: list


def run_ablation(
    recipe: training.Recipe,
    variants: Mapping[str, dict] = VARIANTS,
    data_dir: str | None = None,
    patience: int | None = None,
    *,
    verbose: int | str = VERBOSE,
    fit_verbose: int | str = 0,
) -> Ablation:
    """Train every variant with the same recipe and data; return an :class:`Ablation` whose
    ``rows`` are dicts (``variant``, ``removed``, ``width``, ``fc_units`` and the
    numbers of :func:`train_variant`). A variant's ``fc_units`` overrides the recipe's.
    ``patience`` trains each to convergence (see :func:`train_variant`;
    ``recipe.epochs`` is then the budget per variant). ``verbose``: the progress bar over the
    variants (``"auto"``: once the run looks longer than a few seconds, and never in CI logs;
    1 always; 0 never); ``fit_verbose``: Keras ``fit``'s verbosity per variant (2: a line per
    epoch, as the command line prints)."""
    xtr, ytr, xte, yte, names = training.load_dataset(recipe, data_dir)
    rows = []
    bar = Progress(len(variants), verbose=verbose, unit_name="variant")
    for k, (label, spec) in enumerate(variants.items()):
        rec = replace(recipe, fc_units=spec.get("fc_units", recipe.fc_units))
        model = build_variant(rec, len(names), spec.get("remove", ()), spec.get("width"))
        res = train_variant(model, recipe, xtr, ytr, xte, yte, patience, verbose=fit_verbose)
        rows.append(
            {
                "variant": label,
                "removed": list(spec.get("remove", ())),
                "width": spec.get("width", recipe.width),
                "fc_units": rec.fc_units,
            }
            | res.row()
        )
        bar.update(k + 1)
    return Ablation(
        recipe=asdict(recipe),
        train_images=int(len(xtr)),
        test_images=int(len(xte)),
        patience=patience,
        rows=rows,
    )


def load_ablation(path) -> Ablation:
    """An :class:`Ablation` from its JSON record (the shipped ``data/ablation-shapes.json``)."""
    return cli.read_record(Ablation, path)


def budget_recipe(converged: bool = False, **overrides) -> training.Recipe:
    """The small fixed budget of the shipped table (a tiny one in quick mode).

    ``converged=True``: the recipe of the table trained to convergence
    (``data/ablation-converged-shapes.json``): 64x64 shapes, 3,000 training images (10% of them
    the validation split), batches of 32 (84 steps an epoch) at lr 0.01, a budget of 15 epochs
    per variant (the schedule decays to zero over them; used with early stopping, patience 4)."""
    if converged:
        base = training.Recipe(
            dataset="shapes",
            epochs=config.pick(15, 2),
            image_size=64,
            lr=0.01,
            train_size=config.pick(3000, 128),
            test_size=config.pick(1000, 64),
            batch_size=32,
            seed=0,
        )
    else:
        base = training.Recipe(
            dataset="shapes",
            epochs=config.pick(8, 1),
            train_size=config.pick(6000, 128),
            test_size=config.pick(1000, 64),
            batch_size=config.pick(128, 64),
            seed=0,
        )
    return replace(base, **overrides)


def main(argv=None) -> int:
    p = cli.parser(MODULE, __doc__)
    p.add_argument("--out", default="data/ablation-shapes.json")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs per variant (with --patience: the most epochs per variant)",
    )
    p.add_argument("--train-size", type=int, default=None)
    p.add_argument("--test-size", type=int, default=None)
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument(
        "--patience",
        type=int,
        default=None,
        help="train to convergence: stop a variant when its validation accuracy "
        "(10%% of the training images) has not improved for this many epochs "
        "and keep its best epoch's weights",
    )
    p.add_argument(
        "--verbose", type=int, default=0, help="Keras fit verbosity (2: a line per epoch)"
    )
    args = p.parse_args(argv)
    over = {
        k: v
        for k, v in (
            ("epochs", args.epochs),
            ("train_size", args.train_size),
            ("test_size", args.test_size),
            ("image_size", args.image_size),
        )
        if v is not None
    }
    variants = dict(VARIANTS)
    if args.patience is not None:  # the paper also resized fc6-fc7 (2048 and 8192 for 4096)
        variants |= {"narrower fc (256)": {"fc_units": 256}, "wider fc (1024)": {"fc_units": 1024}}
    result = run_ablation(
        budget_recipe(args.patience is not None, **over),
        variants,
        patience=args.patience,
        verbose=0 if args.verbose else "auto",
        fit_verbose=args.verbose,
    )
    cli.write_record(result, args.out, MODULE, argv)
    recipe_epochs = result.recipe["epochs"]
    for row in result.rows:
        print(
            f"{row['variant']:34s} test {row['test_accuracy']:.3f}  params {row['params']:,}"
            f"  epochs {row.get('epochs', recipe_epochs)}  {row['seconds']:.0f} s"
        )
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
