"""Figures for network dissection and the faithfulness checks.

Every function takes computed results (:class:`zfkeras.methods.dissection.Dissection`, masks,
the dict of :func:`zfkeras.methods.faithfulness.randomization_test`,
:class:`zfkeras.methods.deletion.Curve`) and returns the matplotlib Figure; nothing is computed
here.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from zfkeras.figures.common import tile_mosaic, to_display
from zfkeras.figures.style import (
    FONT,
    HEAD_PX,
    SEP,
    SMALL,
    TITLE_PX,
    colorbar,
    fit_zoom,
    head,
    mappable,
    pixel_grid,
    show,
    subplots,
)


def _display(image) -> np.ndarray:
    img = np.asarray(image)
    return img if img.dtype == np.uint8 else to_display(img)


def summary_figure(dissection, size: float = 3.2):
    """Left: unique detectors per category (Bau et al. Fig. 4 style) and units labelled per
    category. Right: every unit's best IoU, sorted, coloured by its category, with the
    detector threshold.

    Args:
        dissection: a :class:`~zfkeras.methods.dissection.Dissection`.
        size: height in inches.
    """
    cats = list(dissection.concept_names)
    unique, units = dissection.summary(), dissection.detectors()
    colours = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(cats)}
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(2.6 * size, size),
                                   gridspec_kw={"width_ratios": [1, 2]})
    pos = np.arange(len(cats))
    ax0.bar(pos - 0.2, [unique[c] for c in cats], 0.4, color=[colours[c] for c in cats],
            label="unique concepts")
    ax0.bar(pos + 0.2, [units[c] for c in cats], 0.4, color=[colours[c] for c in cats],
            alpha=0.45, label="detector units")
    ax0.set_xticks(pos, cats, fontsize=8)
    ax0.set_title(f"{dissection.layer}: detectors", fontsize=9)
    ax0.legend(fontsize=7)
    best = sorted(enumerate(dissection.best), key=lambda b: -b[1][2])
    ax1.bar(np.arange(len(best)), [b[2] for _, b in best], 1.0,
            color=[colours[b[0]] if b[0] else "0.75" for _, b in best])
    ax1.axhline(dissection.iou_threshold, color="k", lw=0.8, ls="--")
    ax1.set_xlabel("units, sorted by best IoU (grey: no detector)", fontsize=8)
    ax1.set_ylabel("IoU", fontsize=8)
    ax1.set_title(f"best concept per unit (threshold {dissection.iou_threshold:g})",
                  fontsize=9)
    fig.tight_layout()
    return fig


def unit_figure(images, masks, titles: Sequence[str] | None = None, size: float = 1.1,
                colour=(1.0, 0.2, 0.1), alpha: float = 0.55):
    """One row per unit, one column per image: the unit's mask (above its threshold, at image
    size) drawn over the image.

    Args:
        images: ``(N, H, W, 3)`` uint8 (or floats, scaled for display).
        masks: ``(N, H, W, U)`` bool, e.g. :func:`zfkeras.methods.dissection.unit_masks`.
        titles: one label per unit (row), e.g. ``f"unit {k}: {name} {iou:.2f}"``.
        size: inches per panel.
    """
    images, masks = np.asarray(images), np.asarray(masks, bool)
    if masks.ndim != 4 or masks.shape[:3] != images.shape[:3]:
        raise ValueError(f"masks must be (N, H, W, units) with (N, H, W) = {images.shape[:3]} "
                         f"(the images), got shape {masks.shape}")
    n, units = len(images), masks.shape[-1]
    if titles is not None and len(titles) != units:
        raise ValueError(f"titles must have one label per unit ({units}), got {len(titles)}")
    fig, axes = plt.subplots(units, n, figsize=(size * n + 1.2, size * units), squeeze=False)
    for u in range(units):
        for i in range(n):
            img = _display(images[i]).astype(np.float32)
            img = img / 255.0 if img.max() > 1 else img
            m = masks[i, ..., u, None]
            axes[u, i].imshow(np.where(m, (1 - alpha) * img + alpha * np.array(colour),
                                       0.35 * img))
            axes[u, i].set_xticks([])
            axes[u, i].set_yticks([])
        axes[u, 0].set_ylabel(titles[u] if titles is not None else f"unit {u}", fontsize=7,
                              rotation=0, ha="right", va="center")
    fig.tight_layout(pad=0.3)
    return fig


def randomization_figure(result: dict, images=None, max_images: int = 3, size: float = 1.2):
    """Adebayo et al. Fig. 2 style: the explanation after each randomization step (columns)
    for a few images (rows), and the Spearman/SSIM curves underneath.

    Args:
        result: the dict of :func:`zfkeras.methods.faithfulness.randomization_test`.
        images: optional ``(N, H, W, 3)`` shown in a first column.
        max_images: rows drawn.
        size: inches per panel.
    """
    maps = np.abs(np.asarray(result["maps"]))[:, :max_images]
    steps, n = maps.shape[:2]
    extra = images is not None
    fig = plt.figure(figsize=(size * (steps + extra) + 0.5, size * (n + 1.6)))
    grid = fig.add_gridspec(n + 2, steps + extra)
    for i in range(n):
        if extra:
            ax = fig.add_subplot(grid[i, 0])
            ax.imshow(_display(images[i]))
            ax.axis("off")
        for s in range(steps):
            ax = fig.add_subplot(grid[i, s + extra])
            ax.imshow(maps[s, i], cmap="gray")
            ax.axis("off")
            if i == 0:
                ax.set_title(result["layers"][s], fontsize=7, rotation=30)
    ax = fig.add_subplot(grid[n:, :])
    ax.plot(result["spearman"], "o-", label="Spearman (|map|)")
    ax.plot(result["ssim"], "s-", label="SSIM")
    ax.set_xticks(range(steps), result["layers"], fontsize=7, rotation=30)
    ax.set_ylim(-0.1, 1.05)
    ax.set_ylabel("similarity to original", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout(pad=0.3)
    return fig


def curves_figure(curves: dict, kind: str = "deletion", size: float = 3.0):
    """Mean deletion (or insertion) curve of several heatmap methods, AUC in the legend.

    Args:
        curves: ``{method name: Curve}`` (:class:`zfkeras.methods.deletion.Curve`).
        kind: ``"deletion"`` or ``"insertion"`` (axis label).
    """
    fig, ax = plt.subplots(figsize=(1.4 * size, size))
    for name, c in curves.items():
        ax.plot(c.fractions, np.asarray(c.scores).mean(0),
                label=f"{name} (AUC {np.mean(c.auc):.3f})")
    ax.set_xlabel(f"fraction of pixels {'removed' if kind == 'deletion' else 'inserted'}",
                  fontsize=8)
    ax.set_ylabel("class probability (mean)", fontsize=8)
    ax.set_title(f"{kind} curves", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


from zfkeras.figures.common import tile_mosaic, to_display
from zfkeras.figures.style import (
    FONT,
    HEAD_PX,
    SEP,
    SMALL,
    TITLE_PX,
    colorbar,
    fit_zoom,
    head,
    mappable,
    return fig
