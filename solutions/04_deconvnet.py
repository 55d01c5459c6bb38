"""Solutions to chapter 04's exercises (switches, unpooling, the filtering step)."""

import keras
import numpy as np


def unpool(values, switches, shape):
    h, w, c = shape
    out = np.zeros((h * w, c))
    channels = np.broadcast_to(np.arange(c), values.shape)
    np.add.at(out, (switches.ravel(), channels.ravel()), values.ravel())
    return out.reshape(h, w, c)


def max_pool_with_switches(x, size, stride):
    h, w, c = x.shape
    rows, cols = (h - size) // stride + 1, (w - size) // stride + 1
    values = np.zeros((rows, cols, c))
    switches = np.zeros((rows, cols, c), dtype=int)
    for i in range(rows):
        for j in range(cols):
            window = x[i * stride : i * stride + size, j * stride : j * stride + size]
            flat = window.reshape(-1, c)
            best = flat.argmax(axis=0)
            values[i, j] = flat[best, np.arange(c)]
            r, s = np.divmod(best, size)
            switches[i, j] = (i * stride + r) * w + j * stride + s
    return values, switches


def deconv_filter(maps, kernel):
    out = keras.ops.conv_transpose(maps[None], kernel, strides=1, padding="valid")
    return keras.ops.convert_to_numpy(out)[0]


ANSWERS = {"04.1": unpool, "04.2": max_pool_with_switches, "04.3": deconv_filter}
