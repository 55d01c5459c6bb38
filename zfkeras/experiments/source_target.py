"""The split of a labelled set into source classes (pretraining) and held-out target classes
(new classes) of the transfer experiment (:mod:`zfkeras.experiments.transfer`, paper Tables 4-7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """Indices into a label array: ``source`` (pretraining) and ``target`` (new classes), and
    the labels renumbered ``0..k-1`` within each part (``source_labels``, ``target_labels``,
    in the order of ``source_classes`` / ``target_classes``)."""

    source: np.ndarray
    target: np.ndarray
    source_labels: np.ndarray
    target_labels: np.ndarray
    source_classes: tuple[int, ...]
    target_classes: tuple[int, ...]


def source_target_split(labels, target_classes: Sequence[int]) -> Split:
    """Split a labelled set into source classes and held-out target classes.

    Args:
        labels: int ``(N,)`` class labels.
        target_classes: the labels held out of pretraining (at least one; every other label
            present in ``labels`` is a source class).

    Returns:
        a :class:`Split`; no index of a target-class image is in ``source``.

    Raises:
        ValueError: ``target_classes`` empty, repeated, absent from ``labels``, or covering
            every class (no source left).
    """
    labels = np.asarray(labels).ravel()
    targets = [int(c) for c in target_classes]
    present = sorted(int(c) for c in np.unique(labels))
    if not targets or len(set(targets)) != len(targets):
        raise ValueError(f"target_classes must be distinct labels, got {target_classes!r}")
    missing = [c for c in targets if c not in present]
    if missing:
        raise ValueError(
            f"target_classes must be labels present in labels ({present}), got {missing} absent"
        )
    sources = [c for c in present if c not in targets]
    if not sources:
        raise ValueError(
            f"target_classes must leave at least one source class, got all of {present}"
        )
    is_target = np.isin(labels, targets)
    src, tgt = np.flatnonzero(~is_target), np.flatnonzero(is_target)
    s_map = np.vectorize({c: i for i, c in enumerate(sources)}.get, otypes=[np.int32])
    t_map = np.vectorize({c: i for i, c in enumerate(targets)}.get, otypes=[np.int32])
    return Split(
        src,
        tgt,
        s_map(labels[src]) if len(src) else np.zeros(0, np.int32),
        t_map(labels[tgt]),
        tuple(sources),
        tuple(targets),
    )
