"""Network dissection (Bau, Zhou, Khosla, Oliva & Torralba, "Network Dissection: Quantifying
Interpretability of Deep Visual Representations", CVPR 2017).

Course material beside the paper: a unit of a layer is a
*detector* of a concept when the image region where it fires strongly overlaps the concept's
pixels. For unit ``k``:

1. ``T_k``: the activation level exceeded by the top ``quantile`` (0.5 %) of the unit's values
   over the whole dataset. We compute it, as Bau et al. do, over every spatial position of the
   activation map **at the layer's own resolution** (not upsampled), exactly: the ``m``-th
   largest value, ``m = ceil(quantile * N * rows * cols)``, kept by a streaming top-``m`` per
   unit (memory ``O(m * units)``, independent of batch order).
2. The unit's mask on an image: its activation map brought to image size with each cell at the
   centre of its receptive field (:func:`zfkeras.receptive_field`) and bilinear interpolation
   between centres, as Grad-CAM does in zfkeras. Beyond the outermost centres the value is
   held (not faded to zero as Grad-CAM's display does), so a unit can cover concept pixels at
   the image border. The mask is where that map is strictly above ``T_k`` (Bau et al.'s
   ``S_k > T_k``; a unit that is zero everywhere has ``T_k = 0`` and an empty mask).
3. ``IoU(k, c) = sum over images |M_k & L_c| / sum over images |M_k | L_c|`` for every concept
   ``c``; the unit's label is its best concept over all categories, kept when
   ``IoU >= iou_threshold`` (0.04).

Two streaming passes over the images (memory independent of their number): the forward pass
and the counting are compiled with ``tf.function`` and cached per (model, layer); the
intersections of all units with all concepts of all categories are one matrix product per chunk
of images (masks ``(pixels, units)`` times one-hot labels ``(pixels, concepts)``). The passes
and the placement of step 2 are :mod:`zfkeras.methods.dissection_passes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE
from zfkeras.methods.dissection_passes import compiled, holding_weights

__all__ = ["Dissection", "dissect", "holding_weights", "unit_masks"]

_CHUNK_VALUES = 2**24  # mask values per counting step (bounds memory; exact float32 counts)


@dataclass(frozen=True)
class Dissection:
    """The result of :func:`dissect` for one layer.

    Attributes:
        layer: the layer dissected.
        thresholds: ``(units,)`` float32, ``T_k`` (top-``quantile`` level on the layer grid).
        iou: ``{category: (units, names) float64}``, the dataset-wide IoU of every unit with
            every concept; column 0 (label 0, "no concept") is always 0.
        best: one ``(category, name, iou)`` per unit, its best concept. A unit whose best IoU
            is under ``iou_threshold`` is no detector: ``(None, None, best iou)``.
        concept_names: ``{category: names}``, ``names[0]`` being the "none" label.
        quantile: the quantile used for ``thresholds``.
        iou_threshold: the IoU a detector needs.
        placement: how the unit maps were brought to image size: ``"receptive field"`` (cells
            at their receptive-field centres) or ``"even"`` (the fallback, with a warning:
            cells spread evenly, as an image resize does).
    """

    layer: str
    thresholds: np.ndarray
    iou: dict
    best: tuple
    concept_names: dict
    quantile: float
    iou_threshold: float
    placement: str = "receptive field"

    def summary(self) -> dict[str, int]:
        """``{category: number of distinct concepts detected by at least one unit}`` (Bau et
        al.'s "unique detectors"), every category listed (0 when none)."""
        return {
            cat: len({name for c, name, _ in self.best if c == cat}) for cat in self.concept_names
        }

    def detectors(self) -> dict[str, int]:
        """``{category: number of units labelled with a concept of that category}``."""
        return {cat: sum(c == cat for c, _, _ in self.best) for cat in self.concept_names}


def _check(model, images, layer, concept_maps, quantile, iou_threshold, batch_size, concept_names):
    checks.check_model(model)
    x = checks.images(model, images)
    checks.feature_layer(model, layer)
    real = (int, float, np.integer, np.floating)
    if isinstance(quantile, bool) or not isinstance(quantile, real) or not 0 < quantile < 1:
        raise ValueError(f"quantile must be a number in (0, 1), got {quantile!r}")
    if not isinstance(iou_threshold, real) or not 0 <= iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be a number in [0, 1], got {iou_threshold!r}")
    checks.batch_size(batch_size)
    if not isinstance(concept_maps, dict) or not concept_maps:
        raise TypeError(
            f"concept_maps must be a non-empty dict category -> (N, H, W) int "
            f"label maps, got {type(concept_maps).__name__}"
        )
    if concept_names is not None and (
        not isinstance(concept_names, dict) or set(concept_names) != set(concept_maps)
    ):
        raise ValueError(
            f"concept_names must be None or a dict with the keys of concept_maps "
            f"{sorted(concept_maps)}, got {concept_names!r}"
        )
    maps, names = {}, {}
    for cat, m in concept_maps.items():
        m = np.asarray(m)
        if m.shape != x.shape[:3] or not (np.issubdtype(m.dtype, np.integer) or m.dtype == bool):
            raise ValueError(
                f"concept_maps[{cat!r}] must be (N, H, W) = {x.shape[:3]} int "
                f"labels (one map per image, at image size), got shape {m.shape} "
                f"dtype {m.dtype}"
            )
        low, high = int(m.min()), int(m.max())
        given = None if concept_names is None else list(concept_names[cat])
        if low < 0 or (given is not None and high >= len(given)):
            raise ValueError(
                f"concept_maps[{cat!r}] labels must be in [0, "
                f"{len(given) if given else 'names'}), got [{low}, {high}]"
            )
        maps[cat] = m
        names[cat] = tuple(str(v) for v in (given or range(max(high, 1) + 1)))
    return x, maps, names


def dissect(
    model: keras.Model,
    images,
    layer: str,
    *,
    concept_maps: dict,
    quantile: float = 0.005,
    iou_threshold: float = 0.04,
    concept_names: dict | None = None,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> Dissection:
    """Dissect every unit of ``layer`` against labelled concepts (Bau et al., 2017).

    Args:
        model: a single-input Keras CNN that :func:`zfkeras.activation_model` accepts.
        images: model inputs ``(N, H, W, C)``, already preprocessed.
        layer: name (or ``"outer/inner"`` path) of a layer with a 4-D output.
        concept_maps: ``{category: (N, H, W) int}`` pixel labels at image size, one label per
            pixel and category; 0 means "no concept of this category here".
        quantile: top fraction of activations that defines ``T_k``, in (0, 1).
        iou_threshold: smallest IoU for a unit to count as a detector, in [0, 1].
        concept_names: optional ``{category: [names]}`` (index 0 = "none"); default the label
            indices as strings, ``max label + 1`` names per category.
        batch_size: images per forward pass (the counting runs in chunks of at most ~16 M
            mask values, so memory stays bounded for large maps).
        verbose: ``"auto"`` (one progress bar over both passes when the run looks longer
            than a few seconds), 0 or 1.

    Returns:
        A :class:`Dissection`.

    Raises:
        TypeError/ValueError: bad model, layer (unknown or not 4-D), images, concept maps
            (wrong N, wrong spatial size, not integer, negative or unnamed labels), quantile,
            iou_threshold, batch_size or concept_names.
    """
    x, maps, names = _check(
        model, images, layer, concept_maps, quantile, iou_threshold, batch_size, concept_names
    )
    verbose = checks.verbose(verbose)
    size = x.shape[1:3]
    forward, top, count, grid, units, placement = compiled(model, layer, size=size)
    n = len(x)
    m = max(1, math.ceil(quantile * n * grid[0] * grid[1]))
    cats = list(maps)
    depth = [len(names[c]) for c in cats]
    offsets = np.concatenate([[0], np.cumsum(depth)[:-1]]).astype(np.int32)
    chunk = max(
        1,
        min(
            batch_size,
            _CHUNK_VALUES // (size[0] * size[1] * max(units, len(cats) * int(sum(depth)))),
        ),
    )
    starts = range(0, n, batch_size)
    bar = checks.Progress(2 * len(starts), verbose=verbose)
    kept = tf.fill([units, m], tf.constant(-np.inf, tf.float32))
    for step, i in enumerate(starts):  # pass 1: the top-m values of every unit
        kept = top(kept, forward(tf.constant(x[i : i + batch_size])))
        bar.update(step + 1)
    thresholds = tf.reduce_min(kept, axis=1)
    total = int(sum(depth))
    inter, mask_sum, label_sum = np.zeros((units, total)), np.zeros(units), np.zeros(total)
    for step, i in enumerate(starts):  # pass 2: intersections and sizes
        a = forward(tf.constant(x[i : i + batch_size]))
        for j in range(0, len(a), chunk):
            sl = slice(i + j, i + min(j + chunk, len(a)))
            labels = np.stack(
                [maps[c][sl].astype(np.int32) + o for c, o in zip(cats, offsets)], axis=-1
            )  # (chunk, H, W, categories), offset into one index
            out = count(a[j : j + chunk], tf.constant(labels), thresholds, tf.constant(total))
            inter += out[0].numpy()
            mask_sum += out[1].numpy()
            label_sum += out[2].numpy()
        bar.update(len(starts) + step + 1)
    union = mask_sum[:, None] + label_sum[None, :] - inter
    iou_all = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    iou_all[:, offsets] = 0.0  # label 0 ("none") is never a concept
    iou = {c: iou_all[:, o : o + d] for c, o, d in zip(cats, offsets, depth)}
    best = []
    for k in range(units):
        col = int(np.argmax(iou_all[k]))
        ci = int(np.searchsorted(offsets, col, side="right") - 1)
        value = float(iou_all[k, col])
        best.append(
            (cats[ci], names[cats[ci]][col - offsets[ci]], value)
            if value >= iou_threshold and value > 0
            else (None, None, value)
        )
    return Dissection(
        layer,
        thresholds.numpy().astype(np.float32),
        iou,
        tuple(best),
        names,
        float(quantile),
        float(iou_threshold),
        placement,
    )


def unit_masks(
    model: keras.Model,
    images,
    layer: str,
    *,
    thresholds,
    channels=None,
    batch_size: int = BATCH_SIZE,
) -> np.ndarray:
    """The masks :func:`dissect` compares with the concepts: ``(N, H, W, len(channels))``
    bool, each unit's map at image size (placed as :func:`dissect` does) above its threshold.

    Args:
        model, images, layer: as in :func:`dissect`.
        thresholds: ``(units,)`` levels, e.g. ``Dissection.thresholds``.
        channels: the units to return: an int or a sequence (default all).
        batch_size: images per forward pass.
    """
    blank = {"_": np.zeros(np.shape(images)[:3], np.int32)}
    x, _, _ = _check(model, images, layer, blank, 0.5, 0.0, batch_size, None)
    forward, _, _, grid, n_units, _ = compiled(model, layer, size=x.shape[1:3])
    t = np.asarray(thresholds, np.float32)
    if t.shape != (n_units,):
        raise ValueError(f"thresholds must be ({n_units},) for layer {layer!r}, got {t.shape}")
    idx = checks.channels(channels, n_units, layer, "channels", many=True)
    rows, cols, _ = holding_weights(model, layer, grid=grid, size=x.shape[1:3])
    a = np.concatenate(
        [forward(tf.constant(x[b])).numpy()[..., idx] for b in checks.batches(len(x), batch_size)]
    )
    up = np.einsum("Hi,nijk,Wj->nHWk", rows, a, cols, optimize=True)
    return up > t[idx]
