"""The deconvnet's own layers (paper section 2.1, Fig. 1): max pooling that records its
switches, unpooling, rectification and transposed filtering tied to a forward ``Conv2D``.

All are registered serializable objects (registered names ``"zfkeras>ClassName"``), so a model
that uses them saves to ``.keras`` and loads back with ``keras.saving.load_model(path)`` and no
``custom_objects``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods.deconvnet.rules import MODES, downward

PACKAGE = "zfkeras"


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in value)
    ):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return int(value[0]), int(value[1])


def _padding(value) -> str:
    if not isinstance(value, str) or value.lower() not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {value!r}")
    return value.lower()


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaxPoolingWithSwitches(keras.layers.Layer):
    """Max pooling that also returns its switches (paper Fig. 1, "max locations switches").

    Same windows as ``keras.layers.MaxPooling2D(pool_size, strides, padding)``, overlapping
    windows (3x3 stride 2) and ``"same"`` padding included.

    Call: ``pooled, switches = layer(x)`` with ``x`` ``(batch, rows, cols, channels)``.
    ``pooled`` is what ``MaxPooling2D`` returns; ``switches`` (int64, same shape as ``pooled``)
    holds, for every output value, the flat index into ``x`` of the input value it came from:
    ``((b * rows + r) * cols + c) * channels + ch``. :meth:`locate` turns it back into
    ``(b, r, c, ch)``. A window with several equal maxima records the first one in row-major
    order.
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding: str = "valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(self.pool_size if strides is None else strides, "strides")
        self.padding = _padding(padding)

    def call(self, inputs):
        pooled, switches = tf.nn.max_pool_with_argmax(
            inputs, self.pool_size, self.strides, self.padding.upper(), include_batch_in_index=True
        )
        return pooled, switches

    def compute_output_shape(self, input_shape):
        b, rows, cols, ch = input_shape
        sizes = []
        for n, k, s in zip((rows, cols), self.pool_size, self.strides):
            if n is None:
                sizes.append(None)
            else:
                sizes.append(-(-n // s) if self.padding == "same" else (n - k) // s + 1)
        shape = (b, sizes[0], sizes[1], ch)
        return shape, shape

    def compute_output_spec(self, inputs):
        shape, _ = self.compute_output_shape(inputs.shape)
        return (
            keras.KerasTensor(shape, dtype=inputs.dtype),
            keras.KerasTensor(shape, dtype="int64"),
        )

    @staticmethod
    def locate(switches, input_shape) -> tuple[np.ndarray, ...]:
        """Turn flat switches into index arrays ``(b, row, col, channel)`` of the pooled input
        ``(batch, rows, cols, channels)``."""
        return np.unravel_index(np.asarray(switches), tuple(int(d) for d in input_shape))

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class Unpooling2D(keras.layers.Layer):
    """Unpooling with switches (paper Fig. 1): every value goes back to the input location its
    switch recorded; all other locations are zero, and values whose switches point at the same
    location (overlapping windows) add up. This is exactly how a gradient flows through max
    pooling.

    Call: ``layer(values, switches, output_size)`` with ``values`` and ``switches`` shaped like
    the outputs of :class:`MaxPoolingWithSwitches` and ``output_size`` the ``(rows, cols)`` of
    the pooling input (odd sizes cannot be guessed from the pooled size). Returns
    ``(batch, rows, cols, channels)``. ``pool_size``, ``strides`` and ``padding`` must be those
    of the pooling layer.
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding: str = "valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(self.pool_size if strides is None else strides, "strides")
        self.padding = _padding(padding)

    def call(self, values, switches, output_size):
        shape = tf.stack([tf.shape(values)[0], output_size[0], output_size[1], tf.shape(values)[3]])
        # TensorFlow's MaxPoolGradWithArgmax kernel is exactly "scatter each value to its
        # switch, adding collisions" (it reads only the shape of its `input`); tests check it
        # against a plain loop.
        return tf.raw_ops.MaxPoolGradWithArgmax(
            input=tf.zeros(shape, values.dtype),
            grad=values,
            argmax=switches,
            ksize=[1, *self.pool_size, 1],
            strides=[1, *self.strides, 1],
            padding=self.padding.upper(),
            include_batch_in_index=True,
        )

    def compute_output_spec(self, values, switches, output_size):
        shape = (values.shape[0], output_size[0], output_size[1], values.shape[3])
        return keras.KerasTensor(shape, values.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class Rectification(keras.layers.Layer):
    """How a downward signal ``r`` passes a ReLU whose forward input was ``f``
    (:func:`zfkeras.methods.deconvnet.rules.downward`, the one implementation of the rules).

    * ``"deconvnet"`` (paper section 2.1): ``relu(r)``, zero where the signal is negative;
    * ``"backprop"`` (the gradient): ``r * (f > 0)``, zero where the forward input was negative;
    * ``"guided"`` (guided backpropagation): ``relu(r) * (f > 0)``, zero where either is.

    Call: ``layer(signal, forward=None)``; ``forward`` is the ReLU's input or its output (they
    are positive at the same places) and is needed by ``"backprop"`` and ``"guided"``.
    """

    def __init__(self, mode: str = "deconvnet", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode

    def call(self, signal, forward=None):
        return downward(self.mode, signal, forward)

    def compute_output_shape(self, signal_shape, forward_shape=None):
        return signal_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TiedConv2DTranspose(keras.layers.Layer):
    """Transposed filtering tied to a forward ``Conv2D`` (paper section 2.1): the layer's own
    kernel, flipped vertically and horizontally and with input and output channels swapped,
    i.e. a transposed convolution. No weights of its own; the bias is not used.

    Call: ``layer(signal, output_size=None)`` with ``signal`` ``(batch, rows', cols', filters)``
    shaped like the conv's output; returns ``(batch, rows, cols, in_channels)``, the conv's input
    size. ``output_size`` = the conv input's ``(rows, cols)``: give it whenever the stride is
    above 1, since several input sizes give the same output size (ZFNet's odd sizes); without it
    the smallest size that fits is used. Equals the gradient of the convolution with respect to
    its input.

    Raises:
        TypeError: ``conv`` is not a ``keras.layers.Conv2D``.
        ValueError: the conv is grouped, dilated, ``channels_first`` or ``causal``.
    """

    def __init__(self, conv, in_channels: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(conv, dict):
            conv = keras.saving.deserialize_keras_object(conv)
        if not isinstance(conv, keras.layers.Conv2D):
            raise TypeError(f"conv must be a keras.layers.Conv2D, got {type(conv).__name__}")
        for attr, ok in (
            ("groups", 1),
            ("dilation_rate", (1, 1)),
            ("data_format", "channels_last"),
        ):
            if tuple(np.atleast_1d(getattr(conv, attr))) != tuple(np.atleast_1d(ok)):
                raise ValueError(
                    f"conv {conv.name!r} has {attr}={getattr(conv, attr)!r}; "
                    f"transposed filtering supports only {attr}={ok!r}"
                )
        if conv.padding not in ("valid", "same"):
            raise ValueError(
                f"conv {conv.name!r} has padding={conv.padding!r}; expected 'valid' or 'same'"
            )
        self.conv = conv
        self.in_channels = (
            in_channels
            if in_channels is not None
            else (int(conv.kernel.shape[2]) if conv.built else None)
        )

    def build(self, input_shape):
        if not self.conv.built:
            if self.in_channels is None:
                raise ValueError(f"conv {self.conv.name!r} is not built and in_channels is unknown")
            self.conv.build((None, None, None, self.in_channels))

    def _default_size(self, n, k, s):
        return n * s if self.conv.padding == "same" else (n - 1) * s + k

    def call(self, signal, output_size=None):
        kernel = self.conv.kernel
        kh, kw, cin, _ = kernel.shape
        if output_size is None:
            sh = signal.shape
            output_size = (
                self._default_size(sh[1], kh, self.conv.strides[0]),
                self._default_size(sh[2], kw, self.conv.strides[1]),
            )
        shape = tf.stack([tf.shape(signal)[0], output_size[0], output_size[1], cin])
        return tf.nn.conv2d_transpose(
            signal,
            tf.cast(kernel, signal.dtype),
            shape,
            strides=[1, *self.conv.strides, 1],
            padding=self.conv.padding.upper(),
        )

    def compute_output_spec(self, signal, output_size=None):
        kh, kw = self.conv.kernel_size
        if output_size is None:
            output_size = tuple(
                None if n is None else self._default_size(n, k, s)
                for n, k, s in zip(signal.shape[1:3], (kh, kw), self.conv.strides)
            )
        shape = (signal.shape[0], output_size[0], output_size[1], self.in_channels)
        return keras.KerasTensor(shape, signal.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "conv": keras.saving.serialize_keras_object(self.conv),
            "in_channels": self.in_channels,
        }
