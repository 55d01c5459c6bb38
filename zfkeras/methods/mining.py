"""Top-9 patches (paper Fig. 2): receptive fields, the strongest activations of every feature
map over a dataset, and the figure that shows their deconvnet projections beside the patches.

* :func:`receptive_field` — the input box each position of a layer sees (size, stride, offset),
  computed from the layers' kernels, strides and paddings over every path of the graph
  (:mod:`zfkeras.methods.fields`, re-exported here).
* :func:`top_activations` — one streaming pass over a dataset: for each channel, the k images
  whose strongest activation of that channel is largest (image index, position, value).
* :func:`top9_tiles` — per channel, the deconvnet projections of the top 9 and the image
  patches that caused them, cropped to the receptive field (drawn by
  :func:`zfkeras.figures.top9_figure`).

All three work on any single-input Keras CNN (the one graph walk of
:mod:`zfkeras.methods.graph`); mining needs only a forward pass up to the layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE
from zfkeras.methods.deconvnet.projection import Deconvnet
from zfkeras.methods.fields import ReceptiveField, receptive_field
from zfkeras.methods.graph import build, locate

__all__ = [
    "ReceptiveField",
    "Top9Tiles",
    "TopActivations",
    "receptive_field",
    "top9_tiles",
    "top_activations",
]


@dataclass(frozen=True)
class TopActivations:
    """The k strongest activations of each channel of ``layer`` over a dataset, at most one per
    image (its strongest position), strongest first. Arrays are ``(channels, k)``; ``index`` is
    the image's position in the stream."""

    layer: str
    channels: np.ndarray
    index: np.ndarray
    row: np.ndarray
    col: np.ndarray
    value: np.ndarray


def _batches(model, images, batch_size):
    if isinstance(images, tf.data.Dataset):
        spec = images.element_spec
        if isinstance(spec, (tuple, list)):
            images, spec = images.map(lambda *t: t[0]), spec[0]
        if not isinstance(spec, tf.TensorSpec) or spec.shape.rank not in (3, 4):
            raise ValueError(
                f"images must yield images (batch, rows, cols, channels) or "
                f"(images, labels) tuples, got element_spec {spec}"
            )
        if spec.shape.rank == 3:
            images = images.batch(batch_size)
        n = int(images.cardinality())
        return iter(images.prefetch(2)), (n if n >= 0 else None)
    x = checks.images(model, images, "images")
    return (x[b] for b in checks.batches(len(x), batch_size)), math.ceil(len(x) / batch_size)


def top_activations(
    model: keras.Model,
    images,
    layer: str,
    *,
    k: int = 9,
    channels: Sequence[int] | None = None,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> TopActivations:
    """Stream over ``images`` once and keep, for each channel of ``layer``, the ``k`` images with
    the strongest activation (paper Fig. 2: "the top 9 activations ... across the validation
    data"). Each image counts once per channel, at its strongest position.

    Memory does not depend on the dataset's size: one batch of activations plus ``k`` records
    per channel. Compiled with ``tf.function``; one progress bar (``verbose``).

    Args:
        model: a single-input Keras CNN (any graph, nested models included).
        images: model inputs as an array ``(N, rows, cols, channels)`` or a
            ``tf.data.Dataset`` of such batches (or of ``(images, labels)`` tuples, or of
            single images).
        layer: a layer name, an ``"outer/inner"`` path into nested models, or the layer.
        k: activations kept per channel.
        channels: channel indices to track: ``None`` (all), an int or a non-empty sequence
            of ints.
        batch_size: images per pass for arrays and unbatched datasets.
        verbose: ``"auto"`` (a bar when the run looks longer than a few seconds, see
            :class:`zfkeras.methods.checks.Progress`), 0 or 1.

    Returns:
        :class:`TopActivations` with ``(len(channels), min(k, N))`` arrays; its ``layer`` is
        the layer's full path (``"vgg16/block5_conv3"`` inside a nested model).

    Raises:
        TypeError: ``model`` is not a ``keras.Model``; ``layer`` is not a name or a layer;
            ``channels`` or ``batch_size`` is not ints.
        ValueError: bad ``k``, ``channels``, ``images`` (wrong shape, NaN, none), ``layer``,
            ``batch_size`` or ``verbose``.
    """
    checks.check_model(model)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    batch_size = checks.batch_size(batch_size)
    verbose = checks.verbose(verbose)
    found = locate(model, layer)
    if len(found.output.shape) != 4:
        raise ValueError(
            f"layer {found.path!r} must output (batch, rows, cols, channels), got "
            f"shape {tuple(found.output.shape)}"
        )
    image_shape = tuple(model.inputs[0].shape[1:])
    n_channels = int(found.output.shape[3])
    chans = checks.channels(channels, n_channels, found.path, "channels", many=True)
    every = n_channels == len(chans) and bool(np.all(chans == np.arange(len(chans))))
    # channels and k are arguments of the compiled update: at most two entries per layer
    update = checks.cached(
        model,
        ("top_activations", found.path, every),
        lambda: _compile(
            build(found.input, found.output, name=f"{model.name}_upto"), image_shape, every
        ),
    )
    chans_t = tf.constant(chans, tf.int32)
    best_v = tf.fill((len(chans), k), -np.inf)
    best_i = tf.fill((len(chans), k), tf.constant(-1, tf.int64))
    best_p = tf.zeros((len(chans), k), tf.int32)
    batches, n_batches = _batches(model, images, batch_size)
    if n_batches is None:  # a dataset of unknown length: a bar without a target
        bar = keras.utils.Progbar(None, unit_name="batch") if verbose == 1 else None
    else:
        bar = checks.Progress(n_batches, verbose=verbose)
    seen = done = 0
    for x in batches:
        if tuple(x.shape[1:]) != tuple(d or g for d, g in zip(image_shape, x.shape[1:])):
            raise ValueError(f"images must be {image_shape}, got {tuple(x.shape[1:])}")
        best_v, best_i, best_p = update(
            tf.cast(x, tf.float32), tf.constant(seen, tf.int64), chans_t, best_v, best_i, best_p
        )
        seen, done = seen + int(x.shape[0]), done + 1
        if bar is not None:
            bar.update(done)
    if seen == 0:
        raise ValueError("images holds no images")
    keep = min(k, seen)
    pos = best_p.numpy()[:, :keep]
    return TopActivations(
        found.path,
        chans,
        best_i.numpy()[:, :keep],
        pos // 65536,
        pos % 65536,
        best_v.numpy()[:, :keep],
    )


def _compile(sub, image_shape, every: bool):
    """The compiled per-batch update of :func:`top_activations`, one trace per model, layer
    and ``every`` (all channels in order: no gather). The channels ``(C,)`` and the running
    best ``(C, k)`` are arguments, so other channels or another ``k`` reuse it."""
    spec = [
        tf.TensorSpec((None, *image_shape), tf.float32),
        tf.TensorSpec((), tf.int64),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((None, None), tf.float32),
        tf.TensorSpec((None, None), tf.int64),
        tf.TensorSpec((None, None), tf.int32),
    ]

    @tf.function(input_signature=spec)
    def update(x, start, chans, best_v, best_i, best_p):
        a = tf.cast(sub(x, training=False), tf.float32)  # float32 under mixed precision too
        if not every:
            a = tf.gather(a, chans, axis=3)
        n, width = tf.shape(a)[0], tf.shape(a)[2]
        flat = tf.reshape(a, [n, -1, tf.shape(chans)[0]])
        v = tf.transpose(tf.reduce_max(flat, axis=1))  # (C, n)
        p = tf.transpose(tf.argmax(flat, axis=1, output_type=tf.int32))  # (C, n)
        i = tf.broadcast_to(start + tf.range(n, dtype=tf.int64), tf.shape(v))
        cand_v = tf.concat([best_v, v], 1)
        top = tf.math.top_k(cand_v, k=tf.shape(best_v)[1])
        pick = top.indices
        return (
            top.values,
            tf.gather(tf.concat([best_i, i], 1), pick, batch_dims=1),
            tf.gather(tf.concat([best_p, p // width * 65536 + p % width], 1), pick, batch_dims=1),
        )

    return update


def _crop(images, boxes, fill):
    """Crop ``(N, H, W, C)`` to boxes ``(top, left, bottom, right)`` of one size, padding with
    ``fill`` outside the image."""
    top, left, bottom, right = (np.asarray(b) for b in boxes)
    h, w = int(bottom[0] - top[0]), int(right[0] - left[0])
    pad_r = max(0, -int(top.min()), int(bottom.max()) - images.shape[1])
    pad_c = max(0, -int(left.min()), int(right.max()) - images.shape[2])
    padded = np.pad(images, ((0, 0), (pad_r, pad_r), (pad_c, pad_c), (0, 0)), constant_values=fill)
    return np.stack(
        [
            padded[i, t + pad_r : t + pad_r + h, le + pad_c : le + pad_c + w]
            for i, (t, le) in enumerate(zip(top, left))
        ]
    )


@dataclass(frozen=True)
class Top9Tiles:
    """What paper Fig. 2 shows for one layer: per channel, the projections of its top-k
    activations and the image patches that caused them, both cropped to the receptive field.

    Attributes:
        layer: the layer name.
        channels: ``(C,)`` the channels drawn.
        projections: ``(C, k, h, w, 3)`` float32 projections (unscaled).
        patches: ``(C, k, h, w, 3)`` uint8 patches (white beyond the image).
    """

    layer: str
    channels: np.ndarray
    projections: np.ndarray
    patches: np.ndarray


def top9_tiles(
    model: keras.Model | Deconvnet,
    images,
    top: TopActivations,
    display=None,
    channels: Sequence[int] | None = None,
    mode: str = "deconvnet",
    *,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> Top9Tiles:
    """Project each top activation down to the input and crop it and its image patch to the
    activation's receptive field (paper Fig. 2).

    Args:
        model: the model, or a :class:`~zfkeras.Deconvnet` of it (reuses its compiled passes).
        images: the model inputs ``top.index`` points into, ``(N, rows, cols, 3)``.
        top: the result of :func:`top_activations`.
        display: uint8 images ``(N, rows, cols, 3)`` to cut the patches from (for instance
            ``pretrained.deprocess(images)``); default: ``images`` scaled per image.
        channels: which of ``top.channels`` to keep (default: all of them).
        mode: projection mode (see :meth:`Deconvnet.project`).
        batch_size, verbose: as in :meth:`Deconvnet.project`.

    Returns:
        A :class:`Top9Tiles`.

    Raises:
        ValueError: ``channels`` is not a non-empty subset of ``top.channels``.
    """
    deconv = model if isinstance(model, Deconvnet) else Deconvnet(model)
    rows_of = {int(c): i for i, c in enumerate(top.channels)}
    chosen = list(top.channels) if channels is None else [int(c) for c in channels]
    missing = [c for c in chosen if c not in rows_of]
    if missing or not chosen:
        raise ValueError(f"channels must be a non-empty subset of top.channels, got {channels!r}")
    sel = np.array([rows_of[c] for c in chosen])
    idx = top.index[sel]  # (C, k)
    n_c, k = idx.shape
    x = np.asarray(images)[idx.ravel()]
    proj = deconv.project(
        x,
        top.layer,
        channels=np.repeat(chosen, k),
        location=np.stack([top.row[sel].ravel(), top.col[sel].ravel()], 1),
        mode=mode,
        batch_size=batch_size,
        verbose=verbose,
    )
    if display is not None:
        shown = np.asarray(display)[idx.ravel()]
    else:
        lo = x.min(axis=(1, 2, 3), keepdims=True)
        span = x.max(axis=(1, 2, 3), keepdims=True) - lo
        scaled = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1), 0.5)
        shown = (np.clip(scaled, 0, 1) * 255).astype(np.uint8)
    rf = receptive_field(deconv.model, top.layer, x.shape[1:])
    boxes = rf.box(top.row[sel].ravel(), top.col[sel].ravel())
    proj_tiles = _crop(np.asarray(proj, np.float32), boxes, 0.0)
    patch_tiles = _crop(shown, boxes, 255)
    shape = (n_c, k) + proj_tiles.shape[1:]
    return Top9Tiles(
        top.layer, np.asarray(chosen), proj_tiles.reshape(shape), patch_tiles.reshape(shape)
    )
