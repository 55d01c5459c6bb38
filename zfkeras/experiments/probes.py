"""Per-layer linear probes and feature generalization (paper section 5.2, Tables 4-7).

* :func:`layer_features` / :func:`linear_probe` / :func:`probe_layers`: a linear softmax
  classifier (scikit-learn's ``LogisticRegression``) on the pooled features of each layer alone
  (paper Table 7: accuracy rises with depth).
* :func:`few_shot_indices`, :func:`transfer_model`, :func:`unfreeze_top`: the recipe of Tables
  4-6 that every course teaches: keep a trained network's layers 1-7 frozen and train only a new
  softmax on a new task with few labelled images per class, then fine-tune the top layers with a
  small learning rate.
"""

from __future__ import annotations

from zfkeras._quiet import start_command

start_command(__name__)  # run as a command line: TensorFlow starts without its log lines

from collections.abc import Sequence
from dataclasses import dataclass, replace

import keras
import numpy as np
import tensorflow as tf

from zfkeras.evaluation.faithfulness import reinitialize
from zfkeras.experiments import cli
from zfkeras.methods import checks
from zfkeras.methods.cache import all_layers
from zfkeras.methods.checks import BATCH_SIZE, SEED, VERBOSE

MODULE = "zfkeras.experiments.probes"  # its command line: python -m MODULE


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


def _pooled(model, layers, grid):
    probe = checks.layer_model(model, layers, "layers")

    def pool(t):
        if len(t.shape) != 4:
            return tf.reshape(t, [tf.shape(t)[0], -1])
        h, w = int(t.shape[1]), int(t.shape[2])
        cells = []
        for i in range(grid):
            for j in range(grid):
                r0, r1 = i * h // grid, max((i + 1) * h // grid, i * h // grid + 1)
                c0, c1 = j * w // grid, max((j + 1) * w // grid, j * w // grid + 1)
                cells.append(tf.reduce_max(t[:, r0:r1, c0:c1], axis=(1, 2)))
        return tf.concat(cells, 1)

    @tf.function(reduce_retracing=True)
    def run(x):
        outs = probe(x, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return [pool(o) for o in outs]

    return run


@dataclass(frozen=True)
class LayerFeatures:
    """Pooled features per layer (:func:`layer_features`).

    Attributes:
        layers: the layer names, in the order asked.
        grid: the pooling grid.
        features: dict layer name -> float32 ``(N, D_layer)``.
    """

    layers: tuple
    grid: int
    features: dict


@dataclass(frozen=True)
class LayerProbes:
    """Linear-probe accuracy per layer (:func:`probe_layers`).

    Attributes:
        layers: the layer names, in the order asked.
        accuracy: dict layer name -> test accuracy, in the order of ``layers``.
    """

    layers: tuple
    accuracy: dict


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


def layer_features(
    model: keras.Model,
    images,
    layers: Sequence[str],
    grid: int = 2,
    *,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> LayerFeatures:
    """Each layer's output, pooled to a small fixed size and flattened.

    Feature maps ``(N, h, w, c)`` are max-pooled over a ``grid x grid`` partition of their
    spatial extent (``grid=1``: global max pooling) to ``(N, grid * grid * c)``; vector outputs
    are kept as they are.

    Args:
        model: a Keras model; images: its inputs ``(N, H, W, C)``; layers: layer names (or
            ``"outer/inner"`` paths).
        grid: the pooling grid; batch_size: images per forward pass; verbose: ``"auto"``
            (a progress bar when the run looks longer than a few seconds), 0 or 1.

    Returns:
        :class:`LayerFeatures`; ``features``: dict layer name -> float32 ``(N, D_layer)``.

    Raises:
        TypeError/ValueError: bad model, images, layers, grid, batch_size or verbose.
    """
    checks.check_model(model)
    x = checks.images(model, images)
    layers = tuple(checks.layer_names(model, layers))
    if not isinstance(grid, int) or isinstance(grid, bool) or grid < 1:
        raise ValueError(f"grid must be a positive int, got {grid!r}")
    checks.batch_size(batch_size)
    checks.verbose(verbose)
    run = checks.cached(model, ("pooled", layers, grid), lambda: _pooled(model, layers, grid))
    parts = list(checks.batches(len(x), batch_size))
    bar, out = checks.Progress(len(parts), verbose=verbose), []
    for k, b in enumerate(parts):
        out.append([o.numpy() for o in run(tf.constant(x[b]))])
        bar.update(k + 1)
    features = {n: np.concatenate([p[k] for p in out]) for k, n in enumerate(layers)}
    return LayerFeatures(layers=layers, grid=grid, features=features)


def linear_probe(
    train_features, train_labels, test_features, test_labels, c: float = 0.1, max_iter: int = 500
) -> float:
    """Test accuracy of a multinomial logistic regression (a linear softmax) trained on
    standardized features. Args are ``(N, D)`` features and ``(N,)`` labels."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xtr, xte = np.asarray(train_features), np.asarray(test_features)
    if xtr.ndim != 2 or xte.ndim != 2 or xtr.shape[1] != xte.shape[1]:
        raise ValueError(
            f"features must be (N, D) arrays with the same D, got shapes "
            f"{xtr.shape} and {xte.shape}"
        )
    if len(xtr) != len(train_labels) or len(xte) != len(test_labels):
        raise ValueError("train/test labels must have one entry per feature row")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
    clf.fit(xtr, train_labels)
    return float(np.mean(clf.predict(xte) == np.asarray(test_labels)))


def probe_layers(
    model: keras.Model,
    x_train,
    y_train,
    x_test,
    y_test,
    layers: Sequence[str] = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"),
    grid: int = 2,
    c: float = 0.1,
    *,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> LayerProbes:
    """Paper Table 7: the test accuracy of a linear probe on each layer's pooled features
    (:func:`layer_features`, whose arguments and errors apply).

    Returns:
        :class:`LayerProbes`; ``accuracy``: dict layer name -> accuracy, in the order of
        ``layers``.
    """
    ftr = layer_features(model, x_train, layers, grid, batch_size=batch_size, verbose=verbose)
    fte = layer_features(model, x_test, layers, grid, batch_size=batch_size, verbose=verbose)
    accuracy = {
        n: linear_probe(ftr.features[n], y_train, fte.features[n], y_test, c) for n in ftr.layers
    }
    return LayerProbes(layers=ftr.layers, accuracy=accuracy)


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


def main(argv=None) -> int:
    """``python -m zfkeras.experiments.probes --out data/generalization-shapes.json``: the shipped
    generalization table (few-shot transfer from ``zfnet-cifar10`` to the shapes)."""
    p = cli.parser(MODULE, main.__doc__)
    p.add_argument("--out", default="data/generalization-shapes.json")
    p.add_argument("--source", default="zfnet-cifar10")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--fine-tune-epochs", type=int, default=50)
    args = p.parse_args(argv)
    result = generalization(args.source, epochs=args.epochs, fine_tune_epochs=args.fine_tune_epochs)
    cli.write_record(result, args.out, MODULE, argv)
    for row in result.rows:
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
