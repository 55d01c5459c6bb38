"""ZFNet (paper Fig. 3) and the AlexNet-style variant it was derived from (paper section 4.1).

At ``input_shape=(224, 224, 3)`` and ``width=1`` :func:`zfnet` reproduces the paper's table
exactly: 110, 55, 26, 13, 13, 13, 13, 6 spatial sizes, 9216 flattened features and 62,357,608
parameters for 1000 classes. Smaller inputs and widths give the same topology at CPU size.

The output layer ``predictions`` is a ``Dense`` with a softmax. Methods that need the class score
*before* the softmax (Grad-CAM, class-score ascent) call :func:`zfkeras.pre_softmax`, which works
on any model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import keras
from keras import layers

from zfkeras.models.layers import ContrastNormalization, FilterRenorm

# (name, filters at width 1, kernel, stride, padding before, padding mode)
# ZeroPadding + "valid" reproduces the paper's 110 for conv1; pooling uses "same" where the
# original code rounds windows up (ceil mode): 110 -> 55 and 26 -> 13.
_ZF_STEM = [
    ("conv1", 96, 7, 2, 1, "valid"),
    ("pool1", None, 3, 2, 0, "same"),
    ("conv2", 256, 5, 2, 0, "valid"),
    ("pool2", None, 3, 2, 0, "same"),
]
_ALEX_STEM = [
    ("conv1", 96, 11, 4, 2, "valid"),
    ("pool1", None, 3, 2, 0, "valid"),
    ("conv2", 256, 5, 1, 0, "same"),
    ("pool2", None, 3, 2, 0, "valid"),
]
_TOP = [
    ("conv3", 384, 3, 1, 0, "same"),
    ("conv4", 384, 3, 1, 0, "same"),
    ("conv5", 256, 3, 1, 0, "same"),
    ("pool5", None, 3, 2, 0, "valid"),
]


def _out_size(n: int, kernel: int, stride: int, pad: int, mode: str) -> int:
    n = n + 2 * pad
    if mode == "same":
        return math.ceil(n / stride)
    return (n - kernel) // stride + 1 if n >= kernel else 0


def spatial_sizes(input_size: int, arch: str = "zfnet") -> Mapping[str, int]:
    """Spatial size of every stage for a square input of ``input_size`` pixels: a read-only
    table keyed by layer name, in the network's order.

    >>> spatial_sizes(224)["pool5"]
    6
    """
    stages = (_ZF_STEM if arch == "zfnet" else _ALEX_STEM) + _TOP
    sizes, n = {}, input_size
    for name, _, k, s, p, mode in stages:
        n = _out_size(n, k, s, p, mode)
        sizes[name] = n
    return MappingProxyType(sizes)


def min_input_size(arch: str = "zfnet") -> int:
    """Smallest square input for which every stage of ``arch`` has at least one position."""
    n = 1
    while min(spatial_sizes(n, arch).values()) < 1:
        n += 1
    return n


def _check_args(input_shape, num_classes, width, fc_units, dropout, arch):
    if not isinstance(input_shape, Sequence) or len(input_shape) != 3:
        raise ValueError(f"input_shape must be (rows, cols, channels), got {input_shape!r}")
    if any(not isinstance(d, int) or d < 1 for d in input_shape):
        raise ValueError(f"input_shape must hold positive ints, got {input_shape!r}")
    smallest = min_input_size(arch)
    if min(input_shape[:2]) < smallest:
        raise ValueError(
            f"input_shape {tuple(input_shape)} is too small for the {arch} topology: rows and "
            f"cols must be at least {smallest} (the smallest size that works)"
        )
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width!r}")
    if not isinstance(fc_units, int) or fc_units < 1:
        raise ValueError(f"fc_units must be a positive int, got {fc_units!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")


def _build(
    arch, input_shape, num_classes, width, fc_units, dropout, contrast_norm, renorm_radius, name
):
    _check_args(input_shape, num_classes, width, fc_units, dropout, arch)
    stem = _ZF_STEM if arch == "zfnet" else _ALEX_STEM
    inputs = keras.Input(tuple(input_shape), name="image")
    x = inputs
    for lname, filters, k, s, pad, mode in stem + _TOP:
        if filters is None:
            x = layers.MaxPooling2D(k, s, padding=mode, name=lname)(x)
            if contrast_norm and lname in ("pool1", "pool2"):
                x = ContrastNormalization(name="norm" + lname[-1])(x)
            continue
        if pad:
            x = layers.ZeroPadding2D(pad, name="pad" + lname[-1])(x)
        x = layers.Conv2D(
            max(1, round(filters * width)),
            k,
            strides=s,
            padding=mode,
            activation="relu",
            kernel_initializer="he_normal",
            kernel_constraint=FilterRenorm(renorm_radius) if renorm_radius else None,
            name=lname,
        )(x)
    x = layers.Flatten(name="flatten")(x)
    for i in (6, 7):
        x = layers.Dense(fc_units, activation="relu", name=f"fc{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"drop{i}")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def zfnet(
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    width: float = 1.0,
    fc_units: int = 4096,
    dropout: float = 0.5,
    contrast_norm: bool = True,
    renorm_radius: float | None = 0.1,
    name: str = "zfnet",
) -> keras.Model:
    """Build ZFNet (paper Fig. 3) as a functional ``keras.Model``.

    Args:
        input_shape: ``(rows, cols, 3)``; at least 53 pixels a side (smaller is refused with a
            ``ValueError`` that states the smallest size).
        num_classes: size of the softmax output ``predictions``.
        width: multiplier on every conv layer's filter count (0.5 = half width).
        fc_units: units in ``fc6`` and ``fc7``.
        dropout: dropout rate after ``fc6`` and ``fc7`` (0 removes the layers).
        contrast_norm: add ``norm1``/``norm2`` (local response normalization) after pools 1-2.
        renorm_radius: the paper's filter RMS radius, applied as a kernel constraint to every
            conv layer; ``None`` switches it off.

    Returns:
        A model with layers ``conv1``..``conv5``, ``pool1``, ``pool2``, ``pool5``, ``norm1``,
        ``norm2``, ``fc6``, ``fc7`` and ``predictions`` (softmax), output ``(batch, classes)``.
    """
    return _build(
        "zfnet",
        input_shape,
        num_classes,
        width,
        fc_units,
        dropout,
        contrast_norm,
        renorm_radius,
        name,
    )


def alexnet(
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    width: float = 1.0,
    fc_units: int = 4096,
    dropout: float = 0.5,
    contrast_norm: bool = True,
    renorm_radius: float | None = 0.1,
    name: str = "alexnet",
) -> keras.Model:
    """The same network with AlexNet's first layers: conv1 11x11 stride 4, conv2 stride 1.

    This is the single-tower AlexNet of paper section 4.1 / Fig. 6; at 224x224 its stages are
    55, 27, 27, 13, 13, 13, 13, 6, so everything from ``conv3`` up matches :func:`zfnet`.
    Arguments and layer names as in :func:`zfnet`.
    """
    return _build(
        "alexnet",
        input_shape,
        num_classes,
        width,
        fc_units,
        dropout,
        contrast_norm,
        renorm_radius,
        name,
    )
