"""The checks of single argument values, one per argument: ``class_index``, ``channels``,
``batch_size``, ``verbose``, ``seed`` and any other number (:func:`number`).

Each raises ``TypeError`` (wrong kind of value) or ``ValueError`` (wrong value) with a message
that starts with the argument's name and says what was expected and what was given, so the
same mistake reads the same from every method. The checks that need the model (``model``,
``images``, ``layer``) are :mod:`zfkeras.methods.checks`'s, which re-exports these.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SEED = 0
"""The one default of ``seed``: every random draw of a method comes from its own generator
seeded with it (the global random generators are never reseeded)."""
SEED_MAX = 2**31 - 1
"""The largest ``seed`` (TensorFlow's stateless generators take int32 seeds)."""


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _indices(value, count, limit, argument, kinds, where="") -> np.ndarray:
    """``value`` (an int, or ``count`` ints; any non-empty number when ``count`` is 0) as
    int32 indices in ``[0, limit)``: ``TypeError`` for another kind of value (saying
    ``kinds``), ``ValueError`` for an index out of range (naming ``where``)."""
    if _is_int(value):
        c = np.full(max(count, 1), int(value), np.int32)
    elif (
        count >= 0
        and isinstance(value, (Sequence, np.ndarray))
        and not isinstance(value, str)
        and (len(value) == count if count > 0 else len(value) > 0)
        and all(_is_int(v) for v in value)
    ):
        c = np.asarray(value, np.int32).reshape(-1)
    else:
        raise TypeError(f"{argument} must be {kinds}, got {value!r}")
    if len(c) and (c.min() < 0 or c.max() >= limit):
        raise ValueError(f"{argument} must be in [0, {limit}){where}, got {value!r}")
    return c


def class_index(
    value, n: int, num_classes: int, argument: str = "class_index", per_image: bool = True
) -> np.ndarray:
    """``(n,)`` int32 classes; -1 marks "the predicted class" (``value=None``).

    ``value``: ``None``, an int, or (``per_image``) one int per image. ``TypeError`` for another
    kind of value, ``ValueError`` for a class outside ``[0, num_classes)``."""
    if value is None:
        return np.full(n, -1, np.int32)
    kinds = f"None, an int or {n} ints (one per image)" if per_image else "None or an int"
    c = _indices(value, n if per_image else -1, num_classes, argument, kinds)
    return np.broadcast_to(c, (n,)).astype(np.int32) if len(c) == 1 else c


def channels(
    value,
    n_channels: int,
    layer_name: str | None,
    argument: str = "channels",
    *,
    many: bool = False,
    per_image: int | None = None,
) -> np.ndarray | None:
    """Channels (units) of a layer with ``n_channels`` feature maps: the one check of
    ``channels``.

    ``per_image=n``: ``None`` (``(n,)`` of -1: "the strongest", the caller picks), an int or
    ``n`` ints, one per image; ``many=True``: ``None`` (every channel), an int or a non-empty
    sequence of ints; else ``None`` (returned as None: the caller picks) or an int. Returns
    int32 indices. ``TypeError`` for another kind of value, ``ValueError`` for a channel
    outside ``[0, n_channels)`` (the message names ``layer_name`` when given)."""
    if value is None:
        if per_image is not None:
            return np.full(per_image, -1, np.int32)
        return np.arange(n_channels, dtype=np.int32) if many else None
    if per_image is not None:
        count, kinds = per_image, f"None, an int or {per_image} ints (one per image)"
    elif many:
        count, kinds = 0, "None, an int or a non-empty sequence of ints"
    else:
        count, kinds = -1, "None or an int"
    where = "" if layer_name is None else f" for layer {layer_name!r}"
    c = _indices(value, count, n_channels, argument, kinds, where)
    return np.broadcast_to(c, (per_image,)).astype(np.int32) if per_image and len(c) == 1 else c


def batch_size(value, argument: str = "batch_size") -> int:
    """A positive int (``TypeError`` for a non-int, ``ValueError`` below 1)."""
    if not _is_int(value):
        raise TypeError(f"{argument} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{argument} must be a positive int, got {value!r}")
    return int(value)


def verbose(value, argument: str = "verbose"):
    """``"auto"``, 0 (or False) or 1 (or True)."""
    if value == "auto" and isinstance(value, str):
        return "auto"
    if isinstance(value, (bool, int, np.integer)) and int(value) in (0, 1):
        return int(value)
    raise ValueError(f"{argument} must be 'auto', 0 or 1, got {value!r}")


def number(value, argument: str, low: float = 0.0, high: float = np.inf, *, integer=False):
    """A finite number in ``[low, high]`` (an int when ``integer``): ``TypeError`` for another
    kind of value, ``ValueError`` outside the range. The one check of every numeric option."""
    kind = "an int" if integer else "a number"
    ok = _is_int(value) or (not integer and isinstance(value, (float, np.floating)))
    if not ok:
        raise TypeError(f"{argument} must be {kind}, got {type(value).__name__} {value!r}")
    if not (np.isfinite(value) and low <= value <= high):
        bounds = f">= {low}" if high == np.inf else f"in [{low}, {high}]"
        raise ValueError(f"{argument} must be {kind} {bounds}, got {value!r}")
    return int(value) if integer else float(value)


def seed(value, argument: str = "seed") -> int:
    """An int in ``[0, SEED_MAX]``: the one check of ``seed``."""
    return number(value, argument, 0, SEED_MAX, integer=True)
