"""Solutions to chapter 11's exercises (deletion curves, their area, rank correlation)."""

import numpy as np


def deletion_curve(score, image, saliency, steps, fill):
    order = np.argsort(-saliency.ravel())
    h, w = saliency.shape
    batch = []
    for t in range(steps + 1):
        current = image.copy().reshape(h * w, -1)
        current[order[: t * h * w // steps]] = fill
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
