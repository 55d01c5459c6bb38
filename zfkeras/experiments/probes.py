"""Per-layer linear probes and feature generalization (paper section 5.2, Tables 4-7).

* :func:`layer_features` / :func:`linear_probe` / :func:`probe_layers`: a linear softmax
  classifier (scikit-learn's ``LogisticRegression``) on the pooled features of each layer alone
  (paper Table 7: accuracy rises with depth).
* :func:`few_shot_indices`, :func:`transfer_model`, :func:`unfreeze_top`: the recipe of Tables
  4-6 that every course teaches: keep a trained network's layers 1-7 frozen and train only a new
  softmax on a new task with few labelled images per class, then fine-tune the top layers with a
  small learning rate (from :mod:`zfkeras.experiments.few_shot`, with :func:`few_shot_transfer`
  and :func:`generalization`, whose command line this module is).
"""

from __future__ import annotations

from zfkeras._quiet import start_command

start_command(__name__)  # run as a command line: TensorFlow starts without its log lines

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zfkeras.experiments import cli
from zfkeras.experiments.few_shot import FewShot as FewShot
from zfkeras.experiments.few_shot import Generalization as Generalization
from zfkeras.experiments.few_shot import few_shot_indices as few_shot_indices
from zfkeras.experiments.few_shot import few_shot_transfer as few_shot_transfer
from zfkeras.experiments.few_shot import generalization as generalization
from zfkeras.experiments.few_shot import load_generalization as load_generalization
from zfkeras.experiments.few_shot import seeded_weights as seeded_weights
from zfkeras.experiments.few_shot import transfer_model as transfer_model
from zfkeras.experiments.few_shot import unfreeze_top as unfreeze_top
from zfkeras.methods import checks
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE

MODULE = "zfkeras.experiments.probes"  # its command line: python -m MODULE


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
