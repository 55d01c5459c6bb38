"""Feature evolution during training (paper section 4, Fig. 4).

:class:`FeatureEvolution` is a Keras callback: at chosen epochs it finds, for chosen units
(feature maps) of each layer, the strongest activation over a fixed probe set and stores that
activation's deconvnet projection (and the layer-1 filters). :func:`evolution_figure` draws the
paper's grid (rows of units, columns of epochs) and :func:`stabilization` measures how early each
layer's projections stop changing. Every epoch the callback also records the learning rate and
how far each followed layer's weights moved (:attr:`FeatureEvolution.trace`), so that a layer
is not called stable only because the learning-rate schedule had stopped it.

Snapshots are kept small: projections are resampled to ``store_size`` pixels and quantized to
int8 with one scale per projection; :meth:`FeatureEvolution.save` / :func:`load_snapshots` write
and read a compressed ``.npz``.
"""

from __future__ import annotations

from zfkeras._quiet import start_command

start_command(__name__)  # run as a command line: TensorFlow starts without its log lines

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from zfkeras import training
from zfkeras.experiments import cli
from zfkeras.experiments.snapshots import LayerSnapshot as LayerSnapshot
from zfkeras.experiments.snapshots import Recording as Recording
from zfkeras.experiments.snapshots import Snapshot as Snapshot
from zfkeras.experiments.snapshots import load_snapshots as load_snapshots
from zfkeras.experiments.snapshots import load_trace as load_trace
from zfkeras.experiments.snapshots import save_snapshots as save_snapshots
from zfkeras.experiments.snapshots import snapshot_layers as snapshot_layers
from zfkeras.experiments.stability import Stability as Stability
from zfkeras.experiments.stability import Stabilization as Stabilization
from zfkeras.experiments.stability import crop_to_signal as crop_to_signal
from zfkeras.experiments.stability import stabilization as stabilization
from zfkeras.methods import checks
from zfkeras.methods.checks import SEED

MODULE = "zfkeras.experiments.evolution"  # its command line: python -m MODULE


class FeatureEvolution(keras.callbacks.Callback):
    """Record the strongest activation's projection of chosen units at chosen epochs.

    Args:
        probe_images: model inputs ``(N, H, W, C)``, fixed for the whole run.
        epochs: 1-based epoch numbers after which a snapshot is taken (the paper: 1, 2, 5, 10,
            20, 30, 40, 64).
        layers: names of the convolutional layers to follow.
        channels: the feature maps followed per layer: an int ``n`` (the first ``n`` channels
            after a fixed random permutation drawn with ``seed``) or a sequence of channels.
        store_size: side of the stored projections.

    Attributes:
        snapshots: dict epoch -> :class:`Snapshot` (per layer a :class:`LayerSnapshot`, and the
            first layer's kernel).
        trace: every epoch, not only the snapshot epochs: {"epoch": 1-based epochs, "lr": the
            epoch's peak learning rate (the larger of the optimizer's rate at the start and at
            the end of the epoch; warm-up and cosine decay are monotone within an epoch),
            "weight_change": layer -> the
            relative change ``||W_e - W_(e-1)|| / ||W_(e-1)||`` of the layer's weights (kernel
            and bias together) over the epoch}.
    """

    def __init__(
        self,
        probe_images,
        epochs: Sequence[int] = (1, 2, 5, 10),
        layers: Sequence[str] = ("conv1", "conv2", "conv3", "conv4", "conv5"),
        channels: int | Sequence[int] = 4,
        store_size: int = 48,
        *,
        seed: int = SEED,
    ):
        super().__init__()
        x = np.asarray(probe_images, np.float32)
        if x.ndim != 4 or len(x) == 0:
            raise ValueError(f"probe_images must be (N, H, W, C) with N >= 1, got {x.shape}")
        ep = sorted({int(e) for e in epochs})
        if not ep or ep[0] < 1:
            raise ValueError(f"epochs must be 1-based positive epoch numbers, got {epochs!r}")
        if isinstance(layers, str) or not layers:
            raise ValueError(f"layers must be a non-empty list of layer names, got {layers!r}")
        many = isinstance(channels, Sequence) and len(channels) > 0
        if not many and (
            isinstance(channels, bool) or not isinstance(channels, int) or channels < 1
        ):
            raise ValueError(
                f"channels must be a positive int or a non-empty sequence of ints, got {channels!r}"
            )
        self.probe, self.epochs, self.layers = x, ep, list(layers)
        self.channels, self.store_size, self.seed = channels, int(store_size), seed
        self.snapshots: dict[int, Snapshot] = {}
        self.trace: dict = {"epoch": [], "lr": [], "weight_change": {n: [] for n in self.layers}}
        self._channels: dict[str, np.ndarray] = {}
        self._previous: dict[str, np.ndarray] = {}

    def on_train_begin(self, logs=None):
        from zfkeras.methods.deconvnet.projection import Deconvnet

        names = [lay.name for lay in self.model.layers]
        missing = [n for n in self.layers if n not in names]
        if missing:
            raise ValueError(f"layers {missing} are not layers of the model ({names})")
        rng = np.random.default_rng(self.seed)
        for n in self.layers:
            c = int(self.model.get_layer(n).output.shape[-1])
            order = rng.permutation(c)
            if isinstance(self.channels, Sequence):
                order = checks.channels(self.channels, c, n, many=True)
            self._channels[n] = (
                order if isinstance(self.channels, Sequence) else order[: min(self.channels, c)]
            )
        self._deconv = Deconvnet(self.model)
        self._acts = keras.Model(
            self.model.inputs[0], [self.model.get_layer(n).output for n in self.layers]
        )
        self._previous = {n: self._flat_weights(n) for n in self.layers}

    def _flat_weights(self, name: str) -> np.ndarray:
        return np.concatenate(
            [np.ravel(w) for w in self.model.get_layer(name).get_weights()]
        ).astype(np.float64)

    def snapshot(self) -> Snapshot:
        """Take one snapshot of the current weights (what ``on_epoch_end`` stores)."""
        maxima = [
            np.concatenate([np.asarray(a).max(axis=(1, 2)) for a in parts], 0)
            for parts in zip(
                *[
                    self._as_list(self._acts(self.probe[i : i + 64], training=False))
                    for i in range(0, len(self.probe), 64)
                ]
            )
        ]
        out = {}
        for n, m in zip(self.layers, maxima):
            ch = self._channels[n]
            best = m[:, ch].argmax(0)  # the probe image with the strongest activation per unit
            proj = self._deconv.project(self.probe[best], n, channels=ch)
            proj = tf.image.resize(proj, (self.store_size,) * 2, antialias=True).numpy()
            out[n] = LayerSnapshot(channel=ch, projection=proj, image=best, value=m[best, ch])
        return Snapshot(self.model.get_layer(self.layers[0]).kernel.numpy().copy(), out)

    @staticmethod
    def _as_list(outs):
        return outs if isinstance(outs, (list, tuple)) else [outs]

    def _rate(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_begin(self, epoch, logs=None):
        self._rate_at_start = self._rate()

    def on_epoch_end(self, epoch, logs=None):
        self.trace["epoch"].append(epoch + 1)
        self.trace["lr"].append(max(self._rate_at_start, self._rate()))
        for n in self.layers:
            w, before = self._flat_weights(n), self._previous[n]
            norm = np.linalg.norm(before)
            change = np.linalg.norm(w - before) / norm if norm > 0 else float("nan")
            self.trace["weight_change"][n].append(float(change))
            self._previous[n] = w
        if epoch + 1 in self.epochs:
            self.snapshots[epoch + 1] = self.snapshot()

    def save(self, path: str | Path) -> None:
        """Write the snapshots and the trace to a compressed ``.npz`` (projections as int8 +
        scale)."""
        save_snapshots(self.snapshots, path, self.trace)


def record_run(
    out: str | Path,
    epochs: int = 10,
    snapshot_epochs: Sequence[int] = (1, 2, 3, 5, 7, 10),
    train_size: int = 4000,
    probe_size: int = 200,
    channels: int = 3,
    run_dir: str | Path | None = None,
) -> training.Trained:
    """Train ZFNet on the synthetic shapes with :class:`FeatureEvolution` and save the
    snapshots to ``out`` (``.npz``). Returns :func:`zfkeras.training.train`'s
    :class:`~zfkeras.training.Trained` (the model and its info)."""
    import tempfile

    from zfkeras import data as zdata

    recipe = training.Recipe(
        dataset="shapes", epochs=epochs, train_size=train_size, test_size=probe_size, seed=0
    )
    xtr, _, xte, _, _ = training.load_dataset(recipe)
    mean = zdata.per_pixel_mean(xtr)
    probe = zdata.centre_crop(
        zdata.normalize(xte, mean), recipe.image_size, recipe.crop_scale
    ).numpy()
    cb = FeatureEvolution(probe, [e for e in snapshot_epochs if e <= epochs], channels=channels)
    trained = training.train(
        recipe,
        run_dir or tempfile.mkdtemp(prefix="zfkeras-evolution-"),
        callbacks=[cb],
        verbose=2,
        command="python -m zfkeras.experiments.evolution",
        fresh=True,  # the snapshots need every epoch seen: never resume or reuse a finished run
    )
    cb.save(out)
    return trained


def main(argv=None) -> int:
    p = cli.parser(
        MODULE,
        "Record the shipped feature-evolution snapshots (a short ZFNet run on the shapes).",
    )
    p.add_argument("--out", default="data/evolution-shapes.npz")
    p.add_argument("--epochs", type=int, default=10)
    args = p.parse_args(argv)
    result = record_run(args.out, args.epochs)
    print(f"saved {args.out}; test accuracy {result.info['test_accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
