"""Custom Keras pieces of the paper: contrast normalization and filter renormalization, and the
deconvnet's layers (paper section 2.1, Fig. 1): max pooling that records its switches,
unpooling, rectification and transposed filtering tied to a forward ``Conv2D``.

All are registered serializable objects, so a model that uses them saves to ``.keras`` and loads
back with ``keras.saving.load_model(path)`` and no ``custom_objects``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

PACKAGE = "zfkeras"


@keras.saving.register_keras_serializable(package=PACKAGE)
class ContrastNormalization(keras.layers.Layer):
    """Local response normalization across feature maps (paper Fig. 3, ``norm1``/``norm2``).

    ``b[c] = a[c] / (bias + alpha * sum_{|c'-c| <= depth_radius} a[c']**2) ** beta``, the
    form of Krizhevsky et al. (2012) that ZFNet uses, with their constants by default
    (n = 2 * depth_radius + 1 = 5, k = 2, alpha = 1e-4, beta = 0.75).

    Input and output: ``(batch, rows, cols, channels)``, channels last.
    """

    def __init__(
        self,
        depth_radius: int = 2,
        bias: float = 2.0,
        alpha: float = 1e-4,
        beta: float = 0.75,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(depth_radius, int) or depth_radius < 0:
            raise ValueError(f"depth_radius must be an int >= 0, got {depth_radius!r}")
        if bias <= 0:
            raise ValueError(f"bias must be > 0 (it keeps the denominator positive), got {bias!r}")
        self.depth_radius = depth_radius
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def build(self, input_shape):
        # The sum over neighbouring channels is a matmul with a band matrix: on the CPU it runs
        # forward and backward about twice as fast as TensorFlow's LRN kernel and its gradient.
        channels = int(input_shape[-1])
        i = np.arange(channels)
        self._band = ops.convert_to_tensor(
            (np.abs(i[:, None] - i[None, :]) <= self.depth_radius).astype("float32")
        )
        super().build(input_shape)

    def call(self, inputs):
        sums = ops.matmul(ops.square(inputs), ops.cast(self._band, inputs.dtype))
        denom = self.bias + self.alpha * sums
        if self.beta == 0.75:  # d ** -0.75 == 1 / sqrt(d * sqrt(d)): cheaper than pow
            return inputs * ops.rsqrt(denom * ops.sqrt(denom))
        return inputs * ops.power(denom, -self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "depth_radius": self.depth_radius,
            "bias": self.bias,
            "alpha": self.alpha,
            "beta": self.beta,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class FilterRenorm(keras.constraints.Constraint):
    """The paper's filter renormalization (section 3): any convolutional filter whose RMS
    exceeds ``radius`` is scaled back to exactly ``radius``; smaller filters are unchanged.

    A filter is one output channel of a ``Conv2D`` kernel ``(kh, kw, c_in, c_out)``; its RMS is
    taken over ``kh * kw * c_in`` weights.
    """

    def __init__(self, radius: float = 0.1):
        if not radius > 0:
            raise ValueError(f"radius must be > 0, got {radius!r}")
        self.radius = float(radius)

    def __call__(self, w):
        axes = tuple(range(len(w.shape) - 1))
        rms = ops.sqrt(ops.mean(ops.square(w), axis=axes, keepdims=True))
        scale = ops.minimum(1.0, self.radius / ops.maximum(rms, 1e-12))
        return w * ops.cast(scale, w.dtype)

    def get_config(self):
        return {"radius": self.radius}


# --------------------------------------------------------------------------- deconvnet layers
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


RULES = ("deconvnet", "backprop", "guided")


@keras.saving.register_keras_serializable(package=PACKAGE)
class Rectification(keras.layers.Layer):
    """How a downward signal ``r`` passes a ReLU whose forward input was ``f``.

    * ``"deconvnet"`` (paper section 2.1): ``relu(r)``, zero where the signal is negative;
    * ``"backprop"`` (the gradient): ``r * (f > 0)``, zero where the forward input was negative;
    * ``"guided"`` (guided backpropagation): ``relu(r) * (f > 0)``, zero where either is.

    Call: ``layer(signal, forward=None)``; ``forward`` is the ReLU's input or its output (they
    are positive at the same places) and is needed by ``"backprop"`` and ``"guided"``.
    """

    def __init__(self, rule: str = "deconvnet", **kwargs):
        super().__init__(**kwargs)
        if rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
        self.rule = rule

    def call(self, signal, forward=None):
        if self.rule == "deconvnet":
            return ops.relu(signal)
        if forward is None:
            raise ValueError(
                f"rule {self.rule!r} needs the forward input of the ReLU (`forward=`), got None"
            )
        mask = ops.cast(ops.greater(forward, 0), signal.dtype)
        out = signal if self.rule == "backprop" else ops.relu(signal)
        return out * mask

    def compute_output_shape(self, signal_shape, forward_shape=None):
        return signal_shape

    def get_config(self):
        return {**super().get_config(), "rule": self.rule}


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
