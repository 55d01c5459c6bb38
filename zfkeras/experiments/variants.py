"""The network variants of the ablation (paper Table 3), one at a time: ZFNet without some of
its layers (:func:`remove_layers`) or with another conv width (:func:`build_variant`), the
table's variants (:data:`VARIANTS`), one variant trained (:func:`train_variant`, a
:class:`Variant`) and whether its run converged (:func:`converged`); used by
:mod:`zfkeras.experiments.ablation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import keras
import numpy as np

from zfkeras import models, training
from zfkeras.methods.checks import VERBOSE

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
