"""The course's one figure standard: sizes, fonts, integer zoom and pixel-exact image grids.

Every figure function of :mod:`zfkeras.figures` builds its figure through this module, so all
follow one standard without touching global ``rcParams``:

* figures are made at ``DPI`` = 100 with an explicit ``dpi``; the notebook's inline backend
  stores them at ``fig.dpi`` with ``bbox_inches="tight"``, so a figure ``w`` inches wide is
  stored about ``100 * w`` pixels wide whatever the notebook's ``figure.dpi`` is;
* multi-panel charts are ``WIDTH`` = 11 inches (1100 px) wide, single charts ``PLOT``
  (800 x 450 px); image grids are 1000 to 1300 px wide where the tiles allow;
* no text below ``FONT`` = 9 pt (8 pt only for numbers printed inside cells);
* images (patches, projections, filters, photographs) are drawn by :func:`pixel_grid` and
  :func:`show`: each axes is an exact number of pixels and each image is enlarged by an
  integer factor with nearest-neighbour sampling, so one image pixel is a k x k block on screen;
  tiles are separated by a ``GAP``-pixel white gap (or by :func:`tile_mosaic`'s separators);
* every heatmap carries a colour bar whose label states the scale (:func:`colorbar`).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

DPI = 100
WIDTH = 11.0
PLOT = (8.0, 4.5)
MIN_PX, MAX_PX = 1000, 1300
MAX_TILE = 512
AREA_PX = 1_600_000
FONT = 9
SMALL = 8
GAP = 6
SEP = 2
TITLE_PX = 18
HEAD_PX = 30


def subplots(
    nrows: int = 1,
    ncols: int = 1,
    *,
    width: float = WIDTH,
    panel_aspect: float = 1.0,
    extra_height: float = 0.0,
    **kw,
):
    """``plt.subplots`` at the course's size: ``width`` inches at ``DPI``, each panel
    ``panel_aspect`` times as high as wide, constrained layout. Returns ``(fig, axes)`` with
    ``axes`` a 2-D array."""
    height = width / ncols * panel_aspect * nrows + extra_height
    kw.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(width, height), dpi=DPI, squeeze=False, **kw)


def plot(width: float | None = None, height: float | None = None):
    """One chart at the course's single-panel size. Returns ``(fig, ax)``."""
    fig, axes = subplots(
        1, 1, width=width or PLOT[0], panel_aspect=(height or PLOT[1]) / (width or PLOT[0])
    )
    return fig, axes[0, 0]


def zoom(img, k: int) -> np.ndarray:
    """Enlarge ``(H, W[, C])`` by the integer ``k`` (each pixel becomes a k x k block)."""
    img = np.asarray(img)
    return img if k == 1 else np.repeat(np.repeat(img, k, axis=0), k, axis=1)


def fit_zoom(
    size: int,
    n: int,
    gap: int = GAP,
    extra: int = 0,
    at_least: float | None = None,
    tiles: int | None = None,
) -> int:
    """The integer zoom for ``n`` tiles of ``size`` pixels side by side (``gap`` between them,
    ``extra`` pixels of labels): the largest that keeps the row within ``MAX_PX``, one more when
    that row is narrower than ``MIN_PX`` and one more still fits 1.1 * ``MAX_PX``; no tile above
    ``MAX_TILE`` pixels; no more than ``AREA_PX`` pixels of images for ``tiles`` tiles (keeps
    notebooks small); at least 1 and at least ``at_least`` inches per tile when given."""

    def total(k):
        return n * (k * size + gap) + extra

    k = max(1, (MAX_PX - extra - n * gap) // max(1, n * size))
    if total(k) < MIN_PX and total(k + 1) <= 1.1 * MAX_PX:
        k += 1
    k = min(k, max(1, MAX_TILE // size))  # one or two images are not blown up to 1000 px
    while tiles and k > 1 and tiles * (k * size) ** 2 > AREA_PX:
        k -= 1
    if at_least:
        k = max(k, math.ceil(at_least * DPI / size))
    return int(k)


def pixel_grid(
    nrows: int,
    ncols: int,
    cell: tuple[int, int],
    *,
    gap: int = GAP,
    title_px: int = 0,
    label_px: int = 0,
    head_px: int = 0,
    right_px: int = 0,
    row_head: list[int] | None = None,
):
    """A figure whose axes are exact pixel rectangles, for images drawn with :func:`show`.

    Args:
        nrows, ncols: the grid.
        cell: ``(height, width)`` of every axes in pixels.
        gap: white pixels between cells (the tiles' separator).
        title_px: room above every row for axes titles.
        label_px: room left of the grid for row labels (``ax.set_ylabel``).
        head_px: room at the top for a figure title (:func:`head`).
        right_px: room right of the grid (colour bars).
        row_head: extra room above each row (a header per block of rows).

    Returns:
        ``(fig, axes)``, ``axes`` ``(nrows, ncols)`` with ticks and frames off.
    """
    ch, cw = int(cell[0]), int(cell[1])
    extra = list(row_head or [0] * nrows)
    width = label_px + ncols * (cw + gap) - gap + right_px
    height = head_px + sum(extra) + nrows * (title_px + ch + gap) - gap
    fig = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    axes = np.empty((nrows, ncols), object)
    y = head_px
    for r in range(nrows):
        y += extra[r] + title_px
        for c in range(ncols):
            x = label_px + c * (cw + gap)
            ax = fig.add_axes((x / width, 1 - (y + ch) / height, cw / width, ch / height))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_frame_on(False)
            axes[r, c] = ax
        y += ch + gap
    return fig, axes


def head(fig, text: str | None, size: int = 12) -> None:
    """A figure title in the ``head_px`` band of a :func:`pixel_grid` figure."""
    if text:
        fig.text(
            0.5, 1 - 6 / (fig.get_figheight() * DPI), text, ha="center", va="top", fontsize=size
        )


def cell_px(ax) -> tuple[int, int]:
    """``(height, width)`` of an axes in pixels."""
    fig = ax.get_figure()
    pos = ax.get_position()
    return (
        round(pos.height * fig.get_figheight() * DPI),
        round(pos.width * fig.get_figwidth() * DPI),
    )


def show(ax, img, k: int | None = None, **kw):
    """Draw ``img`` ``(H, W[, C])`` in ``ax`` enlarged by the integer ``k`` (default: the
    largest that fits the axes), centred, one image pixel = ``k`` x ``k`` screen pixels,
    nearest-neighbour. Extra keywords go to ``imshow``. Returns the ``AxesImage``."""
    img = np.asarray(img)
    ch, cw = cell_px(ax)
    if k is None:
        k = max(1, min(ch // img.shape[0], cw // img.shape[1]))
    big = zoom(img, k)
    y0, x0 = (ch - big.shape[0]) // 2, (cw - big.shape[1]) // 2
    im = ax.imshow(
        big, extent=(x0, x0 + big.shape[1], y0 + big.shape[0], y0), interpolation="nearest", **kw
    )
    ax.set_xlim(0, cw)
    ax.set_ylim(ch, 0)
    return im


def colorbar(fig, mappable, ax, label: str, rows: float = 1.0, pad_px: int = 8, bar_px: int = 12):
    """A colour bar right of ``ax`` (a child axes, so ``fig.axes`` lists only the panels),
    ``rows`` times the height of ``ax`` downwards from its top, with the scale in ``label``.
    Returns the Colorbar."""
    ch, cw = cell_px(ax)
    cax = ax.inset_axes((1 + pad_px / cw, 1 - rows, bar_px / cw, rows))
    bar = fig.colorbar(mappable, cax=cax)
    bar.set_label(label, fontsize=FONT)
    bar.ax.tick_params(labelsize=FONT)
    return bar


def mappable(cmap, vmin: float = 0.0, vmax: float = 1.0, norm=None):
    """A ScalarMappable for a colour bar of values drawn as RGB (overlays, mosaics)."""
    import matplotlib as mpl

    return mpl.cm.ScalarMappable(norm or mpl.colors.Normalize(vmin, vmax), plt.get_cmap(cmap))
