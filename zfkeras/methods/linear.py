"""A layer's linear part, computed inside a graph walk without changing the layer.

:func:`pre_activation` is a ``hook`` for :func:`zfkeras.methods.walk.walk`: it splits a fused
activation (``activation="relu"``, ``"softmax"``, ...) off a convolution or dense layer, so
the ReLU rules, the pre-softmax scores and activation maximization see the value before it.
"""

from __future__ import annotations

import weakref

import keras
from keras import ops

_TWINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CONV_OP = keras.layers.Conv2D.convolution_op


def _twin(op, input_shape):
    """A copy of ``op`` with a linear activation, for layers without a public linear part. It
    runs on ``op``'s own variables (``stateless_call``), so it never holds stale weights, and
    it holds no reference to ``op``."""
    if op not in _TWINS:
        cfg = {**op.get_config(), "activation": "linear", "name": f"{op.name}_linear"}
        twin = type(op).from_config(cfg)
        twin.build(input_shape)
        _TWINS[op] = twin
    return _TWINS[op]


def _linear_part(op, x):
    dtype = op.compute_dtype
    if isinstance(op, keras.layers.Dense) or (
        isinstance(op, keras.layers.Conv2D) and type(op).convolution_op is _CONV_OP
    ):
        x = ops.cast(x, dtype)
        kernel = ops.cast(op.kernel, dtype)
        dense = isinstance(op, keras.layers.Dense)
        out = ops.matmul(x, kernel) if dense else op.convolution_op(x, kernel)
        return out + ops.cast(op.bias, dtype) if op.use_bias else out
    trainable = [v.value for v in op.trainable_variables]
    fixed = [v.value for v in op.non_trainable_variables]
    return _twin(op, tuple(x.shape)).stateless_call(trainable, fixed, x)[0]


class PreActivation(keras.layers.Layer):
    """A layer's linear part as one op of a traced graph (its inner ops are not graph nodes,
    so their automatic names cannot clash with the model's layer names)."""

    def __init__(self, fn, **kwargs):
        super().__init__(**kwargs)
        self._fn = fn

    def call(self, x):
        return self._fn(x)


def pre_activation(op, args, kwargs):
    """What ``op(*args, **kwargs)`` computes before its fused activation (the linear part of a
    convolution or dense layer with ``activation="relu"``, ``"softmax"``, ...), on symbolic or
    real tensors, in the layer's compute dtype. The layer itself is never changed (no attribute
    is assigned, not even for a moment): a ``Dense`` or ``Conv2D`` is computed from its kernel
    and bias, any other layer by a linear twin running on its variables."""
    x = args[0] if args else kwargs["inputs"]
    if isinstance(x, keras.KerasTensor):
        return PreActivation(lambda t: _linear_part(op, t), name=f"{op.name}_linear")(x)
    return _linear_part(op, x)
