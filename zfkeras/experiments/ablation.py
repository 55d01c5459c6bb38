"""Ablation of ZFNet's layers and widths under one fixed training budget (paper Table 3).

The paper removed fully connected layers 6 and 7, two middle conv layers (3 and 4), or both, and
widened or narrowed layers, and compared ImageNet errors. Here every variant is trained with the
same small recipe (the synthetic set by default) and scored on the same test images.

Python: :func:`remove_layers`, :func:`build_variant`, :func:`run_ablation`.
Command line (writes the shipped table)::

    python -m zfkeras.ablation --out data/ablation-shapes.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace

import keras
import numpy as np

from zfkeras import config, models, training
from zfkeras import data as zdata
from zfkeras.methods.checks import quiet_retracing

FC = ("fc6", "drop6", "fc7", "drop7")
CONV34 = ("conv3", "conv4")
VARIANTS: dict[str, dict] = {
    "ZFNet (conv width 0.5, fc 512)": {},
    "without fc6, fc7": {"remove": FC},
    "without conv3, conv4": {"remove": CONV34},
    "without fc6, fc7, conv3, conv4": {"remove": FC + CONV34},
    "wider convs (width 0.75)": {"width": 0.75},
    "narrower convs (width 0.25)": {"width": 0.25},
}


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


def build_variant(recipe: training.Recipe, num_classes: int, remove: Sequence[str] = (),
                  width: float | None = None) -> keras.Model:
    """The recipe's ZFNet, optionally with another conv ``width`` and without ``remove``."""
    model = models.zfnet((recipe.image_size, recipe.image_size, 3), num_classes,
                         width=recipe.width if width is None else width,
                         fc_units=recipe.fc_units, dropout=recipe.dropout)
    return remove_layers(model, remove) if remove else model


def train_variant(model: keras.Model, recipe: training.Recipe, xtr, ytr, xte, yte,
                  verbose: int = 0) -> dict:
    """Train ``model`` with ``recipe`` (SGD, schedule, augmentation of :mod:`zfkeras.training`)
    and return ``test_accuracy`` (centre crop), ``train_accuracy`` (last epoch, augmented),
    ``params`` and ``seconds``."""
    keras.utils.set_random_seed(recipe.seed)
    mean = zdata.per_pixel_mean(xtr)
    train_ds, test_ds = training.make_datasets(recipe, xtr, ytr, xte, yte, mean)
    training.compile_model(model, recipe, training.steps_for(len(xtr), recipe.batch_size))
    t0 = time.time()
    hist = model.fit(train_ds, epochs=recipe.epochs, verbose=verbose)
    seconds = time.time() - t0
    return {"test_accuracy": round(training.evaluate(model, xte, yte, mean, recipe.crop_scale), 4),
            "train_accuracy": round(float(hist.history["accuracy"][-1]), 4),
            "params": int(model.count_params()), "seconds": round(seconds, 1)}


def run_ablation(recipe: training.Recipe, variants: Mapping[str, dict] = VARIANTS,
                 verbose: int = 0, data_dir: str | None = None) -> dict:
    """Train every variant with the same recipe and data; return ``{"recipe", "rows"}`` where
    ``rows`` is a list of dicts (``variant``, ``removed``, ``width`` and the numbers of
    :func:`train_variant`)."""
    xtr, ytr, xte, yte, names = training.load_dataset(recipe, data_dir)
    rows = []
    bar = keras.utils.Progbar(len(variants), verbose=1 if verbose == 0 else 0)
    for k, (label, spec) in enumerate(variants.items()):
        model = build_variant(recipe, len(names), spec.get("remove", ()), spec.get("width"))
        with quiet_retracing():
            res = train_variant(model, recipe, xtr, ytr, xte, yte, verbose)
        rows.append({"variant": label, "removed": list(spec.get("remove", ())),
                     "width": spec.get("width", recipe.width)} | res)
        bar.update(k + 1)
    return {"recipe": asdict(recipe), "train_images": int(len(xtr)),
            "test_images": int(len(xte)), "rows": rows}


def budget_recipe(**overrides) -> training.Recipe:
    """The small fixed budget of the shipped table (a tiny one in quick mode)."""
    base = training.Recipe(dataset="shapes", epochs=config.pick(8, 1),
                           train_size=config.pick(6000, 128), test_size=config.pick(1000, 64),
                           batch_size=config.pick(128, 64), seed=0)
    return replace(base, **overrides)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m zfkeras.ablation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="data/ablation-shapes.json")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--train-size", type=int, default=None)
    p.add_argument("--test-size", type=int, default=None)
    args = p.parse_args(argv)
    over = {k: v for k, v in (("epochs", args.epochs), ("train_size", args.train_size),
                              ("test_size", args.test_size)) if v is not None}
    result = run_ablation(budget_recipe(**over))
    result["command"] = "python -m zfkeras.ablation " + " ".join(sys.argv[1:] if argv is None
                                                                  else argv)
    result["keras"] = keras.__version__
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    for row in result["rows"]:
        print(f"{row['variant']:34s} test {row['test_accuracy']:.3f}  params {row['params']:,}"
              f"  {row['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
