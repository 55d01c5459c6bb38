"""Solutions to chapter 05's exercises (top-9 mining, receptive-field boxes, patches)."""

import numpy as np


def top_images(maps, k):
    per_image = maps.max(axis=(1, 2))  # (images, channels)
    return np.argsort(-per_image, axis=0)[:k].T


def rf_box(stack, row, col):
    size, jump = 1, 1
    for kernel, stride in stack:
        size += (kernel - 1) * jump
        jump *= stride
    return row * jump, col * jump, row * jump + size, col * jump + size


def crop_patch(image, top, left, size):
    pad = size
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    return padded[top + pad : top + pad + size, left + pad : left + pad + size]


ANSWERS = {"05.1": top_images, "05.2": rf_box, "05.3": crop_patch}
