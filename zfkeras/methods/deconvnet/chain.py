"""A chain-shaped Keras CNN, layer by layer, each with its top-down step (paper section 2.1).

:func:`steps_from` takes the layers from the model's input to a chosen layer (found by the one
graph walk of :mod:`zfkeras.methods.graph`: Sequential, functional, models nested inside
models) and returns one :class:`Step` per layer if they form a chain. A step runs its layer forward
(recording what the way down needs: switches, the ReLU's output, the layer's input) and sends a
signal down through it with the deconvnet's custom layers, as paper Fig. 1 draws it.
:class:`zfkeras.Deconvnet` compiles these steps for chains; any other graph goes down by
``tf.custom_gradient`` ReLU rules (:mod:`zfkeras.methods.deconvnet.rules`).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from zfkeras.methods import ops
from zfkeras.methods.deconvnet.layers import (
    MaxPoolingWithSwitches,
    Rectification,
    TiedConv2DTranspose,
    Unpooling2D,
)
from zfkeras.methods.deconvnet.rules import MODES
from zfkeras.methods.graph import Located
from zfkeras.models.layers import ContrastNormalization

SUPPORTED = (
    "InputLayer",
    "Conv2D (relu or linear)",
    "ReLU",
    "Activation (relu or linear)",
    "MaxPooling2D",
    "ZeroPadding2D",
    "ContrastNormalization",
    "Dropout",
    "BatchNormalization",
)


def _act_name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


class Step:
    """One forward layer and its way down.

    Attributes:
        layer: the model's layer.
        kind: ``"conv"``, ``"relu"``, ``"pool"``, ``"pad"``, ``"norm"``, ``"bn"`` or
            ``"identity"``.
    """

    def __init__(self, layer: keras.layers.Layer, switches: str = "indices"):
        self.layer = layer
        self.switches = switches
        self.relu = False
        self.rect = {
            mode: Rectification(mode, name=f"{layer.name}_rectify_{mode}") for mode in MODES
        }
        if isinstance(layer, keras.layers.Conv2D) and type(layer).__name__ == "Conv2D":
            act, relu = _act_name(layer.activation), ops.relu_of(layer)
            if not (act == "linear" or (relu is not None and relu[1] is None)):
                raise _unsupported(layer, f"its activation is {act!r}; only relu or linear")
            try:
                self.filter = TiedConv2DTranspose(layer, name=f"{layer.name}_transposed")
            except (TypeError, ValueError) as e:
                raise _unsupported(layer, str(e)) from e
            self.kind, self.relu = "conv", relu is not None
        elif isinstance(layer, (keras.layers.ReLU, keras.layers.Activation)):
            self.kind = "relu"
            if isinstance(layer, keras.layers.ReLU):
                if layer.max_value is not None or layer.negative_slope or layer.threshold:
                    raise _unsupported(
                        layer, "only a plain ReLU (no max_value, negative_slope or threshold)"
                    )
            else:
                act, relu = _act_name(layer.activation), ops.relu_of(layer)
                if not (act == "linear" or (relu is not None and relu[1] is None)):
                    raise _unsupported(layer, f"its activation is {act!r}; only relu or linear")
                self.kind = "relu" if relu is not None else "identity"
        elif isinstance(layer, keras.layers.MaxPooling2D):
            _channels_last(layer)
            self.kind = "pool"
            self.pool = MaxPoolingWithSwitches(
                layer.pool_size, layer.strides, layer.padding, name=f"{layer.name}_switches"
            )
            self.unpool = Unpooling2D(
                layer.pool_size, layer.strides, layer.padding, name=f"{layer.name}_unpool"
            )
        elif isinstance(layer, keras.layers.ZeroPadding2D):
            _channels_last(layer)
            self.kind = "pad"
        elif isinstance(layer, ContrastNormalization):
            self.kind = "norm"
        elif isinstance(layer, keras.layers.BatchNormalization):
            if layer.axis not in (-1, 3) and list(layer.axis) not in ([-1], [3]):
                raise _unsupported(layer, f"axis={layer.axis}; only the channel axis (-1)")
            self.kind = "bn"
        elif isinstance(layer, (keras.layers.Dropout, keras.layers.InputLayer)):
            self.kind = "identity"
        else:
            raise _unsupported(layer, "the deconvnet supports " + ", ".join(SUPPORTED))

    def describe(self) -> str:
        """The top-down step in words."""
        return {
            "conv": ("rectify, then " if self.relu else "") + "transposed filtering",
            "relu": "rectify",
            "pool": "unpool with the switches",
            "pad": "crop the padding",
            "norm": "contrast normalization's gradient",
            "bn": "scale by gamma/sqrt(var+eps)",
            "identity": "nothing",
        }[self.kind]

    def forward(self, x):
        """Run the layer; return ``(output, record)`` with what :meth:`down` needs."""
        if self.kind == "pool" and self.switches == "indices":
            y, switches = self.pool(x)
            return y, (switches, _size(x))
        if self.kind == "identity":
            return x, None
        y = self.layer(x, training=False) if self.kind == "bn" else self.layer(x)
        if self.kind == "conv":
            return y, (y, _size(x))
        return y, (x, y)

    def down(self, signal, record, mode: str):
        """Send ``signal`` (shaped like the layer's output) to the layer's input."""
        if self.kind == "conv":
            y, size = record
            if self.relu:
                signal = self.rect[mode](signal, y)
            return self.filter(signal, output_size=size)
        if self.kind == "relu":
            return self.rect[mode](signal, record[1])
        if self.kind == "pool" and self.switches == "indices":
            switches, size = record
            return self.unpool(signal, switches, output_size=size)
        if self.kind == "pool":  # switches kept as the pooling input: the same locations
            x, y = record
            p = self.layer
            return tf.raw_ops.MaxPoolGrad(
                orig_input=x,
                orig_output=y,
                grad=signal,
                ksize=[1, *p.pool_size, 1],
                strides=[1, *p.strides, 1],
                padding=p.padding.upper(),
            )
        if self.kind == "pad":
            (top, bottom), (left, right) = self.layer.padding
            rows, cols = tf.shape(signal)[1], tf.shape(signal)[2]
            return signal[:, top : rows - bottom, left : cols - right, :]
        if self.kind == "norm":
            x, y = record
            n = self.layer
            return tf.raw_ops.LRNGrad(
                input_grads=signal,
                input_image=x,
                output_image=y,
                depth_radius=n.depth_radius,
                bias=n.bias,
                alpha=n.alpha,
                beta=n.beta,
            )
        if self.kind == "bn":
            bn = self.layer
            slope = tf.math.rsqrt(tf.cast(bn.moving_variance, signal.dtype) + bn.epsilon)
            if bn.scale:
                slope = slope * tf.cast(bn.gamma, signal.dtype)
            return signal * slope
        return signal


def _size(x):
    """``(rows, cols)`` of ``x``: Python ints when static, else a tensor."""
    if x.shape[1] is not None and x.shape[2] is not None:
        return int(x.shape[1]), int(x.shape[2])
    return tf.shape(x)[1:3]


def _unsupported(layer, why: str) -> ValueError:
    return ValueError(
        f"layer {layer.name!r} of type {type(layer).__name__} lies between the "
        f"input and the chosen layer and is not supported: {why}"
    )


def _channels_last(layer):
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise _unsupported(layer, "only data_format='channels_last'")


def steps_from(located: Located, switches: str = "indices") -> list[Step]:
    """One :class:`Step` per leaf op between the input and the located layer, if they form a
    chain (each op's only input is the previous op's output).

    Raises:
        ValueError: an op takes several inputs or the graph branches (naming the op), or an op
            has no top-down step here (see :class:`Step`).
    """
    for node in located.nodes:
        if len(node.inputs) != 1:
            raise _unsupported(node.op, "it takes several inputs; the deconvnet needs a chain")
    prev, steps = located.input, []
    for node in located.nodes:
        if node.inputs[0] is not prev:
            raise _unsupported(
                node.op,
                "its input is not the previous layer's output (the "
                "graph branches); the deconvnet needs a chain",
            )
        prev = keras.tree.flatten(node.output)[0]
        steps.append(Step(node.op, switches))
    if not steps:
        raise ValueError(f"layer {located.path!r} is the input; choose a layer above it")
    return steps
