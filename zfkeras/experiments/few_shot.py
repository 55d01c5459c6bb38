"""Few-shot transfer of a trained network's features (paper section 5.2, Tables 4-6).

The recipe that every course teaches: keep a trained network's layers 1-7 frozen and train only
a new softmax on a new task with few labelled images per class (:func:`few_shot_indices`,
:func:`transfer_model`), then fine-tune the top layers with a small learning rate
(:func:`unfreeze_top`); compare with the same architecture trained from scratch
(:func:`seeded_weights`). :func:`few_shot_transfer` does the three for one number of images per
class, :func:`generalization` for several, from a shipped model to the synthetic shapes
(command line: ``python -m zfkeras.experiments.probes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import keras
import numpy as np
import tensorflow as tf

from zfkeras.evaluation.faithfulness import reinitialize
from zfkeras.experiments import cli
from zfkeras.methods import checks
from zfkeras.methods.cache import all_layers
from zfkeras.methods.checks import SEED


@dataclass(frozen=True)
class FewShot:
    """One few-shot transfer (:func:`few_shot_transfer`): test accuracies of three classifiers.

    Attributes:
        per_class: the labelled images per class.
        frozen: frozen layers 1-7 and a new softmax.
        fine_tuned: then the top layers fine-tuned.
        scratch: the same architecture trained from random weights.
    """

    per_class: int
    frozen: float
    fine_tuned: float
    scratch: float


@dataclass(frozen=True)
class Generalization(cli.Record):
    """Few-shot transfer from a shipped model to the shapes (:func:`generalization`); its JSON
    record (:func:`zfkeras.experiments.cli.write_record`) holds the same fields.

    Attributes:
        source: the shipped model's name; target: the target task, in words.
        class_names: the target classes; test_images: the target test images.
        epochs, fine_tune_epochs: as passed.
        rows: one :class:`FewShot` per number of images per class.
        command, keras: as in :class:`~zfkeras.experiments.cli.Record`.
    """

    source: str
    target: str
    class_names: list
    test_images: int
    epochs: int
    fine_tune_epochs: int
    rows: list


def _check_layers(model: keras.Model, layers: Sequence[str]) -> None:
    """Layers of ``model`` itself (these functions copy and rebuild it)."""
    if isinstance(layers, str) or not isinstance(layers, Sequence):
        raise TypeError(
            f"layers must be a sequence of layer names, got {type(layers).__name__} {layers!r}"
        )
    if not layers:
        raise ValueError(f"layers must name at least one layer, got {layers!r}")
    for n in layers:
        checks.top_level_layer(model, n, "layers")


def few_shot_indices(labels, per_class: int, *, seed: int = SEED) -> np.ndarray:
    """Indices of ``per_class`` images of every class, drawn at random (sorted).

    Raises:
        ValueError: a class has fewer than ``per_class`` images.
    """
    labels = np.asarray(labels)
    if not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"per_class must be a positive int, got {per_class!r}")
    rng = np.random.default_rng(seed)
    out = []
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        if len(idx) < per_class:
            raise ValueError(f"class {k} has {len(idx)} images, fewer than per_class={per_class}")
        out.append(rng.choice(idx, per_class, replace=False))
    return np.sort(np.concatenate(out))


def transfer_model(
    model: keras.Model, num_classes: int, layer: str = "fc7", *, seed: int = SEED
) -> keras.Model:
    """Paper section 5.2: a copy of ``model``'s layers up to ``layer`` (same weights, frozen,
    in a sub-model named ``features``) and a new softmax ``new_predictions`` with
    ``num_classes`` units on top. ``model`` itself is not touched (fine-tuning the copy leaves
    it as it was)."""
    checks.check_model(model)
    checks.top_level_layer(model, layer)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    base = keras.Model(copy.inputs[0], copy.get_layer(layer).output, name="features")
    base.trainable = False
    inputs = keras.Input(model.inputs[0].shape[1:], name="image")
    head = keras.layers.Dense(
        num_classes,
        activation="softmax",
        name="new_predictions",
        kernel_initializer=keras.initializers.GlorotUniform(seed),
    )
    return keras.Model(inputs, head(base(inputs, training=False)), name="transfer")


def unfreeze_top(transfer: keras.Model, layers: Sequence[str] = ("fc6", "fc7")) -> None:
    """Make the named layers of the frozen feature extractor trainable again (fine-tuning);
    every other layer stays frozen. Recompile the model afterwards."""
    base = transfer.get_layer("features")
    _check_layers(base, layers)
    base.trainable = True
    for lay in base.layers:
        lay.trainable = lay.name in layers


def seeded_weights(model: keras.Model, *, seed: int = SEED) -> None:
    """Draw every layer's weights again from its own initializers, layer ``j`` seeded by
    ``seed + j`` (:func:`zfkeras.evaluation.faithfulness.reinitialize`): a reproducible fresh
    network without reseeding the global random generators."""
    layers = [lay for lay in all_layers(model) if not isinstance(lay, keras.Model)]
    for j, lay in enumerate(layers):
        reinitialize(lay, seed=seed + j)


def _fit(model: keras.Model, x, y, lr: float, epochs: int, seed: int, batch_size: int = 64):
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy")
    data = (
        tf.data.Dataset.from_tensor_slices((np.asarray(x, np.float32), np.asarray(y)))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    model.fit(data, epochs=epochs, verbose=0)


def _accuracy(model: keras.Model, x, y) -> float:
    return float(np.mean(model.predict(x, batch_size=256, verbose=0).argmax(1) == y))


def few_shot_transfer(
    model: keras.Model,
    pool_images,
    pool_labels,
    x_test,
    y_test,
    per_class: int,
    epochs: int = 100,
    fine_tune_epochs: int = 50,
    fine_tune_layers: Sequence[str] = ("fc6", "fc7"),
    scratch_builder=None,
    *,
    seed: int = SEED,
) -> FewShot:
    """Paper Tables 4-6 for one number of labelled images per class.

    Three classifiers for the new task, all scored on ``(x_test, y_test)``:

    * ``frozen``: ``model``'s layers 1-7 frozen, a new softmax trained (Adam 1e-3, ``epochs``);
    * ``fine_tuned``: then ``fine_tune_layers`` unfrozen and trained on (Adam 1e-4,
      ``fine_tune_epochs``);
    * ``scratch``: the same architecture from random weights, trained on the same images for
      ``epochs + fine_tune_epochs`` (Adam 1e-3). ``scratch_builder(num_classes)`` builds it
      (default: a fresh copy of ``model``'s architecture with a new output layer).

    ``model`` is not changed. Inputs are model inputs; labels ``0..C-1``.
    """
    pool_labels, y_test = np.asarray(pool_labels), np.asarray(y_test)
    classes = int(max(pool_labels.max(), y_test.max())) + 1
    idx = few_shot_indices(pool_labels, per_class, seed=seed)
    x, y = np.asarray(pool_images, np.float32)[idx], pool_labels[idx]
    transfer = transfer_model(model, classes, seed=seed)
    _fit(transfer, x, y, 1e-3, epochs, seed)
    frozen = _accuracy(transfer, x_test, y_test)
    unfreeze_top(transfer, fine_tune_layers)
    _fit(transfer, x, y, 1e-4, fine_tune_epochs, seed)
    fine_tuned = _accuracy(transfer, x_test, y_test)
    if scratch_builder is None:
        base = keras.models.clone_model(model)  # same architecture
        feats = keras.Model(base.inputs[0], base.get_layer("fc7").output)
        head = keras.layers.Dense(classes, activation="softmax", name="new_predictions")
        scratch = keras.Model(feats.inputs[0], head(feats.outputs[0]))
    else:
        scratch = scratch_builder(classes)
    seeded_weights(scratch, seed=seed)  # fresh weights, reproducible, no global reseeding
    _fit(scratch, x, y, 1e-3, epochs + fine_tune_epochs, seed)
    return FewShot(
        per_class=int(per_class),
        frozen=frozen,
        fine_tuned=fine_tuned,
        scratch=_accuracy(scratch, x_test, y_test),
    )


def generalization(
    source: str = "zfnet-cifar10",
    per_class: Sequence[int] = (1, 5, 10, 25),
    epochs: int = 100,
    fine_tune_epochs: int = 50,
    test_size: int = 1000,
    *,
    seed: int = SEED,
) -> Generalization:
    """Tables 4-6 at our scale: ``source``'s features (a shipped model) transferred to the
    synthetic shapes drawn at the source's image size, for each number of images per class.

    Returns a :class:`Generalization` (one :class:`FewShot` row per ``per_class``).
    """
    from zfkeras import data as zdata
    from zfkeras.models.zoo import pretrained

    bundle = pretrained(source)
    size = np.asarray(bundle.info["mean"]).shape[0]
    pool = zdata.shapes(max(per_class) * 5 * 4, seed=seed + 31, image_size=size)
    test = zdata.shapes(test_size, seed=seed + 32, image_size=size)
    pool_images, x_test = bundle.preprocess(pool.images), bundle.preprocess(test.images)
    rows = [
        few_shot_transfer(
            bundle.model,
            pool_images,
            pool.labels,
            x_test,
            test.labels,
            k,
            epochs,
            fine_tune_epochs,
            seed=seed,
        )
        for k in per_class
    ]
    return Generalization(
        source=source,
        target=f"shapes at {size}x{size}, {len(pool.class_names)} classes",
        class_names=list(pool.class_names),
        test_images=int(test_size),
        epochs=epochs,
        fine_tune_epochs=fine_tune_epochs,
        rows=rows,
    )


def load_generalization(path) -> Generalization:
    """A :class:`Generalization` from its JSON record (e.g. the shipped
    ``data/generalization-shapes.json``), its rows as :class:`FewShot`."""
    result = cli.read_record(Generalization, path)
    return replace(result, rows=[FewShot(**row) for row in result.rows])
