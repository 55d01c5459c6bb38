"""Solutions to chapter 10's exercises (occlusion maps, their cost, saturated probabilities),
and the mistakes they catch."""

import numpy as np


def occlusion_map(score, image, size, stride, fill, fits=True, channels=slice(None)):
    h, w = image.shape[:2]
    last = 0 if fits else size - 1  # with fits=False the square may stick out at the edge
    tops, lefts = range(0, h - size + 1 + last, stride), range(0, w - size + 1 + last, stride)
    batch = []
    for t in tops:
        for s in lefts:
            occluded = image.copy()
            occluded[t : t + size, s : s + size, channels] = fill
            batch.append(occluded)
    return np.asarray(score(np.stack(batch))).reshape(len(tops), len(lefts))


def _p0(logits):
    e = np.exp(np.array(logits, dtype=float))
    return e[0] / e.sum()


ANSWERS = {
    "10.1": occlusion_map,
    "10.2": ((32 - 12) // 5 + 1) ** 2,
    "10.3": _p0([12, 0, 0]) - _p0([10, 0, 0]),
}

MISTAKES = {
    "10.1": [
        lambda score, image, size, stride, fill: occlusion_map(
            score, image, size, stride, fill, fits=False
        ),  # the square slides past the edge, clipped
        lambda score, image, size, stride, fill: occlusion_map(
            score, image, size, stride, fill, channels=0
        ),  # only the first channel occluded
        lambda score, image, size, stride, fill: (
            score(image[None])[0] - occlusion_map(score, image, size, stride, fill)
        ),  # the drop, not the score
    ],
    "10.2": [
        (32 // 5) ** 2,  # positions every stride over the whole side, fitting or not
        ((32 - 12) // 5) ** 2,  # the first position forgotten
        (32 - 12) // 5 + 1,  # one side only
    ],
    "10.3": [
        2.0,  # the drop of the logit: the probability is saturated
        _p0([10, 0, 0]),  # the probability after the drop, not its fall
        2 * _p0([12, 0, 0]) * (1 - _p0([12, 0, 0])),  # the slope at 12 times 2: linearized
    ],
}
