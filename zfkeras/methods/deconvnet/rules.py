"""The three ways down through a ReLU (paper section 2.1; Springenberg et al., 2015), as one
``tf.custom_gradient`` used by every method that sends a signal down a graph: the projections
of :class:`zfkeras.Deconvnet` (both ways down), the class-score projections and Guided Grad-CAM
of :mod:`zfkeras.methods.cam`, and filter ascent's pre-ReLU objective. Nothing here changes the
user's layers: a fused ReLU is split off inside the graph walk (:func:`pre_activation`).

With ``f`` the ReLU's forward input and ``r`` the signal arriving from above:

* ``"backprop"``: ``r * (f > 0)`` (the gradient);
* ``"deconvnet"``: ``relu(r)`` (the paper: the forward input is ignored);
* ``"guided"``: ``relu(r) * (f > 0)``.

ReLU6 and ``max_value`` ReLUs (MobileNetV2): the upper clip is a second gate of the forward
input, so ``backprop`` and ``guided`` pass the signal only where ``0 < f < max_value`` (the
exact gradient's support, so ``backprop`` stays the gradient); ``deconvnet`` ignores the forward
input, clip included. A ReLU with ``negative_slope`` or ``threshold`` is no ReLU here: it is
passed by its gradient, like swish, gelu, sigmoid and hard-swish, which have no deconvnet rule
in the paper. What is a ReLU, and how every other op is crossed: :mod:`zfkeras.methods.ops`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from keras import ops

from zfkeras.methods.graph import pre_activation
from zfkeras.methods.ops import kind, relu_of

MODES = ("deconvnet", "backprop", "guided")


def downward(mode: str, signal, forward=None, max_value: float | None = None):
    """The one implementation of the three ways down through a ReLU (module docstring).

    Args:
        mode: ``"deconvnet"``, ``"backprop"`` or ``"guided"``.
        signal: the signal ``r`` arriving from above.
        forward: the ReLU's forward input ``f`` (or its output: they are positive at the same
            places), same shape; not needed by ``"deconvnet"``.
        max_value: the ReLU's upper clip (ReLU6: 6), a second gate of ``f``.

    Returns:
        The signal below the ReLU, shaped like ``signal``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "deconvnet":
        return ops.relu(signal)
    if forward is None:
        raise ValueError(f"mode {mode!r} needs the ReLU's forward input, got forward=None")
    gate = ops.greater(forward, 0)
    if max_value is not None:
        gate = ops.logical_and(gate, ops.less(forward, max_value))
    passed = signal if mode == "backprop" else ops.relu(signal)
    return passed * ops.cast(gate, passed.dtype)


@functools.cache
def rectifier(mode: str, max_value: float | None = None):
    """A ReLU (clipped at ``max_value`` if given) whose gradient is :func:`downward`."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")

    @tf.custom_gradient
    def rectify(x):
        y = tf.nn.relu(x) if max_value is None else tf.clip_by_value(x, 0.0, max_value)
        return y, lambda r: downward(mode, r, x, max_value)

    return rectify


def relu_hook(mode: str):
    """A :func:`zfkeras.methods.graph.walk` hook running every ReLU
    (:func:`zfkeras.methods.ops.relu_of`) with the ``mode``'s rule (:func:`rectifier`) as its
    gradient and every other op as it is. A fused ReLU is split off its layer
    (:func:`pre_activation`), then the rule."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")

    def hook(op, args, kwargs):
        relu = relu_of(op)
        if relu is None:
            return op(*args, **kwargs)
        where, top = relu
        x = args[0] if where == "layer" else pre_activation(op, args, kwargs)
        return rectifier(mode, top)(x)

    return hook


@dataclass(frozen=True)
class Crossing:
    """How a projection from ``layer`` crosses the layers below it
    (:meth:`zfkeras.Deconvnet.describe`).

    Each field lists layer paths in the order the signal meets them (top-down). A layer with a
    fused ReLU (``Conv2D(..., activation="relu")``) is in ``relu`` and in ``linear``.

    Attributes:
        layer: the chosen layer's path.
        way: ``"chain"`` or ``"graph"``, the way down used.
        relu: crossed with the mode's ReLU rule.
        switches: max pooling, crossed through its switches.
        linear: crossed by their gradient, linear or elementwise (conv, batch norm, padding,
            ``Add``, ``Concatenate``, ``Multiply``, ...).
        nonlinear: crossed by their gradient, non-ReLU nonlinearities (no deconvnet rule).
    """

    layer: str
    way: str
    relu: tuple[str, ...]
    switches: tuple[str, ...]
    linear: tuple[str, ...]
    nonlinear: tuple[str, ...]


def crossing(found, way: str) -> Crossing:
    """The :class:`Crossing` of a located layer (:func:`zfkeras.methods.graph.locate`)."""
    lists: dict[str, list[str]] = {"relu": [], "switches": [], "linear": [], "nonlinear": []}
    for node in reversed(found.nodes):
        k = kind(node.op)
        for field in ("relu", "linear") if k == "fused" else (k,):
            lists[field].append(node.path)
    return Crossing(found.path, way, **{k: tuple(v) for k, v in lists.items()})


STEP_TEXT = {
    "relu": "rectify",
    "fused": "rectify, then the layer's gradient",
    "switches": "unpool with the switches (max pooling's gradient)",
    "linear": "the layer's gradient",
    "nonlinear": "the layer's gradient (no rule)",
}


@dataclass(frozen=True)
class ReluRules:
    """The three ways down through one ReLU (:func:`relu_rules`), each shaped like the input.

    Attributes:
        deconvnet: ``relu(r)``.
        backprop: ``r * (f > 0)``.
        guided: ``relu(r) * (f > 0)``.
    """

    deconvnet: np.ndarray
    backprop: np.ndarray
    guided: np.ndarray


def relu_rules(forward, signal) -> ReluRules:
    """The three ways down through a ReLU on one 2-D example (the chapter's table).

    Args:
        forward: the ReLU's forward input ``f``, a 2-D array.
        signal: the signal ``r`` arriving from above, the same shape.

    Returns:
        A :class:`ReluRules`, each way computed by :func:`downward`.

    Raises:
        ValueError: the arrays are not 2-D of one shape.
    """
    f, r = np.asarray(forward, np.float32), np.asarray(signal, np.float32)
    if f.ndim != 2 or f.shape != r.shape:
        raise ValueError(
            f"forward and signal must be 2-D arrays of one shape, got {f.shape} and {r.shape}"
        )
    return ReluRules(**{mode: np.asarray(downward(mode, r, f)) for mode in MODES})
