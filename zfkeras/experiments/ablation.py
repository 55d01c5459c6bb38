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
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import keras
import numpy as np

from zfkeras import config, models, training
from zfkeras.experiments import cli
from zfkeras.methods.checks import VERBOSE, Progress

MODULE = "zfkeras.experiments.ablation"  # its command line: python -m MODULE

FC = ("fc6", "drop6", "fc7", "drop7")
CONV34 = ("conv3", "conv4")
VARIANTS: dict[str, dict] = {
    "ZFNet (conv width 0.5, fc 512)": {},
    "without fc6, fc7": {"remove": FC},
    "without conv3, conv4": {"remove": CONV34},
    "without fc6, fc7, conv3, conv4": {"remove": FC + CONV34},
    "wider convs (width 0.75)": {"width": 0.75},
    "narrower convs (width 0.25)": {"width": 0.25},
    # removing fc6-fc7 also removes their dropout: this variant keeps one dropout layer (drop6,
    # rate 0.5) between the flattened pool5 and the classifier, like for like with the full net
    "without fc6, fc7 (dropout kept)": {"remove": ("fc6", "fc7", "drop7")},
}


def converged(curve) -> bool:
    """Whether a run reached its best validation accuracy before its last epoch.

    A run whose best epoch is its last was still improving when it stopped (the budget ended
    first): it is not shown converged. Ties count for the earlier epoch, so a curve that
    levels off (``[.., 0.91, 0.91]``) is converged.

    Args:
        curve: the validation accuracy after every epoch (``train_variant``'s ``"curve"``).

    Raises:
        ValueError: fewer than 2 epochs, or a non-finite value.
    """
    c = np.asarray(curve, np.float64)
    if c.ndim != 1 or len(c) < 2 or not np.all(np.isfinite(c)):
        raise ValueError(f"curve must hold at least 2 finite accuracies, got {curve!r}")
    return bool(np.argmax(c) < len(c) - 1)


def remove_layers(model: keras.Model, remove: Sequence[str]) -> keras.Model:
    """A new chain model with the layers of ``model`` except ``remove``, each re-created from its
    config (fresh weights; the sizes of the layers after a removed one adapt).

    Raises:
        ValueError: a name in ``remove`` is not a layer of the model, or the model is not a
            chain (a layer with several inputs).
    """
    names = [lay.name for lay in model.layers]
    unknown = [n for n in remove if n not in names]
    if unknown:
        raise ValueError(f"remove must name layers of the model ({names}), got {unknown}")
    x = inputs = keras.Input(model.inputs[0].shape[1:], name="image")
    for lay in model.layers:
        if isinstance(lay, keras.layers.InputLayer) or lay.name in remove:
            continue
        if isinstance(lay.input, (list, tuple)):
            raise ValueError(f"model must be a chain; layer {lay.name!r} has several inputs")
        x = lay.__class__.from_config(lay.get_config())(x)
    return keras.Model(inputs, x, name=model.name + "_ablated")


def build_variant(
    recipe: training.Recipe,
    num_classes: int,
    remove: Sequence[str] = (),
    width: float | None = None,
) -> keras.Model:
    """The recipe's ZFNet, optionally with another conv ``width`` and without ``remove``."""
    model = models.zfnet(
        (recipe.image_size, recipe.image_size, 3),
        num_classes,
        width=recipe.width if width is None else width,
        fc_units=recipe.fc_units,
        dropout=recipe.dropout,
    )
    return remove_layers(model, remove) if remove else model


@dataclass(frozen=True)
class Variant:
    """One trained variant (:func:`train_variant`).

    Attributes:
        test_accuracy: centre-crop accuracy on the test images.
        train_accuracy: the last epoch's (augmented) training accuracy.
        params: the model's parameter count.
        seconds: the training time.
        epochs, best_epoch, val_accuracy, curve, train_curve: with ``patience`` only (else
            None): epochs trained, the best epoch (1-based), its validation accuracy, the
            validation and training accuracy after every epoch.
    """

    test_accuracy: float
    train_accuracy: float
    params: int
    seconds: float
    epochs: int | None = None
    best_epoch: int | None = None
    val_accuracy: float | None = None
    curve: list | None = None
    train_curve: list | None = None

    def row(self) -> dict:
        """The fields that are set, as the JSON record's row holds them."""
        return {k: v for k, v in asdict(self).items() if v is not None}


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


def train_variant(
    model: keras.Model,
    recipe: training.Recipe,
    xtr,
    ytr,
    xte,
    yte,
    patience: int | None = None,
    val_fraction: float = 0.1,
    *,
    verbose: int | str = VERBOSE,
) -> Variant:
    """Train ``model`` with ``recipe`` (SGD, schedule, augmentation of :mod:`zfkeras.training`)
    and return a :class:`Variant`: ``test_accuracy`` (centre crop), ``train_accuracy`` (last
    epoch, augmented), ``params`` and ``seconds``.

    With ``patience`` (training to convergence, paper Table 3 compares converged networks):
    ``val_fraction`` of the training images are held out as a validation split, training stops
    when the validation accuracy has not improved for ``patience`` epochs (at most
    ``recipe.epochs``, the budget, over which the learning-rate schedule runs), and the weights of
    the best epoch are restored (:class:`keras.callbacks.EarlyStopping`). The result then also
    holds ``epochs`` (epochs trained), ``best_epoch`` (1-based), ``val_accuracy`` (its
    validation accuracy), ``curve`` (the validation accuracy after every epoch) and
    ``train_curve`` (the training accuracy after every epoch).

    Raises:
        ValueError: ``patience`` is not a positive int or ``val_fraction`` not in (0, 0.5].
    """
    callbacks = []
    if patience is not None:
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive int or None, got {patience!r}")
        if not 0 < val_fraction <= 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5], got {val_fraction!r}")
        order = np.random.default_rng(recipe.seed).permutation(len(xtr))
        n_val = max(1, int(round(val_fraction * len(xtr))))
        xval, yval = xtr[order[:n_val]], ytr[order[:n_val]]
        xtr, ytr = xtr[order[n_val:]], ytr[order[n_val:]]
        callbacks = [
            keras.callbacks.EarlyStopping(
                "val_accuracy", patience=patience, mode="max", restore_best_weights=True
            )
        ]
    fitted = training.fit(
        recipe,
        xtr,
        ytr,
        (xval, yval) if patience is not None else None,
        initial_model=model,
        callbacks=callbacks,
        verbose=verbose,
    )
    mean, hist, seconds = fitted.mean, fitted.history, fitted.seconds
    out = dict(
        test_accuracy=round(training.evaluate(model, xte, yte, mean, recipe.crop_scale), 4),
        train_accuracy=round(float(hist.history["accuracy"][-1]), 4),
        params=int(model.count_params()),
        seconds=round(seconds, 1),
    )
    if patience is not None:
        curve = [round(float(v), 4) for v in hist.history["val_accuracy"]]
        best = int(np.argmax(curve))
        out |= dict(
            epochs=len(curve),
            best_epoch=best + 1,
            val_accuracy=curve[best],
            curve=curve,
            train_curve=[round(float(v), 4) for v in hist.history["accuracy"]],
        )
    return Variant(**out)


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
