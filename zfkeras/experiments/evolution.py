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
from dataclasses import dataclass
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
from zfkeras.methods import checks
from zfkeras.methods.checks import SEED

MODULE = "zfkeras.experiments.evolution"  # its command line: python -m MODULE


@dataclass(frozen=True)
class Stability:
    """How one layer's projections changed between consecutive snapshots (:func:`stabilization`).

    Attributes:
        epochs: the later epoch of each pair.
        change: the mean change per pair.
        jumps: the fraction of units whose strongest probe image changed, per pair (empty when
            the snapshots hold no images).
        counted: whether each pair counts (all True without ``lr``).
        stable_from: the earlier epoch of the first counted pair from which every later counted
            change stays below the threshold (None if the last counted change is still above
            it, or no pair counts).
    """

    epochs: list
    change: list
    jumps: list
    counted: list
    stable_from: int | None


@dataclass(frozen=True)
class Stabilization:
    """:func:`stabilization`'s result.

    Attributes:
        threshold: the threshold used.
        layers: dict layer name -> :class:`Stability`.
    """

    threshold: float
    layers: dict


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


def _signature(p: np.ndarray, aligned: bool) -> np.ndarray:
    if not aligned:
        return np.asarray(p, np.float64).ravel()
    c = crop_to_signal(p)
    return tf.image.resize(c[None], (16, 16), antialias=True).numpy().astype(np.float64).ravel()


def stabilization(
    snapshots: dict,
    threshold: float = 0.1,
    aligned: bool = True,
    lr: dict | None = None,
    lr_fraction: float = 0.1,
) -> Stabilization:
    """How early each layer's projections stop changing (``snapshots``: epoch ->
    :class:`Snapshot`).

    For consecutive snapshot epochs, the change of a unit is ``1 - cos`` between its two
    projections (0 = same picture); a layer's change is the mean over its units. With
    ``aligned`` each projection is first cropped to its signal (:func:`crop_to_signal`) and
    resized to 16x16, so that the same pattern found at another place or in another probe image
    counts as unchanged (the paper's figure shows cropped projections).

    A layer whose weights no longer move looks stable whatever it has learned. With ``lr``
    (epoch -> learning rate, e.g. from :attr:`FeatureEvolution.trace`), a pair of snapshots
    counts as evidence only when the learning rate of some epoch between them (the later epoch
    included) was at least ``lr_fraction`` of the run's peak rate; a cosine schedule's last
    epochs, whose rate has decayed to nearly nothing, then say nothing about stability.

    Returns:
        a :class:`Stabilization`: per layer, its :class:`Stability`.

    Raises:
        ValueError: fewer than 2 snapshot epochs, ``lr_fraction`` outside [0, 1], or ``lr``
            missing an epoch between the snapshots.
    """
    epochs = sorted(snapshots)
    if len(epochs) < 2:
        raise ValueError(f"need snapshots at 2 epochs or more, got {epochs}")
    if not 0 <= lr_fraction <= 1:
        raise ValueError(f"lr_fraction must be in [0, 1], got {lr_fraction!r}")
    counted = [True] * (len(epochs) - 1)
    if lr is not None:
        rates = {int(e): float(v) for e, v in dict(lr).items()}
        missing = [e for e in range(epochs[0] + 1, epochs[-1] + 1) if e not in rates]
        if missing:
            raise ValueError(f"lr must give the learning rate of epochs {missing}")
        peak = max(rates.values())
        counted = [
            max(rates[e] for e in range(a + 1, b + 1)) >= lr_fraction * peak
            for a, b in zip(epochs, epochs[1:])
        ]
    out = {}
    for n in snapshot_layers(snapshots):
        change, jumps = [], []
        for a, b in zip(epochs, epochs[1:]):
            sa, sb = snapshots[a].layers[n], snapshots[b].layers[n]
            pa = np.stack([_signature(p, aligned) for p in sa.projection])
            pb = np.stack([_signature(p, aligned) for p in sb.projection])
            na, nb = np.linalg.norm(pa, axis=1), np.linalg.norm(pb, axis=1)
            cos = np.sum(pa * pb, 1) / np.maximum(na * nb, 1e-12)
            change.append(float(np.mean(1 - cos)))
            if sa.image is not None:
                jumps.append(float(np.mean(sa.image != sb.image)))
        stable = None
        for k in (k for k in range(len(change)) if counted[k]):
            if all(c < threshold for c, f in zip(change[k:], counted[k:]) if f):
                stable = epochs[k]
                break
        out[n] = Stability(epochs[1:], change, jumps, counted, stable)
    return Stabilization(threshold, out)


def crop_to_signal(p, rel: float = 0.02, margin: int = 1) -> np.ndarray:
    """The smallest square window of a projection ``(H, W, C)`` holding every pixel whose
    energy exceeds ``rel`` times the largest (plus ``margin`` pixels), as the paper shows
    projections cropped to their receptive field. An all-zero projection is returned whole."""
    p = np.asarray(p)
    energy = np.abs(p).sum(-1)
    if energy.max() <= 0:
        return p
    rows, cols = np.nonzero(energy > rel * energy.max())
    side = max(np.ptp(rows), np.ptp(cols)) + 1 + 2 * margin
    side = min(side, min(p.shape[:2]))
    r0 = int(np.clip((rows.min() + rows.max() + 1 - side) // 2, 0, p.shape[0] - side))
    c0 = int(np.clip((cols.min() + cols.max() + 1 - side) // 2, 0, p.shape[1] - side))
    return p[r0 : r0 + side, c0 : c0 + side]


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
