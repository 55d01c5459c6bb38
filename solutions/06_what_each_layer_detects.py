"""Solutions to chapter 06's exercises (network dissection: thresholds, IoU, detectors), and
the mistakes they catch."""

import numpy as np


def unit_thresholds(acts, q):
    return np.quantile(acts.reshape(-1, acts.shape[-1]), 1 - q, axis=0)


def dataset_iou(unit_masks, concept_masks):
    union = np.sum(unit_masks | concept_masks)
    return float(np.sum(unit_masks & concept_masks) / union) if union else 0.0


def unique_concepts(iou, threshold):
    detectors = iou.max(axis=1) > threshold
    return len(set(iou.argmax(axis=1)[detectors].tolist()))


ANSWERS = {"06.1": unit_thresholds, "06.2": dataset_iou, "06.3": unique_concepts}

MISTAKES = {
    "06.1": [
        lambda acts, q: np.quantile(acts.reshape(-1, acts.shape[-1]), q, axis=0),  # q, not 1 - q
        lambda acts, q: np.full(acts.shape[-1], np.quantile(acts, 1 - q)),  # one level for all
        lambda acts, q: np.quantile(acts, 1 - q, axis=(1, 2)).mean(axis=0),  # per image, averaged
    ],
    "06.2": [
        lambda u, c: float(np.mean([np.sum(a & b) / np.sum(a | b) for a, b in zip(u, c)])),  # mean
        lambda u, c: float(np.sum(u & c) / (np.sum(u) + np.sum(c))),  # over the sum of the areas
        lambda u, c: float(np.sum(u & c) / np.sum(u)),  # over the unit's area only
    ],
    "06.3": [
        lambda iou, threshold: int(np.sum(iou.max(axis=1) > threshold)),  # detector units
        lambda iou, threshold: int(np.sum((iou > threshold).any(axis=0))),  # any unit exceeds it
        lambda iou, threshold: len(set(iou.argmax(axis=1).tolist())),  # no threshold
    ],
}
