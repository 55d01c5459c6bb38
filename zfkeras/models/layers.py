"""Custom Keras pieces of the networks: contrast normalization (paper Fig. 3) and filter
renormalization (section 3). The deconvnet's own layers live in
:mod:`zfkeras.methods.deconvnet.layers`.

Both are registered serializable objects, so a model that uses them saves to ``.keras`` and loads
back with ``keras.saving.load_model(path)`` and no ``custom_objects``.
"""

from __future__ import annotations

import keras
import numpy as np
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
