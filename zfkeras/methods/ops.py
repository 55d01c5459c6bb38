"""What kind of op a layer is, for every method that walks a graph: the one table of op kinds.

One detector of a ReLU (:func:`relu_of`: a ``ReLU`` layer, a relu/relu6 ``Activation``, a
``keras.ops.relu`` in a Functional graph, or a ReLU fused into a layer with
``activation="relu"``), and one classification of every op (:func:`kind`) for the ReLU rules
(:mod:`zfkeras.methods.deconvnet.rules`), receptive fields (:mod:`zfkeras.methods.fields`),
filter ascent and Lucid's objective before a fused ReLU (:mod:`zfkeras.methods.ascent`).
A ReLU is recognized by its function, whatever its spelling: ``"relu"``, ``"relu6"``,
``keras.activations.relu``, ``keras.ops.relu``, ``tf.nn.relu`` (and their relu6 forms). A ReLU
with ``negative_slope`` or ``threshold`` (``LeakyReLU`` too) is no ReLU here.
"""

from __future__ import annotations

import keras

__all__ = [
    "CONV",
    "ELEMENTWISE_OPS",
    "LINEAR",
    "LINEAR_NAMES",
    "LINEAR_OPS",
    "POOL",
    "SWITCHES",
    "is_elementwise_op",
    "kind",
    "relu_of",
]

CONV = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Conv2DTranspose,
)
"""Convolutions (the default layers of :func:`zfkeras.activation_model`)."""
POOL = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
"""2-D pooling layers."""
SWITCHES = (
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.MaxPooling3D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D,
)
"""Max pooling: crossed through its switches (its gradient)."""
LINEAR = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.Conv2DTranspose,
    keras.layers.Dense,
    keras.layers.BatchNormalization,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.UpSampling2D,
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Concatenate,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.Reshape,
    keras.layers.Flatten,
    keras.layers.Permute,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.Rescaling,
    keras.layers.Normalization,
    keras.layers.Identity,
    keras.layers.InputLayer,
    keras.layers.Activation,
)
"""Linear layers (or, for ``Multiply``, elementwise bilinear): crossed by their own gradient."""
LINEAR_NAMES = ("LayerScale",)
"""Linear layers known by class name (``keras.applications.convnext``: a per-channel scale)."""
LINEAR_OPS = ("Add", "Subtract", "Multiply", "Negative", "Identity")
"""``keras.ops`` called on symbolic tensors in a Functional graph (``x + y``) that are linear."""
ELEMENTWISE_OPS = LINEAR_OPS + (
    "Divide",
    "TrueDivide",
    "Absolute",
    "Square",
    "Sqrt",
    "Exp",
    "Log",
    "Sigmoid",
    "Tanh",
    "Relu",
    "Relu6",
    "Silu",
    "Gelu",
    "HardSigmoid",
    "HardSilu",
    "Maximum",
    "Minimum",
    "Power",
)
"""``keras.ops`` acting elementwise (with broadcasting)."""
_RELU_NAMES = {"relu": None, "relu6": 6.0}  # function (or keras op class) name -> max_value
_RELU_OPS = {"Relu": None, "Relu6": 6.0}


def is_elementwise_op(op) -> bool:
    """Whether ``op`` is a keras op (not a layer) acting elementwise (with broadcasting)."""
    return not isinstance(op, keras.layers.Layer) and type(op).__name__ in ELEMENTWISE_OPS


def relu_of(op) -> tuple[str, float | None] | None:
    """How ``op`` holds a ReLU, the one detector of every method.

    Returns:
        ``("layer", max_value)`` for a ``ReLU`` layer (no ``negative_slope``, no
        ``threshold``), a relu/relu6 ``Activation`` or a ``keras.ops.relu``/``relu6`` op of a
        Functional graph; ``("fused", max_value)`` for a layer with a relu/relu6 activation
        (convolutions, dense); ``None`` otherwise. ``max_value``: the upper clip (6 for
        relu6), ``None`` for a plain ReLU.
    """
    if isinstance(op, keras.layers.ReLU):
        if op.negative_slope or op.threshold:
            return None
        return "layer", (None if op.max_value is None else float(op.max_value))
    if not isinstance(op, keras.layers.Layer):
        name = type(op).__name__
        return ("layer", _RELU_OPS[name]) if name in _RELU_OPS else None
    name = getattr(getattr(op, "activation", None), "__name__", None)
    if name not in _RELU_NAMES:
        return None
    return ("layer" if isinstance(op, keras.layers.Activation) else "fused"), _RELU_NAMES[name]


def kind(op) -> str:
    """How a signal sent down crosses ``op``: ``"relu"`` (a ReLU: the mode's rule),
    ``"fused"`` (the layer's gradient, then the rule for its fused ReLU), ``"switches"`` (max
    pooling: its gradient routes through the switches), ``"linear"`` (linear or elementwise:
    its gradient at the forward point) or ``"nonlinear"`` (any other op: its gradient, no
    deconvnet rule)."""
    relu = relu_of(op)
    if relu is not None:
        return "relu" if relu[0] == "layer" else "fused"
    if isinstance(op, SWITCHES):
        return "switches"
    act = getattr(op, "activation", None)
    if act is not None and getattr(act, "__name__", "") != "linear":
        return "nonlinear"
    if (
        isinstance(op, LINEAR)
        or type(op).__name__ in LINEAR_NAMES
        or (is_elementwise_op(op) and type(op).__name__ in LINEAR_OPS)
    ):
        return "linear"
    return "nonlinear"
