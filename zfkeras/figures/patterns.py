"""Figures of optimized inputs: filter patterns by gradient ascent, and feature visualizations
of single units beside their top-9 dataset patches (Olah et al., 2017, "Feature
Visualization", Distill; Zeiler & Fergus 2014, Fig. 2 for the patches)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from zfkeras.figures.common import check_zoom, tile_mosaic, to_display
from zfkeras.figures.style import DPI, FONT, GAP, HEAD_PX, fit_zoom, head, pixel_grid, show

__all__ = ["patterns_figure", "units_figure"]


def patterns_figure(
    rows: dict, size: float | None = None, title: str | None = None, zoom: int | None = None
):
    """Rows of patterns, one row per entry of ``rows`` (label -> ``(n, H, W, 3)``), each pattern
    scaled for display on its own and enlarged by the largest integer factor that fits the
    row's cells (nearest neighbour; small patterns such as 7x7 weights are enlarged more).

    Args:
        rows: label -> ``(n, H, W, 3)`` patterns.
        size: at least this many inches per pattern (default: the course's standard width).
        title: figure title.
        zoom: the integer factor for the largest patterns (cells ``zoom * H`` px); default: the
            course's standard (:func:`~zfkeras.figures.style.fit_zoom`). A smaller factor keeps
            a notebook of many noise-like patterns small.

    Returns:
        The matplotlib Figure.

    Raises:
        TypeError: ``rows`` is not a non-empty dict.
        ValueError: ``zoom`` is not an int >= 1.
    """
    if not isinstance(rows, dict) or not rows:
        raise TypeError(
            f"rows must be a non-empty dict label -> patterns, got {type(rows).__name__}"
        )
    zoom = check_zoom(zoom)
    ncols = max(len(v) for v in rows.values())
    big = max(max(np.shape(v)[1:3]) for v in rows.values())
    label_px = 10 + 7 * max(len(str(k)) for k in rows)
    k = zoom or fit_zoom(
        big, ncols, extra=label_px, at_least=size, tiles=sum(len(v) for v in rows.values())
    )
    fig, axes = pixel_grid(
        len(rows), ncols, (k * big, k * big), label_px=label_px, head_px=HEAD_PX if title else 0
    )
    for r, (label, pats) in enumerate(rows.items()):
        shown = to_display(np.asarray(pats))
        for c, ax in enumerate(axes[r]):
            if c < len(shown):
                show(ax, shown[c])
        axes[r, 0].set_ylabel(label, fontsize=FONT + 1, rotation=0, ha="right", va="center")
    head(fig, title)
    return fig


def _trimmed(patches: np.ndarray) -> np.ndarray:
    """``(k, h, w, 3)`` uint8 patches without the white rows and columns that lie beyond the
    image on every patch's edges (the receptive field can be larger than the image), each
    centred on a white ``(k, h', w', 3)`` canvas as large as the largest trimmed patch."""
    inside = (patches < 255).any(axis=-1)  # (k, h, w): pixels of the image
    boxes = []
    for m in inside:
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if len(rows) == 0:
            rows, cols = np.arange(m.shape[0]), np.arange(m.shape[1])
        boxes.append((rows[0], rows[-1] + 1, cols[0], cols[-1] + 1))
    h = max(b[1] - b[0] for b in boxes)
    w = max(b[3] - b[2] for b in boxes)
    out = np.full((len(patches), h, w, patches.shape[-1]), 255, patches.dtype)
    for i, (r0, r1, c0, c1) in enumerate(boxes):
        y, x = (h - (r1 - r0)) // 2, (w - (c1 - c0)) // 2
        out[i, y : y + r1 - r0, x : x + c1 - c0] = patches[i, r0:r1, c0:c1]
    return out


def units_figure(
    versions: dict,
    patches,
    labels: Sequence[str],
    *,
    zoom: int = 2,
    patches_title: str = "top-9 dataset patches",
    title: str | None = None,
):
    """One row per unit: its optimized pictures, one column per version (recipe), and beside
    them the unit's top-9 dataset patches as a 3x3 block, as Distill's "Feature Visualization"
    shows a neuron (Olah et al., 2017; the patches are paper Fig. 2's).

    Every picture is scaled for display on its own and enlarged by ``zoom`` (nearest
    neighbour); the patches are drawn 1:1, without the white margins where the receptive field
    runs past the image, ``GAP`` px apart. Columns carry the version's name, rows the unit's
    label.

    Args:
        versions: version name -> ``(n, H, W, 3)`` pictures, one per unit, in ``labels`` order.
        patches: ``(n, k, h, w, 3)`` uint8 patches (``Top9Tiles.patches``), ``k`` per unit.
        labels: ``n`` row labels (a label may have several lines, ``\\n``).
        zoom: integer enlargement of the pictures.
        patches_title: the patches column's title.
        title: figure title.

    Returns:
        The matplotlib Figure: ``n * (len(versions) + 1)`` axes, row by row.

    Raises:
        TypeError: ``versions`` is not a non-empty dict.
        ValueError: a version, ``patches`` or ``labels`` has not one entry per unit, or a bad
            ``zoom``.
    """
    if not isinstance(versions, dict) or not versions:
        raise TypeError(
            f"versions must be a non-empty dict name -> pictures, got {type(versions).__name__}"
        )
    zoom = check_zoom(zoom)
    if zoom is None:
        raise ValueError("zoom must be an int >= 1, got None")
    labels = [str(t) for t in labels]
    pictures = {name: np.asarray(v) for name, v in versions.items()}
    patches = np.asarray(patches)
    n = len(labels)
    for name, v in [*pictures.items(), (patches_title, patches)]:
        if len(v) != n:
            raise ValueError(f"{name!r} must hold one entry per unit ({n} labels), got {len(v)}")
    if patches.ndim != 5:
        raise ValueError(f"patches must be (n, k, h, w, 3), got shape {patches.shape}")
    side = int(np.ceil(np.sqrt(patches.shape[1])))
    blocks = [tile_mosaic(_trimmed(p), 255, ncols=side, sep=GAP, border=False) for p in patches]
    ph = max(v.shape[1] for v in pictures.values()) * zoom
    pw = max(v.shape[2] for v in pictures.values()) * zoom
    bh, bw = blocks[0].shape[:2]
    widths = [pw] * len(pictures) + [bw]
    row_h = max(ph, bh)
    label_px = 16 + 7 * max(len(s) for t in labels for s in t.split("\n"))
    title_px, head_px = 22, HEAD_PX if title else 0
    width = label_px + sum(widths) + GAP * (len(widths) - 1)
    row_gap = 4 * GAP  # units stand apart more than a unit's patches do
    height = head_px + title_px + n * (row_h + row_gap) - row_gap
    fig = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    for r in range(n):
        y = head_px + title_px + r * (row_h + row_gap)
        x = label_px
        cells = [to_display(v[r]) for v in pictures.values()] + [blocks[r]]
        for c, (img, w) in enumerate(zip(cells, widths)):
            ax = fig.add_axes((x / width, 1 - (y + row_h) / height, w / width, row_h / height))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_frame_on(False)
            show(ax, img, zoom if c < len(pictures) else 1)
            if r == 0:
                name = [*pictures, patches_title][c]
                ax.set_title(name, fontsize=FONT + 1, pad=3)
            if c == 0:
                ax.set_ylabel(labels[r], fontsize=FONT + 1, rotation=0, ha="right", va="center")
            x += w + GAP
    head(fig, title)
    return fig
