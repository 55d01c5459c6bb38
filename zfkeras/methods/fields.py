"""Receptive fields on any graph (paper Fig. 2: a patch is the receptive field of an activation).

Every tensor of the traced graph (:mod:`zfkeras.methods.graph`) carries, per axis, the input
interval its position ``i`` sees: ``[lo + i * jump, hi + i * jump)``. A layer with kernel ``k``,
dilation ``d``, stride ``s`` and ``p`` padded pixels before the first row maps it to
``lo - p * jump``, ``hi + ((k - 1) * d - p) * jump`` and ``jump * s``. A merge (``Add``,
``Concatenate``, ``Multiply``, ...) takes the union over its inputs: the smallest ``lo`` and
the largest ``hi`` (all paths, the largest extent).

Covered layers: convolutions (``Conv2D`` incl. grouped, ``DepthwiseConv2D``,
``SeparableConv2D``; any padding, stride, dilation), ``MaxPooling2D`` and
``AveragePooling2D``, ``ZeroPadding2D``, ``Cropping2D``, global pooling and ``Flatten`` (the
whole extent at once), ``Reshape`` between 1x1 maps, and every pointwise or merge layer
(ReLUs and other activations, batch and layer normalization, dense on feature maps, ``Add``,
``Concatenate``, ``Multiply``, ``Maximum``, elementwise ``keras.ops`` such as ``x + y``).
Anything else on the way (``UpSampling2D``, ``Conv2DTranspose``, ``Permute``, custom layers)
raises ``ValueError`` naming the layer.

Global context: a global pooling broadcast back onto a feature map (squeeze-and-excitation
blocks, as in EfficientNet) makes every later position depend on the whole input. Such a path
has no box; the box covers the local paths and :attr:`ReceptiveField.global_context` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from zfkeras.methods import checks, ops
from zfkeras.methods.graph import locate
from zfkeras.models.layers import ContrastNormalization

_GLOBAL = (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)
_KERNEL = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
_KERNEL += ops.POOL  # 2-D convolutions and pooling: a kernel, a stride, a padding
_POINTWISE = (
    keras.layers.Activation,
    keras.layers.LayerNormalization,
    ContrastNormalization,
    keras.layers.Maximum,
    keras.layers.Minimum,
    keras.layers.Softmax,
)
_NOT_LOCAL = (keras.layers.UpSampling2D, keras.layers.Conv2DTranspose, keras.layers.Permute)


@dataclass(frozen=True)
class ReceptiveField:
    """The input box seen by every position of a layer, per axis ``(rows, cols)``.

    Position ``(i, j)`` sees input rows ``offset[0] + i * stride[0]`` up to (not including)
    ``offset[0] + i * stride[0] + size[0]``, and likewise for columns. A box may reach outside
    the image (into the zero padding): ``offset`` can be negative. ``global_context``: some
    path reaches the layer through a global pooling broadcast back (then every position also
    depends on the whole input; the box covers the local paths).
    """

    size: tuple[int, int]
    stride: tuple[int, int]
    offset: tuple[int, int]
    input_size: tuple[int, int]
    output_size: tuple[int, int]
    global_context: bool = False

    def box(self, row, col) -> tuple:
        """``(top, left, bottom, right)`` of position ``(row, col)``, bottom/right exclusive,
        not clipped to the image; ``row``/``col`` may be int arrays (broadcast)."""
        top = self.offset[0] + np.asarray(row) * self.stride[0]
        left = self.offset[1] + np.asarray(col) * self.stride[1]
        return top, left, top + self.size[0], left + self.size[1]

    def centres(self, axis: int) -> np.ndarray:
        """Input coordinate (pixels, float) of the centre of every position's box along
        ``axis`` (0: rows, 1: columns): ``offset + (size - 1) / 2 + i * stride``."""
        if axis not in (0, 1):
            raise ValueError(f"axis must be 0 (rows) or 1 (columns), got {axis!r}")
        return (
            self.offset[axis]
            + (self.size[axis] - 1) / 2
            + self.stride[axis] * np.arange(self.output_size[axis])
        )


@dataclass(frozen=True)
class _Geo:
    """Per axis: ``lo``, ``hi``, ``jump``, ``n`` (positions); ``glob``: global context."""

    lo: tuple
    hi: tuple
    jump: tuple
    n: tuple
    glob: bool = False


def _spatial(t) -> tuple | None:
    return tuple(int(d) for d in t.shape[1:3]) if len(t.shape) == 4 else None


def _unsupported(node, why: str) -> ValueError:
    return ValueError(
        f"layer {node.path!r} of type {type(node.op).__name__} lies between the "
        f"input and the chosen layer and has no receptive-field geometry: {why}"
    )


def _kernel(node, g: _Geo, out_n) -> _Geo:
    op = node.op
    k = op.pool_size if hasattr(op, "pool_size") else op.kernel_size
    d = getattr(op, "dilation_rate", (1, 1))
    lo, hi = list(g.lo), list(g.hi)
    for a in (0, 1):
        span = (k[a] - 1) * d[a] + 1
        pad = (
            0
            if op.padding == "valid"
            else max((out_n[a] - 1) * op.strides[a] + span - g.n[a], 0) // 2
        )
        lo[a] -= pad * g.jump[a]
        hi[a] += (span - 1 - pad) * g.jump[a]
    jump = tuple(j * s for j, s in zip(g.jump, op.strides))
    return _Geo(tuple(lo), tuple(hi), jump, out_n, g.glob)


def _step(node, geos: list[_Geo], out_n) -> _Geo:
    """The geometry of ``node``'s output from its inputs' geometries."""
    op = node.op
    if out_n is None or isinstance(op, _GLOBAL):  # everything seen at once
        g = geos[0]
        hi = tuple(h + (n - 1) * j for h, n, j in zip(g.hi, g.n, g.jump))
        return _Geo(g.lo, hi, g.jump, (1, 1), g.glob)
    if isinstance(op, _KERNEL):
        return _kernel(node, geos[0], out_n)
    if isinstance(op, (keras.layers.ZeroPadding2D, keras.layers.Cropping2D)):
        g = geos[0]
        sign, pads = (
            (1, op.padding) if isinstance(op, keras.layers.ZeroPadding2D) else (-1, op.cropping)
        )
        lo = tuple(v - sign * p[0] * j for v, p, j in zip(g.lo, pads, g.jump))
        hi = tuple(v - sign * p[0] * j for v, p, j in zip(g.hi, pads, g.jump))
        return _Geo(lo, hi, g.jump, out_n, g.glob)
    if isinstance(op, _NOT_LOCAL):
        raise _unsupported(node, "not covered (see zfkeras.methods.fields)")
    if isinstance(op, keras.layers.Reshape) and (
        out_n != (1, 1) or any(g.n != (1, 1) for g in geos)
    ):
        raise _unsupported(node, "a Reshape is covered only from 1x1 to 1x1 maps")
    if not (
        isinstance(op, _POINTWISE)
        or ops.kind(op) in ("relu", "fused", "linear")
        or ops.is_elementwise_op(op)
    ):
        raise _unsupported(node, "not known to act position by position")
    local = [g for g in geos if g.n == out_n]
    broadcast = [g for g in geos if g.n == (1, 1) and out_n != (1, 1)]
    if not local or len(local) + len(broadcast) != len(geos):
        raise _unsupported(
            node, f"its inputs' grids {[g.n for g in geos]} do not match its output {out_n}"
        )
    if len({g.jump for g in local}) != 1:
        raise _unsupported(node, f"its inputs have different strides {[g.jump for g in local]}")
    lo = tuple(min(v) for v in zip(*[g.lo for g in local]))
    hi = tuple(max(v) for v in zip(*[g.hi for g in local]))
    glob = bool(broadcast) or any(g.glob for g in geos)
    return _Geo(lo, hi, local[0].jump, out_n, glob)


def receptive_field(
    model: keras.Model, layer, input_shape: Sequence[int] | None = None
) -> ReceptiveField:
    """The receptive field of ``layer``: the union over every path from the input.

    Args:
        model: a single-input Keras CNN (any graph, nested models included).
        layer: a layer name, an ``"outer/inner"`` path into nested models, or the layer.
        input_shape: ``(rows, cols, channels)`` of the input, when the model's input size is
            not fixed (or to ask for another size); default the model's input shape.

    Returns:
        A :class:`ReceptiveField`.

    Raises:
        TypeError: ``model`` is not a ``keras.Model``; ``layer`` is not a name or a layer.
        ValueError: an unbuilt or multi-input model; unknown layer; unknown input size; a
            layer on the way without known geometry (named, see the module docstring);
            ``layer``'s output is not a feature map ``(N, rows, cols, channels)``.
    """
    checks.check_model(model)
    given = tuple(model.inputs[0].shape[1:])
    shape = tuple(input_shape) if input_shape is not None else given
    if (
        len(shape) != 3
        or any(not isinstance(n, (int, np.integer)) or n < 1 for n in shape)
        or given[2] not in (None, shape[2])
    ):
        raise ValueError(
            f"input_shape must be (rows, cols, channels) positive ints with the model's "
            f"{given[2]} channels (the model's input shape is {given}), got {input_shape!r}"
        )
    size = tuple(int(n) for n in shape[:2])
    shape = None if input_shape is None else (*size, int(shape[2]))
    found = locate(model, layer, shape)
    if _spatial(found.output) is None:
        raise ValueError(
            f"layer {found.path!r} must output (batch, rows, cols, channels) for "
            f"a receptive field, got shape {tuple(found.output.shape)}"
        )
    geo = {id(found.input): _Geo((0, 0), (1, 1), (1, 1), size)}
    for node in found.nodes:
        ins = [geo[id(t)] for t in node.inputs if id(t) in geo]
        if not ins:
            continue  # depends on no input (a constant)
        out = _step(node, ins, _spatial(keras.tree.flatten(node.output)[0]))
        for t in keras.tree.flatten(node.output):
            geo[id(t)] = out
    g = geo[id(found.output)]
    return ReceptiveField(
        tuple(h - lo for h, lo in zip(g.hi, g.lo)),
        tuple(g.jump),
        tuple(g.lo),
        size,
        tuple(g.n),
        g.glob,
    )
