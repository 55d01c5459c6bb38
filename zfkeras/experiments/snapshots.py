"""The snapshots of :class:`zfkeras.experiments.evolution.FeatureEvolution`: their types and
their compressed ``.npz`` file (the shipped ``data/evolution-shapes.npz``).

A :class:`Snapshot` per epoch holds, per followed layer, a :class:`LayerSnapshot` (the units,
their strongest probe images and activations, and the projections) and the first layer's
kernel. :func:`save_snapshots` stores projections as int8 with one scale per projection;
:func:`load_snapshots` reads them back as float32, with the per-epoch trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class LayerSnapshot:
    """The followed units of one layer at one epoch.

    Attributes:
        channel: the units (feature maps) followed ``(U,)``.
        projection: float32 ``(U, s, s, 3)``, the deconvnet projection of each unit's strongest
            activation over the probe set.
        image: the probe image of that activation ``(U,)`` (None where not recorded).
        value: the activation ``(U,)`` (None where not recorded).
    """

    channel: np.ndarray
    projection: np.ndarray
    image: np.ndarray | None = None
    value: np.ndarray | None = None


@dataclass(frozen=True)
class Snapshot:
    """One epoch's snapshot (:meth:`~zfkeras.experiments.evolution.FeatureEvolution.snapshot`).

    Attributes:
        conv1_kernel: the first followed layer's kernel.
        layers: dict layer name -> :class:`LayerSnapshot`, in the order followed.
    """

    conv1_kernel: np.ndarray
    layers: dict


@dataclass(frozen=True)
class Recording:
    """A recording read back (:func:`load_snapshots`).

    Attributes:
        snapshots: dict epoch -> :class:`Snapshot`, by epoch (as
            :attr:`~zfkeras.experiments.evolution.FeatureEvolution.snapshots`).
        trace: the per-epoch trace (:func:`load_trace`), None for a file recorded without one.
    """

    snapshots: dict
    trace: dict | None


def save_snapshots(snapshots: dict, path: str | Path, trace: dict | None = None) -> None:
    """Write snapshots (epoch -> :class:`Snapshot`, as the callback's ``snapshots``) and, if
    given, the per-epoch trace (the callback's ``trace``) to a compressed ``.npz``."""
    arrays = {}
    if trace is not None:
        arrays["trace/epoch"] = np.asarray(trace["epoch"], np.int32)
        arrays["trace/lr"] = np.asarray(trace["lr"], np.float32)
        for n, v in trace["weight_change"].items():
            arrays[f"trace/weight_change/{n}"] = np.asarray(v, np.float32)
    for e, snap in snapshots.items():
        arrays[f"{e}/conv1_kernel"] = snap.conv1_kernel.astype(np.float16)
        for n, d in snap.layers.items():
            p = d.projection
            scale = np.abs(p).max(axis=(1, 2, 3)) / 127
            scale = np.where(scale > 0, scale, 1).astype(np.float32)
            arrays[f"{e}/{n}/q"] = np.round(p / scale[:, None, None, None]).astype(np.int8)
            arrays[f"{e}/{n}/scale"] = scale
            for k in ("channel", "image", "value"):
                if getattr(d, k) is not None:
                    arrays[f"{e}/{n}/{k}"] = np.asarray(getattr(d, k))
    np.savez_compressed(path, **arrays)


def load_snapshots(path: str | Path) -> Recording:
    """Read snapshots written by :func:`save_snapshots` (projections back to float32), with
    the trace saved beside them (:func:`load_trace`)."""
    out: dict[int, dict] = {}
    with np.load(path) as z:
        for key in z.files:
            parts = key.split("/")
            if parts[0] == "trace":
                continue
            snap = out.setdefault(int(parts[0]), {})
            if parts[1] == "conv1_kernel":
                snap["conv1_kernel"] = z[key].astype(np.float32)
            else:
                snap.setdefault(parts[1], {})[parts[2]] = z[key]
    snapshots = {}
    for e, snap in sorted(out.items()):
        kernel, layers = snap.pop("conv1_kernel"), {}
        for n, d in snap.items():
            d["projection"] = d.pop("q").astype(np.float32) * d.pop("scale")[:, None, None, None]
            layers[n] = LayerSnapshot(**d)
        snapshots[e] = Snapshot(kernel, layers)
    return Recording(snapshots, load_trace(path))


def load_trace(path: str | Path) -> dict | None:
    """Read the per-epoch trace saved beside the snapshots (the form of the callback's
    ``trace``, as arrays), or None for a file recorded without one."""
    with np.load(path) as z:
        if "trace/epoch" not in z.files:
            return None
        prefix = "trace/weight_change/"
        return {
            "epoch": z["trace/epoch"],
            "lr": z["trace/lr"],
            "weight_change": {k[len(prefix) :]: z[k] for k in z.files if k.startswith(prefix)},
        }


def snapshot_layers(snapshots: dict) -> list[str]:
    """The layers whose units the snapshots (epoch -> :class:`Snapshot`) follow, in the order
    they were recorded."""
    return list(next(iter(snapshots.values())).layers)
