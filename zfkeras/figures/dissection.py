"""Figures for network dissection (Bau et al., 2017).

Every function takes computed results (:class:`zfkeras.methods.dissection.Dissection`, masks)
and returns the matplotlib Figure; nothing is computed here. The faithfulness checks' figures
are in :mod:`zfkeras.figures.faithfulness`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from zfkeras.figures.common import as_image, tile_mosaic
from zfkeras.figures.style import (
    FONT,
    HEAD_PX,
    SEP,
    SMALL,
    TITLE_PX,
    fit_zoom,
    head,
    pixel_grid,
    show,
    subplots,
)


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
    fig, (ax0, ax1) = plt.subplots(
        1, 2, figsize=(2.6 * size, size), gridspec_kw={"width_ratios": [1, 2]}
    )
    pos = np.arange(len(cats))
    ax0.bar(
        pos - 0.2,
        [unique[c] for c in cats],
        0.4,
        color=[colours[c] for c in cats],
        label="unique concepts",
    )
    ax0.bar(
        pos + 0.2,
        [units[c] for c in cats],
        0.4,
        color=[colours[c] for c in cats],
        alpha=0.45,
        label="detector units",
    )
    ax0.set_xticks(pos, cats, fontsize=8)
    ax0.set_title(f"{dissection.layer}: detectors", fontsize=9)
    ax0.legend(fontsize=7)
    best = sorted(enumerate(dissection.best), key=lambda b: -b[1][2])
    ax1.bar(
        np.arange(len(best)),
        [b[2] for _, b in best],
        1.0,
        color=[colours[b[0]] if b[0] else "0.75" for _, b in best],
    )
    ax1.axhline(dissection.iou_threshold, color="k", lw=0.8, ls="--")
    ax1.set_xlabel("units, sorted by best IoU (grey: no detector)", fontsize=8)
    ax1.set_ylabel("IoU", fontsize=8)
    ax1.set_title(f"best concept per unit (threshold {dissection.iou_threshold:g})", fontsize=9)
    fig.tight_layout()
    return fig


def _highlight(images, masks, fade: float) -> np.ndarray:
    """uint8 images as they are inside ``masks``; outside, grey (luminance) with its contrast
    around mid-grey multiplied by ``fade``, so that colours, black and white all stand out."""
    img = np.asarray(images).astype(np.float32)
    grey = 128 + fade * (img @ np.array([0.299, 0.587, 0.114], np.float32) - 128)
    return np.where(np.asarray(masks, bool)[..., None], img, grey[..., None]).astype(np.uint8)


def concepts_figure(
    images,
    concept_maps: dict,
    concept_names: dict,
    palette: dict | None = None,
    title: str | None = None,
):
    """The concept world's ground truth: each image (row) beside its label maps (columns).

    Colour labels are drawn in their palette colour when ``palette`` is given; the other
    categories in one colour per label, each label's name written on its pixels. "none" is
    light grey.

    Args:
        images: ``(N, H, W, 3)`` uint8, a few images (one row each).
        concept_maps: ``{category: (N, H, W) int}`` labels (:func:`zfkeras.data.concepts`).
        concept_names: ``{category: names}``, ``names[0]`` = "none".
        palette: optional ``{colour name: (r, g, b)}``.
        title: figure title.
    """
    images = np.asarray(images)
    cats = list(concept_maps)
    n, h, w = images.shape[:3]
    for cat in cats:
        if np.shape(concept_maps[cat]) != (n, h, w):
            raise ValueError(
                f"concept_maps[{cat!r}] must be (N, H, W) = {(n, h, w)}, got "
                f"shape {np.shape(concept_maps[cat])}"
            )
    k = fit_zoom(w, len(cats) + 1, tiles=n * (len(cats) + 1))
    fig, axes = pixel_grid(n, len(cats) + 1, (h * k, w * k), title_px=TITLE_PX, head_px=HEAD_PX)
    cmap = plt.get_cmap("tab20")
    for i in range(n):
        show(axes[i, 0], as_image(images[i]), k)
        for j, cat in enumerate(cats, 1):
            m = np.asarray(concept_maps[cat][i]).astype(int)
            names = list(concept_names[cat])
            table = np.array(
                [(0.85, 0.85, 0.85)]
                + [
                    np.array(palette[nm]) / 255 if palette and nm in palette else cmap(q % 20)[:3]
                    for q, nm in enumerate(names[1:])
                ]
            )
            show(axes[i, j], table[m], k)
            if palette and cat == "colour":
                continue
            for label in np.unique(m[m > 0]):
                ys, xs = np.nonzero(m == label)
                q = np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2)
                axes[i, j].text(
                    (xs[q] + 0.5) * k,
                    (ys[q] + 0.5) * k,
                    names[label],
                    fontsize=SMALL,
                    ha="center",
                    va="center",
                    bbox={"fc": "white", "alpha": 0.75, "pad": 1, "lw": 0},
                )
    for j, name in enumerate(["image"] + cats):
        axes[0, j].set_title(name, fontsize=FONT, pad=3)
    head(fig, title)
    return fig


def layers_figure(dissections: dict, baseline: dict | None = None, title: str | None = None):
    """Network dissection of every layer (Bau et al. 2017, Fig. 5 style): per layer, the
    unique concepts detected (top row) and the detector units (bottom row) of each category,
    for the model (left) and, when given, a baseline such as the same network at random
    initialization (right, same scales).

    Args:
        dissections: ``{layer: Dissection}`` in layer order.
        baseline: optional ``{layer: Dissection}`` with the same layers.
        title: figure title.
    """
    models = [("trained", dissections)] + ([("random init", baseline)] if baseline else [])
    layers = list(dissections)
    if baseline and list(baseline) != layers:
        raise ValueError(f"baseline must have the layers {layers}, got {list(baseline)}")
    cats = list(next(iter(dissections.values())).concept_names)
    colours = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(cats)}
    fig, axes = subplots(
        2, len(models), panel_aspect=0.55 * len(models) / 2, sharey="row", extra_height=0.6
    )
    step = 0.8 / len(cats)
    for col, (label, result) in enumerate(models):
        for row, (what, count) in enumerate(
            (("unique concepts detected", "summary"), ("detector units", "detectors"))
        ):
            ax = axes[row, col]
            for q, cat in enumerate(cats):
                values = [getattr(result[layer], count)()[cat] for layer in layers]
                pos = np.arange(len(layers)) + (q - (len(cats) - 1) / 2) * step
                bars = ax.bar(pos, values, step, color=colours[cat], label=cat)
                ax.bar_label(bars, [str(v) if v else "" for v in values], fontsize=SMALL, padding=1)
            ax.set_xticks(np.arange(len(layers)), layers, fontsize=FONT)
            ax.set_title(f"{label}: {what}", fontsize=FONT + 1)
            ax.margins(y=0.12)
            ax.grid(axis="y", alpha=0.3)
    fig.legend(
        *axes[0, 0].get_legend_handles_labels(),
        loc="outside lower center",
        ncols=len(cats),
        fontsize=FONT,
    )
    if title:
        fig.suptitle(title, fontsize=FONT + 3)
    return fig


def detectors_figure(
    patches,
    images,
    unit_masks,
    concept_masks,
    titles: Sequence[str],
    concepts: Sequence[str],
    fade: float = 0.3,
    title: str | None = None,
):
    """Per unit (row): its top-k image patches (paper Fig. 2, 3x3), then the same k images in
    colour where the unit's map exceeds its threshold ``T_k`` (the mask network dissection
    scores), then in colour on the pixels of its concept (the ground truth); grey elsewhere.

    Args:
        patches: ``(U, k, h, w, 3)`` uint8, e.g. :class:`~zfkeras.methods.mining.Top9Tiles`
            ``.patches``.
        images: ``(U, k, H, W, 3)`` uint8, the whole images the patches come from.
        unit_masks: ``(U, k, H, W)`` bool, the unit's mask on each image
            (:func:`zfkeras.methods.dissection.unit_masks`).
        concept_masks: ``(U, k, H, W)`` bool, the concept's pixels in each image.
        titles: one label per unit, e.g. ``"conv5 unit 12: IoU 0.21"``.
        concepts: the concept of each unit, e.g. ``"wheel (part)"``.
        fade: contrast of the grey outside the masks (0: flat grey, 1: full contrast).
        title: figure title.
    """
    patches, images = np.asarray(patches), np.asarray(images)
    units, masks = np.asarray(unit_masks, bool), np.asarray(concept_masks, bool)
    if patches.ndim != 5 or images.ndim != 5 or images.shape[:2] != patches.shape[:2]:
        raise ValueError(
            f"patches and images must be (U, k, h, w, 3) and (U, k, H, W, 3) with "
            f"the same (U, k), got {patches.shape} and {images.shape}"
        )
    for name, m in (("unit_masks", units), ("concept_masks", masks)):
        if m.shape != images.shape[:4]:
            raise ValueError(f"{name} must be (U, k, H, W) = {images.shape[:4]}, got {m.shape}")
    if len(titles) != len(images) or len(concepts) != len(images):
        raise ValueError(
            f"titles and concepts must have one entry per unit ({len(images)}), "
            f"got {len(titles)} and {len(concepts)}"
        )
    n, k, h = patches.shape[:3]
    zp = max(1, images.shape[2] // h)
    blocks = [
        [
            tile_mosaic(patches[u], 0, zoom=zp, sep=SEP, border=False),
            tile_mosaic(_highlight(images[u], units[u], fade), 0, sep=SEP, border=False),
            tile_mosaic(_highlight(images[u], masks[u], fade), 0, sep=SEP, border=False),
        ]
        for u in range(n)
    ]
    cell = tuple(max(b.shape[a] for row in blocks for b in row) for a in (0, 1))
    fig, axes = pixel_grid(n, 3, cell, gap=12, title_px=TITLE_PX + 4, head_px=HEAD_PX)
    for u in range(n):
        for j, block in enumerate(blocks[u]):
            show(axes[u, j], block, 1)
        axes[u, 0].set_title(f"{titles[u]}: top-{k} patches", fontsize=FONT, loc="left", pad=3)
        axes[u, 1].set_title("where the unit fires (> T_k)", fontsize=FONT, loc="left", pad=3)
        axes[u, 2].set_title(f"concept: {concepts[u]}", fontsize=FONT, loc="left", pad=3)
    head(
        fig,
        title
        or f"patches {h}x{h} px{'' if zp == 1 else f' shown x{zp}'}; masks on the "
        f"whole {images.shape[2]}x{images.shape[3]} images",
    )
    return fig
