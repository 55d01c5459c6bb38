"""Solutions to chapter 11's exercises (deletion curves, their area, rank correlation), and the
mistakes they catch."""

import numpy as np


def deletion_curve(score, image, saliency, steps, fill, first=0, channels=slice(None)):
    order = np.argsort(-saliency.ravel())
    h, w = saliency.shape
    batch = []
    for t in range(first, steps + 1):
        current = image.copy().reshape(h * w, -1)
        current[order[: t * h * w // steps], channels] = fill
        batch.append(current.reshape(image.shape))
    return np.asarray(score(np.stack(batch)))


def auc(curve):
    curve = np.asarray(curve, dtype=float)
    return float(np.sum(curve[1:] + curve[:-1]) / 2 / (len(curve) - 1))


def rank_correlation(a, b):
    ra = np.argsort(np.argsort(a.ravel()))
    rb = np.argsort(np.argsort(b.ravel()))
    return float(np.corrcoef(ra, rb)[0, 1])


ANSWERS = {"11.1": deletion_curve, "11.2": auc, "11.3": rank_correlation}

MISTAKES = {
    "11.1": [
        lambda score, image, saliency, steps, fill: deletion_curve(
            score, image, -saliency, steps=steps, fill=fill
        ),  # the least salient first
        lambda score, image, saliency, steps, fill: deletion_curve(
            score, image, saliency, steps=steps, fill=fill, first=1
        ),  # the intact image left out
        lambda score, image, saliency, steps, fill: deletion_curve(
            score, image, saliency, steps=steps, fill=fill, channels=0
        ),  # only one channel deleted
    ],
    "11.2": [
        lambda curve: float(np.mean(curve)),  # the mean of the samples: the ends count fully
        lambda curve: float(np.sum(curve[:-1]) / (len(curve) - 1)),  # left Riemann sum
        lambda curve: float(np.sum(curve[1:] + curve[:-1]) / 2 / len(curve)),  # one interval more
    ],
    "11.3": [
        lambda a, b: float(np.corrcoef(a.ravel(), b.ravel())[0, 1]),  # Pearson on the values
        lambda a, b: float(np.corrcoef(np.argsort(a.ravel()), np.argsort(b.ravel()))[0, 1]),
        # the sorting order taken for the ranks (one argsort, not two)
        lambda a, b: float(np.corrcoef(np.argsort(np.argsort(a.ravel())), b.ravel())[0, 1]),
        # only one map ranked
    ],
}
