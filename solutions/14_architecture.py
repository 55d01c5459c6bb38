"""Solutions to chapter 14's exercises (renormalization, dead filters, the cost of conv1), and
the mistakes they catch."""

import numpy as np


def renormalize(kernel, radius):
    rms = np.sqrt(np.mean(kernel**2, axis=tuple(range(kernel.ndim - 1))))
    return kernel * np.minimum(1.0, radius / rms)


def dead_filters(outputs, fraction):
    return np.mean(outputs == 0, axis=(0, 1, 2)) >= fraction


def cost(kernel, stride, pad):
    side = (224 + 2 * pad - kernel) // stride + 1
    return side * side * kernel * kernel * 3 * 96


ANSWERS = {
    "14.1": renormalize,
    "14.2": dead_filters,
    "14.3": cost(7, 2, 1) / cost(11, 4, 0),
}

MISTAKES = {
    "14.1": [
        lambda kernel, radius: (
            kernel * radius / np.sqrt(np.mean(kernel**2, axis=(0, 1, 2)))
        ),  # every filter scaled to the radius, small ones up
        lambda kernel, radius: kernel * min(1.0, radius / np.sqrt(np.mean(kernel**2))),  # global
        lambda kernel, radius: np.clip(kernel, -radius, radius),  # each weight clipped
    ],
    "14.2": [
        lambda outputs, fraction: np.mean(outputs == 0, axis=(0, 1, 2)) > fraction,  # boundary out
        lambda outputs, fraction: np.mean(outputs == 0, axis=(1, 2)).max(axis=0) >= fraction,
        # dead on one image is enough
        lambda outputs, fraction: np.mean(outputs > 0, axis=(0, 1, 2)) >= fraction,  # alive
    ],
    "14.3": [
        49 / 121,  # the kernel areas only: the number of output positions ignored
        cost(11, 4, 0) / cost(7, 2, 1),  # the ratio upside down
        (7 * 7 * 110 * 110) / (11 * 11 * 55 * 55),  # AlexNet's side rounded to 55
    ],
}
