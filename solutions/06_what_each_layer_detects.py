"""Solutions to chapter 06's exercises (network dissection: thresholds, IoU, detectors)."""

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
