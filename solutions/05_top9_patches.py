"""Solutions to chapter 05's exercises (top-9 mining, receptive-field boxes, patches), and the
mistakes they catch."""

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


def _top_positions(maps, k):
    flat = maps.reshape(len(maps), -1, maps.shape[-1])
    order = np.argsort(-flat.reshape(-1, maps.shape[-1]), axis=0)[:k]
    return (order // flat.shape[1]).T  # the image of each of the k strongest positions


def _box_without_top_stride(stack, row, col):
    top, left, bottom, right = rf_box(stack, row, col)
    jump = int(np.prod([s for _, s in stack[:-1]]))
    size = bottom - top
    return row * jump, col * jump, row * jump + size, col * jump + size


def _crop_edge(image, top, left, size):
    pad = size
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    return padded[top + pad : top + pad + size, left + pad : left + pad + size]


def _crop_moved_inside(image, top, left, size):
    top = min(max(top, 0), image.shape[0] - size)
    left = min(max(left, 0), image.shape[1] - size)
    return crop_patch(image, top, left, size)


ANSWERS = {"05.1": top_images, "05.2": rf_box, "05.3": crop_patch}

MISTAKES = {
    "05.1": [
        _top_positions,  # the strongest positions: one image counted several times
        lambda maps, k: np.argsort(maps.max(axis=(1, 2)), axis=0)[:k].T,  # weakest first
        lambda maps, k: np.argsort(-maps.mean(axis=(1, 2)), axis=0)[:k].T,  # mean, not maximum
    ],
    "05.2": [
        lambda stack, row, col: np.array(rf_box(stack, row, col)) - 1,  # off by one
        lambda stack, row, col: np.array(rf_box(stack, row, col)) - (0, 0, 1, 1),  # inclusive
        _box_without_top_stride,  # the last layer's own stride left out of the spacing
    ],
    "05.3": [
        lambda image, top, left, size: image[
            max(top, 0) : top + size, max(left, 0) : left + size
        ],  # clipped: smaller near the border
        _crop_edge,  # the border repeated instead of zeros
        _crop_moved_inside,  # the window moved inside the image
    ],
}
