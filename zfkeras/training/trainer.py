"""Training ZFNet and its AlexNet-style variant (paper section 3), at CPU size.

The recipe follows the paper where it makes sense at CPU size: SGD with momentum 0.9, dropout
0.5 in fc6/fc7, the filter renormalization (a kernel constraint, RMS radius 0.1), per-pixel mean
subtraction, random crops and horizontal flips. The paper lowered the learning rate by hand; we
use a one-epoch linear warm-up to ``lr`` followed by a cosine decay to zero, which needs no
supervision. Weight decay is Keras' decoupled form (``weight_decay * lr`` per step).

The first layer gets its own treatment. A run of a few thousand steps moves a He-normal conv1
only a little, so the filters a picture shows would be mostly the initializer's noise. The
recipe therefore starts conv1 at ``conv1_init`` (0.01) times its He-normal draw and lets it learn
``conv1_lr`` (10) times faster (:class:`zfkeras.training.LayerwiseSGD`, Caffe's ``lr_mult``), so
that what conv1 holds after training is what the data taught it; the paper initialized every
weight at 1e-2 and trained for 70 epochs. The synthetic worlds add photometric augmentation
(``colour_jitter``, ``noise``, ``blur`` with ``blur_passes``;
:func:`zfkeras.data.photometric_batch`). A run can also start from a finished run's weights
(``init_from``) for a second, shorter cosine cycle: a warm restart (Loshchilov & Hutter 2017),
with the layers named in ``reinit`` starting afresh, so that a network trained by an older
recipe learns a new first layer without training the rest from scratch.
:func:`zfkeras.experiments.diagnostics.spectral_concentration` measures the result.

A run survives interruption: every epoch backs up the weights, the optimizer state (with its
iteration counter, so the learning-rate schedule carries on where it stopped) and the history
in ``out_dir/backup`` (a :class:`keras.callbacks.BackupAndRestore`), and calling :func:`train`
again with the same recipe and ``out_dir`` resumes from the last completed epoch. Every file is
written under a temporary name in its folder and then renamed, so none is ever half written.

Python: :func:`train`. Command line: ``python -m zfkeras.train --help``.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from zfkeras import data as zdata
from zfkeras import models
from zfkeras.training.optimizer import LayerwiseSGD, layer_of
from zfkeras.training.resume import (
    BACKUP,
    PARTIAL,
    Backup,
    Checkpoint,
    History,
    atomic_write,
    check_backup,
    read_backup,
)

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored", "one_device")
DATASETS = ("cifar10", "shapes", "concepts")


@dataclass
class Recipe:
    """Everything that defines a training run; stored with the weights it produced."""

    arch: str = "zfnet"
    dataset: str = "cifar10"
    epochs: int = 20
    batch_size: int = 128
    lr: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 5e-3
    warmup_epochs: float = 1.0
    width: float = 0.5
    fc_units: int = 512
    dropout: float = 0.5
    image_size: int = 96
    crop_scale: float = 1.125
    train_size: int | None = None
    test_size: int | None = None
    seed: int = 0
    renorm: bool = True
    conv1_init: float = 0.01
    conv1_lr: float = 10.0
    colour_jitter: float = 0.0
    noise: float = 0.0
    blur: float = 0.0
    blur_passes: int = 1
    init_from: str | None = None
    reinit: str = ""
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> Recipe:
        """The recipe stored as ``d`` (a bundle's ``info["recipe"]``); a field missing from
        ``d`` (a recipe written before the field existed) takes its default.

        Raises:
            TypeError: ``d`` is not a dict.
            ValueError: ``d`` has a key that is not a field of :class:`Recipe`.
        """
        if not isinstance(d, dict):
            raise TypeError(f"d must be a dict of recipe fields, got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"d has keys that are not Recipe fields: {unknown}")
        return cls(**d)


def make_strategy(name: str | None, devices: list[str] | None = None) -> tf.distribute.Strategy:
    """Return a ``tf.distribute`` strategy by name (``default``, ``mirrored``,
    ``multi_worker_mirrored`` or ``one_device``). ``devices`` is passed to ``mirrored``."""
    name = name or "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy((devices or ["/cpu:0"])[0])
    raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")


def load_dataset(recipe: Recipe, data_dir: str | None = None):
    """Return ``(x_train, y_train, x_test, y_test, class_names)`` as uint8 images for a recipe."""
    if recipe.dataset == "cifar10":
        xtr, ytr = zdata.cifar10("train", data_dir)
        xte, yte = zdata.cifar10("test", data_dir)
        names = list(zdata.CIFAR10_CLASSES)
        rng = np.random.default_rng(recipe.seed)
        if recipe.train_size:
            keep = np.sort(rng.permutation(len(xtr))[: recipe.train_size])
            xtr, ytr = xtr[keep], ytr[keep]
        if recipe.test_size:
            keep = np.sort(rng.permutation(len(xte))[: recipe.test_size])
            xte, yte = xte[keep], yte[keep]
    elif recipe.dataset in ("shapes", "concepts"):
        make = zdata.shapes if recipe.dataset == "shapes" else zdata.concepts
        tr = make(recipe.train_size or 20000, seed=recipe.seed + 1, image_size=recipe.image_size)
        te = make(recipe.test_size or 2000, seed=recipe.seed + 2, image_size=recipe.image_size)
        xtr, ytr, xte, yte = tr["images"], tr["labels"], te["images"], te["labels"]
        names = tr["class_names"]
    else:
        raise ValueError(f"dataset must be one of {DATASETS}, got {recipe.dataset!r}")
    return xtr, ytr, xte, yte, names


def make_datasets(recipe: Recipe, xtr, ytr, xte, yte, mean):
    """``tf.data`` pipelines: shuffled, augmented training batches and centre-crop test batches."""
    size, scale = recipe.image_size, recipe.crop_scale

    def train_map(x, y):
        x = zdata.augment_batch(x, mean, size, scale)
        x = zdata.photometric_batch(
            x, recipe.colour_jitter, recipe.noise, recipe.blur, blur_passes=recipe.blur_passes
        )
        return x, y

    def test_map(x, y):
        return zdata.centre_crop(zdata.normalize(x, mean), size, scale), y

    train = (
        tf.data.Dataset.from_tensor_slices((xtr, ytr))
        .shuffle(len(xtr), seed=recipe.seed, reshuffle_each_iteration=True)
        .batch(recipe.batch_size, drop_remainder=True)
        .map(train_map, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    test = (
        tf.data.Dataset.from_tensor_slices((xte, yte))
        .batch(256)
        .map(test_map, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    return train, test


def build_model(recipe: Recipe, num_classes: int) -> keras.Model:
    """The model a recipe trains (``zfnet`` or ``alexnet`` at the recipe's size), with the
    paper's filter renormalization (RMS radius 0.1) unless ``recipe.renorm`` is False. It starts
    from He-normal weights with conv1 scaled by ``recipe.conv1_init``, or, when
    ``recipe.init_from`` names a finished run's ``model.keras``, from that run's weights; the
    layers named in ``recipe.reinit`` (comma-separated, e.g. ``"conv1"``) then keep their fresh
    initialization (conv1 at ``conv1_init``), so that a trained network can learn a new first
    layer under this recipe.

    Raises:
        ValueError: an unknown ``recipe.arch``, ``conv1_init`` not > 0, an ``init_from``
            that is missing or holds a network of other shapes, or a ``reinit`` without
            ``init_from`` or naming a layer the network lacks.
        TypeError: ``reinit`` is not a str.
    """
    builders = {"zfnet": models.zfnet, "alexnet": models.alexnet}
    if recipe.arch not in builders:
        raise ValueError(f"arch must be 'zfnet' or 'alexnet', got {recipe.arch!r}")
    if not recipe.conv1_init > 0:
        raise ValueError(f"conv1_init must be > 0, got {recipe.conv1_init!r}")
    model = builders[recipe.arch](
        (recipe.image_size, recipe.image_size, 3),
        num_classes,
        width=recipe.width,
        fc_units=recipe.fc_units,
        dropout=recipe.dropout,
        renorm_radius=0.1 if recipe.renorm else None,
        name=f"{recipe.arch}_{recipe.dataset}",
    )
    reinit = _reinit_layers(recipe, model)
    if recipe.init_from is not None:  # a warm restart: the finished run's weights ...
        weights = _weights_from(recipe.init_from, model)
        for var, value in zip(model.weights, weights):
            if layer_of(var) not in reinit:  # ... except in the layers named by reinit
                var.assign(value)
    if recipe.conv1_init != 1.0 and (recipe.init_from is None or "conv1" in reinit):
        conv1 = model.get_layer("conv1")  # conv1 starts at conv1_init times its He-normal draw
        conv1.kernel.assign(conv1.kernel * recipe.conv1_init)
    return model


def _reinit_layers(recipe: Recipe, model: keras.Model) -> set:
    """The layer names of ``recipe.reinit`` (comma-separated), checked against ``model``."""
    if not isinstance(recipe.reinit, str):
        raise TypeError(
            f"reinit must be a str of comma-separated layer names, got "
            f"{type(recipe.reinit).__name__}"
        )
    names = {n.strip() for n in recipe.reinit.split(",") if n.strip()}
    if names and recipe.init_from is None:
        raise ValueError(
            f"reinit={recipe.reinit!r} needs init_from: it names the layers that do not take "
            "the finished run's weights"
        )
    weighted = {layer.name for layer in model.layers if layer.weights}
    unknown = sorted(names - weighted)
    if unknown:
        raise ValueError(
            f"reinit names layers {unknown} that this network does not have (layers with "
            f"weights: {sorted(weighted)})"
        )
    return names


def _weights_from(path, model: keras.Model) -> list:
    """The weights of the saved model at ``path``, checked against ``model``'s shapes."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(
            f"init_from must be the path of a finished run's model.keras, got {str(path)!r} "
            "(no such file)"
        )
    weights = keras.models.load_model(p, compile=False).get_weights()
    want = [tuple(w.shape) for w in model.weights]
    got = [tuple(w.shape) for w in weights]
    if want != got:
        raise ValueError(
            f"init_from {str(path)!r} holds a different network: weight shapes {got} there, "
            f"{want} for this recipe"
        )
    return weights


def compile_model(model: keras.Model, recipe: Recipe, steps_per_epoch: int) -> None:
    """SGD (momentum 0.9) with warm-up and cosine decay, sparse cross-entropy, accuracy."""
    total = max(1, recipe.epochs * steps_per_epoch)
    warm = min(total - 1, int(recipe.warmup_epochs * steps_per_epoch))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warm else recipe.lr,
        decay_steps=total - warm,
        warmup_target=recipe.lr if warm else None,
        warmup_steps=warm,
    )
    model.compile(
        optimizer=LayerwiseSGD(
            {"conv1": recipe.conv1_lr} if recipe.conv1_lr != 1.0 else None,
            learning_rate=schedule,
            momentum=recipe.momentum,
            weight_decay=recipe.weight_decay or None,
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


@dataclass(frozen=True)
class Fitted:
    """What :func:`fit` returns.

    Attributes:
        model: the trained model.
        mean: the per-pixel mean of the training images (the model's preprocessing).
        history: the ``keras.callbacks.History`` of the run (``history.history``: per epoch).
        seconds: wall time of ``model.fit``.
    """

    model: keras.Model
    mean: np.ndarray
    history: keras.callbacks.History
    seconds: float


def fit(
    recipe: Recipe,
    images,
    labels,
    validation=None,
    *,
    model: keras.Model | None = None,
    num_classes: int | None = None,
    steps_per_epoch: int | None = None,
    callbacks=(),
    strategy: tf.distribute.Strategy | None = None,
    verbose: int | str = "auto",
) -> Fitted:
    """Train ``recipe``'s model on uint8 images in memory: the one training loop of
    :func:`train` and the ablation, renorm and transfer experiments.

    Keras' random generators are seeded with ``recipe.seed`` (a recipe names its run, seed
    included); the per-pixel mean of ``images``, the augmented pipelines of
    :func:`make_datasets`, :func:`build_model` and :func:`compile_model` (SGD with warm-up and
    cosine decay), then ``model.fit`` for ``recipe.epochs``.

    Args:
        recipe: the :class:`Recipe`.
        images, labels: uint8 ``(N, H, W, 3)`` training images and int labels ``(N,)``.
        validation: optional ``(images, labels)`` evaluated (centre crop) after every epoch.
        model: train this model instead of ``build_model(recipe, num_classes)``.
        num_classes: default ``max(labels) + 1``.
        steps_per_epoch: fixed steps per epoch (the training batches repeat); default one pass.
        callbacks: Keras callbacks for ``model.fit``.
        strategy: a ``tf.distribute`` strategy to build the model under (default: none).
        verbose: ``model.fit``'s verbosity.

    Returns:
        A :class:`Fitted`.
    """
    keras.utils.set_random_seed(recipe.seed)
    mean = zdata.per_pixel_mean(images)
    val = validation if validation is not None else (images[:1], labels[:1])
    train_ds, val_ds = make_datasets(recipe, images, labels, val[0], val[1], mean)
    steps = steps_per_epoch or steps_for(len(images), recipe.batch_size)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        if model is None:
            classes = num_classes if num_classes is not None else int(np.max(labels)) + 1
            model = build_model(recipe, classes)
        compile_model(model, recipe, steps)
    t0 = time.time()
    hist = model.fit(
        train_ds.repeat() if steps_per_epoch else train_ds,
        epochs=recipe.epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=val_ds if validation is not None else None,
        callbacks=list(callbacks),
        verbose=verbose,
        shuffle=False,
    )
    return Fitted(model, mean, hist, round(time.time() - t0, 1))


def evaluate(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    mean: np.ndarray,
    crop_scale: float,
    ten_crop: bool = False,
    batch_size: int = 256,
) -> float:
    """Top-1 accuracy on uint8 images: centre crop, or the paper's 10-crop average of softmax
    outputs (``ten_crop=True``)."""
    size = int(model.input.shape[1])
    correct = 0

    @tf.function(reduce_retracing=True, autograph=False)  # plain TF ops: nothing to convert
    def predict(x):
        xb = zdata.normalize(x, mean)
        if ten_crop:
            crops = zdata.ten_crops(xb, size, crop_scale)
            probs = model(tf.reshape(crops, (-1, size, size, 3)), training=False)
            return tf.reduce_mean(tf.reshape(probs, (10, tf.shape(xb)[0], -1)), 0)
        return model(zdata.centre_crop(xb, size, crop_scale), training=False)

    for i in range(0, len(images), batch_size):
        p = predict(tf.constant(images[i : i + batch_size]))
        correct += int(np.sum(np.argmax(p.numpy(), 1) == labels[i : i + batch_size]))
    return correct / len(images)


def train(
    recipe: Recipe | None = None,
    out_dir: str | Path = "runs/zfnet",
    data_dir: str | None = None,
    strategy: str | tf.distribute.Strategy | None = None,
    steps_per_epoch: int | None = None,
    verbose: int | str = "auto",
    callbacks: list | None = None,
    command: str | None = None,
    fresh: bool = False,
):
    """Train a model by a :class:`Recipe` and save a bundle under ``out_dir``; resume an
    interrupted run.

    Writes ``out_dir/checkpoint.keras`` and ``out_dir/history.json`` (after every epoch; each
    history row has the epoch's ``lr`` and optimizer ``iterations``), and the bundle
    ``out_dir/model.keras`` + ``out_dir/model.json`` (recipe, per-pixel mean, class names,
    measured single- and 10-crop test accuracy, full history, the command that reproduces it;
    for a warm restart also ``commands``, every command from the first run on, and ``stages``,
    one row per run with its command, epochs, peak learning rate, re-initialized layers,
    training seconds and test accuracy), which
    :func:`zfkeras.pretrained` reads. While it trains, ``out_dir/backup`` holds the last
    completed epoch (see :class:`Backup`); if it is there, training resumes from it, with the
    optimizer state and learning-rate schedule where they stopped and the earlier epochs kept in
    the history. Once the run has finished, the same call again returns the bundle in
    ``out_dir`` instead of training (``fresh=True`` trains it again). The first line printed says
    ``resuming OUT from epoch E of N``, ``starting OUT fresh`` or ``finished OUT``. All files are
    written atomically.

    Args:
        fresh: delete ``out_dir/backup`` and start over instead of resuming.

    Returns:
        ``(model, info)``: the trained model and the bundle's info dict.

    Raises:
        ValueError: an unknown ``recipe.arch`` or ``recipe.dataset``, or a backup in ``out_dir``
            left by a different recipe or ``steps_per_epoch`` (the message names the fields).
        FloatingPointError: the loss became NaN (no bundle is written, the backup is removed).
    """
    recipe = recipe or Recipe()
    if isinstance(strategy, str) or strategy is None:
        strategy = make_strategy(strategy)
    out = Path(out_dir)
    backup = out / BACKUP
    if fresh:
        shutil.rmtree(backup, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    for leftover in [*out.glob(PARTIAL + "*"), *backup.glob(PARTIAL + "*")]:
        leftover.unlink()  # temporary files of a killed run
    fingerprint = {"recipe": asdict(recipe), "steps_per_epoch": steps_per_epoch}
    state = read_backup(backup)
    done = _finished(out, recipe, steps_per_epoch) if state is None and not fresh else None
    if done is not None:  # the same command run again after it finished: nothing to train
        print(f"finished {out}: it holds this recipe's bundle (pass --fresh to train again)")
        return done
    if state is not None:  # a backup written before a recipe field existed has its default
        old = state["fingerprint"]
        old["recipe"] = asdict(Recipe.from_dict(old["recipe"]))
        check_backup(state, fingerprint, out)
    print(
        f"resuming {out} from epoch {state['epoch']} of {recipe.epochs} (pass --fresh to "
        "start over)"
        if state
        else f"starting {out} fresh",
        flush=True,
    )
    xtr, ytr, xte, yte, names = load_dataset(recipe, data_dir)
    history = History(out / "history.json", state["history"] if state else None)
    cbs = [
        history,
        Checkpoint(out / "checkpoint.keras"),
        Backup(backup, history, fingerprint),
        keras.callbacks.TerminateOnNaN(),
    ]
    t0 = time.time()
    fitted = fit(
        recipe,
        xtr,
        ytr,
        (xte, yte),
        num_classes=len(names),
        steps_per_epoch=steps_per_epoch,
        callbacks=cbs + list(callbacks or []),
        strategy=strategy,
        verbose=verbose,
    )
    model, mean = fitted.model, fitted.mean
    if not np.isfinite(history.rows[-1]["loss"] if history.rows else 0.0):
        shutil.rmtree(backup, ignore_errors=True)
        raise FloatingPointError(
            f"training diverged (loss is NaN); lower the learning rate (lr={recipe.lr}) and "
            f"train again; the last checkpoint is in {out}"
        )
    acc1 = evaluate(model, xte, yte, mean, recipe.crop_scale)
    acc10 = evaluate(model, xte, yte, mean, recipe.crop_scale, ten_crop=True)
    command = command or "python -m zfkeras.train " + " ".join(sys.argv[1:])
    commands_before, stages_before = _runs_before(recipe.init_from)
    info = {
        "recipe": asdict(recipe),
        "class_names": names,
        "mean": mean.round(3).tolist(),
        "test_accuracy": round(acc1, 4),
        "test_accuracy_10crop": round(acc10, 4),
        "test_images": int(len(xte)),
        "train_images": int(len(xtr)),
        "train_seconds": history.rows[-1]["seconds"]
        if history.rows
        else round(time.time() - t0, 1),
        "params": int(model.count_params()),
        "history": history.rows,
        "resumed_from_epoch": state["epoch"] if state else None,
        "steps_per_epoch": steps_per_epoch,
        "command": command,
        "commands": commands_before + [command],
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
    }
    info["stages"] = stages_before + [_stage(info)]
    # an uncompiled copy: no optimizer state saved
    clean = build_model(replace(recipe, init_from=None, reinit=""), len(names))
    clean.set_weights(model.get_weights())
    atomic_write(out / "model.keras", clean.save)
    atomic_write(out / "model.json", lambda p: p.write_text(json.dumps(info)))
    shutil.rmtree(backup, ignore_errors=True)
    return model, info


def _finished(out: Path, recipe: Recipe, steps_per_epoch: int | None):
    """``(model, info)`` of the finished run in ``out`` when it was trained by ``recipe`` (and
    ``steps_per_epoch``), else None."""
    info_path, model_path = out / "model.json", out / "model.keras"
    if not (info_path.is_file() and model_path.is_file()):
        return None
    info = json.loads(info_path.read_text())
    try:
        same = Recipe.from_dict(info["recipe"]) == recipe
    except (KeyError, TypeError, ValueError):
        return None
    if not same or info.get("steps_per_epoch") != steps_per_epoch:
        return None
    return keras.models.load_model(model_path, compile=False), info


def _runs_before(init_from) -> tuple[list, list]:
    """What the ``model.json`` beside ``init_from`` says of the runs that produced it, so that a
    bundle lists every run that reproduces it: their commands, and one row per run
    (``command``, ``epochs``, ``lr``, ``reinit``, ``train_seconds``, ``test_accuracy``).
    ``([], [])`` for a fresh run or when there is no such file."""
    if init_from is None:
        return [], []
    path = Path(init_from).with_suffix(".json")
    if not path.is_file():
        return [], []
    before = json.loads(path.read_text())
    commands = list(before.get("commands") or [before["command"]])
    return commands, list(before.get("stages") or [_stage(before)])


def _stage(info: dict) -> dict:
    """A run's row in a bundle's ``stages``, from its ``model.json`` (``info``): its command,
    epochs, learning rate, re-initialized layers, training seconds and test accuracy."""
    rec = info["recipe"]
    row = {k: info.get(k) for k in ("command", "train_seconds", "test_accuracy")}
    return row | {"epochs": rec["epochs"], "lr": rec["lr"], "reinit": rec.get("reinit", "")}


def steps_for(n_images: int, batch_size: int) -> int:
    """Optimizer steps in one epoch of ``n_images`` (incomplete last batch dropped)."""
    return max(1, math.floor(n_images / batch_size))


def confusion_counts(labels, predictions, num_classes: int) -> np.ndarray:
    """``(C, C)`` int counts: row = true class, column = predicted class.

    Raises:
        ValueError: the arrays differ in shape or hold a class outside ``[0, num_classes)``.
    """
    labels, predictions = np.asarray(labels).ravel(), np.asarray(predictions).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(
            f"labels and predictions must have the same shape, got {labels.shape} "
            f"and {predictions.shape}"
        )
    for name, a in (("labels", labels), ("predictions", predictions)):
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got [{a.min()}, {a.max()}]")
    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts
