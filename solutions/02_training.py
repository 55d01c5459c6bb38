"""Solutions to chapter 02's exercises (mean subtraction, 10 crops, top-k error), and the
mistakes they catch."""

import numpy as np


def subtract_mean(train, images):
    return images - train.mean(axis=0)


def ten_crops(image, size):
    h, w = image.shape[:2]
    tops = [0, 0, h - size, h - size, (h - size) // 2]
    lefts = [0, w - size, 0, w - size, (w - size) // 2]
    crops = np.stack([image[t : t + size, s : s + size] for t, s in zip(tops, lefts)])
    return np.concatenate([crops, crops[:, :, ::-1]])


def top_k_error(probs, labels, k):
    top = np.argsort(-probs, axis=1)[:, :k]
    return float(np.mean(~np.any(top == labels[:, None], axis=1)))


def _crops_centre_up(image, size):
    h, w = image.shape[:2]
    crops = ten_crops(image, size)
    top, left = (h - size + 1) // 2, (w - size + 1) // 2
    centre = image[top : top + size, left : left + size]
    crops[4], crops[9] = centre, centre[:, ::-1]
    return crops


def _crops_interleaved(image, size):
    crops = ten_crops(image, size)
    return crops[[0, 5, 1, 6, 2, 7, 3, 8, 4, 9]]


ANSWERS = {"02.1": subtract_mean, "02.2": ten_crops, "02.3": top_k_error}

MISTAKES = {
    "02.1": [
        lambda train, images: images - train.mean(axis=(0, 1, 2)),  # one mean per channel
        lambda train, images: images - images.mean(axis=0),  # the test images' own mean
        lambda train, images: images - train.mean(),  # one number for everything
    ],
    "02.2": [
        lambda image, size: ten_crops(image[::-1], size)[:, ::-1],  # mirrored up-down
        _crops_centre_up,  # the centre rounded up, not down
        _crops_interleaved,  # each mirror image right after its crop
    ],
    "02.3": [
        lambda probs, labels, k: top_k_error(probs, labels, max(k - 1, 1)),  # off by one
        lambda probs, labels, k: top_k_error(probs, labels, 1),  # only the top class counts
        lambda probs, labels, k: 1 - top_k_error(probs, labels, k),  # the accuracy
    ],
}
