"""Solutions to chapter 04's exercises (switches, unpooling, the filtering step), and the
mistakes they catch."""

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


def _correlate_full(maps, kernel):
    """A 'valid' correlation of the maps padded by the kernel size less one: (kh, kw, C, C')."""
    kh, kw = kernel.shape[:2]
    padded = np.pad(maps, ((kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    rows, cols = padded.shape[0] - kh + 1, padded.shape[1] - kw + 1
    out = np.zeros((rows, cols, kernel.shape[3]))
    for r in range(rows):
        for c in range(cols):
            out[r, c] = np.tensordot(padded[r : r + kh, c : c + kw], kernel, axes=3)
    return out


def deconv_filter(maps, kernel):
    flipped = kernel[::-1, ::-1]  # each filter turned by 180 degrees
    swapped = flipped.transpose(0, 1, 3, 2)  # (kh, kw, C_out, C_in): outputs become inputs
    return _correlate_full(maps, swapped)


def _unpool_overwrite(values, switches, shape):
    h, w, c = shape
    out = np.zeros((h * w, c))
    channels = np.broadcast_to(np.arange(c), values.shape)
    out[switches.ravel(), channels.ravel()] = values.ravel()
    return out.reshape(h, w, c)


def _unpool_transposed(values, switches, shape):
    return unpool(values, switches, shape).transpose(1, 0, 2)


def _unpool_window_corner(values, switches, shape):
    h, w, c = shape
    out = np.zeros(shape)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            out[2 * i, 2 * j] += values[i, j]
    return out


def _switches_in_window(x, size, stride):
    values, switches = max_pool_with_switches(x, size, stride)
    w = x.shape[1]
    rows, cols = np.divmod(switches, w)
    i, j = np.indices(values.shape[:2])
    return values, (rows - stride * i[..., None]) * size + cols - stride * j[..., None]


def _switches_by_height(x, size, stride):
    values, switches = max_pool_with_switches(x, size, stride)
    rows, cols = np.divmod(switches, x.shape[1])
    return values, rows * x.shape[0] + cols


def _library(maps, kernel):
    out = keras.ops.conv_transpose(maps[None], kernel, strides=1, padding="valid")
    return keras.ops.convert_to_numpy(out)[0]


ANSWERS = {"04.1": unpool, "04.2": max_pool_with_switches, "04.3": deconv_filter}

MISTAKES = {
    "04.1": [
        _unpool_overwrite,  # windows sharing a maximum overwrite instead of adding up
        _unpool_transposed,  # row and column of the switch exchanged
        _unpool_window_corner,  # each value at its window's corner: the switches ignored
    ],
    "04.2": [
        lambda x, size, stride: max_pool_with_switches(x, size, size),  # windows not overlapping
        _switches_in_window,  # the position inside the window, not in the map
        _switches_by_height,  # the flat position with the height, not the width
    ],
    "04.3": [
        lambda maps, kernel: _correlate_full(maps, kernel.transpose(0, 1, 3, 2)),  # not flipped
        lambda maps, kernel: _correlate_full(maps, kernel[::-1].transpose(0, 1, 3, 2)),  # rows
        lambda maps, kernel: _correlate_full(maps, kernel.transpose(1, 0, 3, 2)),  # transposed
        _library,  # Keras' transposed convolution: the flip left to the library
    ],
}
