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
:func:`zfkeras.data.photometric_batch`) and can hide squares of each training image (``hide``,
``hide_patch``: Hide-and-Seek, :func:`zfkeras.data.hide_patches`) and smooth the labels
(``label_smoothing``, :class:`SmoothedSparseCrossentropy`). A run can also start from a
finished run's weights (``init_from``) for a second, shorter cosine cycle: a warm restart
(Loshchilov & Hutter 2017), with the layers named in ``reinit`` starting afresh, so that a
network trained by an older recipe learns a new first layer without training the rest from
scratch.
:func:`zfkeras.experiments.diagnostics.spectral_concentration` measures the result.

The data pipeline is :mod:`zfkeras.training.pipeline`, the training loop
:mod:`zfkeras.training.loop`, the resumable run that writes a bundle :mod:`zfkeras.training.bundle`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import keras
import tensorflow as tf

from zfkeras import models
from zfkeras.training.optimizer import LayerwiseSGD, layer_of

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
    hide: float = 0.0
    hide_patch: int = 16
    label_smoothing: float = 0.0
    init_from: str | None = None
    reinit: str = ""
    extra: dict = field(default_factory=dict)

    # Fields added after some shipped files were written, whose defaults train exactly as before
    # they existed (hide=0 hides nothing and draws nothing the other ops use; label_smoothing=0
    # compiles Keras' own loss): a stored recipe without them is read back with the defaults
    # (from_dict) and still reproduces its run.
    NEUTRAL_FIELDS = ("hide", "hide_patch", "label_smoothing")

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
        loss=(
            SmoothedSparseCrossentropy(recipe.label_smoothing)
            if recipe.label_smoothing
            else "sparse_categorical_crossentropy"
        ),
        metrics=["accuracy"],
    )


@keras.saving.register_keras_serializable(package="zfkeras")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer labels against targets smoothed by ``label_smoothing`` ``e``
    (Szegedy et al. 2016, section 7): the true class gets ``1 - e + e / C``, every class
    ``e / C``, so the network is not pushed to probabilities of exactly 1 (Keras' sparse
    cross-entropy has no smoothing; this is its categorical one on one-hot labels)."""

    def __init__(self, label_smoothing: float = 0.0, name="smoothed_sparse_crossentropy", **kw):
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing!r}")
        super().__init__(name=name, **kw)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        classes = keras.ops.shape(y_pred)[-1]
        labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        return keras.losses.categorical_crossentropy(
            keras.ops.one_hot(labels, classes), y_pred, label_smoothing=self.label_smoothing
        )

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
