"""How early each layer's feature projections stop changing during training (paper section 4,
Fig. 4): :func:`stabilization` over the snapshots of
:class:`zfkeras.experiments.evolution.FeatureEvolution`, and :func:`crop_to_signal`, the
projection cropped to its signal as the paper's figure shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from zfkeras.experiments.snapshots import snapshot_layers


@dataclass(frozen=True)
class Stability:
    """How one layer's projections changed between consecutive snapshots (:func:`stabilization`).

    Attributes:
        epochs: the later epoch of each pair.
        change: the mean change per pair (the mean of ``unit_change``).
        jumps: the fraction of units whose strongest probe image changed, per pair (empty when
            the snapshots hold no images).
        counted: whether each pair counts (all True without ``lr``).
        stable_from: the earlier epoch of the first counted pair from which every later counted
            change stays below the threshold (None if the last counted change is still above
            it, or no pair counts).
        unit_change: per pair, the change of each followed unit (``1 - cos``), in the order of
            the snapshots' channels: the items behind each mean (empty when built without it).
    """

    epochs: list
    change: list
    jumps: list
    counted: list
    stable_from: int | None
    unit_change: list = field(default_factory=list)


@dataclass(frozen=True)
class Stabilization:
    """:func:`stabilization`'s result.

    Attributes:
        threshold: the threshold used.
        layers: dict layer name -> :class:`Stability`.
    """

    threshold: float
    layers: dict


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
        change, jumps, units = [], [], []
        for a, b in zip(epochs, epochs[1:]):
            sa, sb = snapshots[a].layers[n], snapshots[b].layers[n]
            pa = np.stack([_signature(p, aligned) for p in sa.projection])
            pb = np.stack([_signature(p, aligned) for p in sb.projection])
            na, nb = np.linalg.norm(pa, axis=1), np.linalg.norm(pb, axis=1)
            cos = np.sum(pa * pb, 1) / np.maximum(na * nb, 1e-12)
            units.append([float(v) for v in 1 - cos])
            change.append(float(np.mean(units[-1])))
            if sa.image is not None:
                jumps.append(float(np.mean(sa.image != sb.image)))
        stable = None
        for k in (k for k in range(len(change)) if counted[k]):
            if all(c < threshold for c, f in zip(change[k:], counted[k:]) if f):
                stable = epochs[k]
                break
        out[n] = Stability(epochs[1:], change, jumps, counted, stable, units)
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
