"""Paper Fig. 2: per unit, the projections of its top-9 activations beside the image patches."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zfkeras.figures.common import tile_mosaic, to_display
from zfkeras.figures.style import FONT, HEAD_PX, MAX_PX, SEP, TITLE_PX, head, pixel_grid, show

PAIR_GAP = 6  # px between a unit's projections and its patches
UNIT_GAP = 24  # px between units


def _layout(h: int, k: int, n: int, ncols: int | None) -> tuple[int, int]:
    """(units per row, zoom) for ``n`` units of ``k`` tiles ``h`` px square: the largest zoom
    keeping the row within ``MAX_PX``; fewer units per row when even zoom 1 is too wide."""
    side = int(np.ceil(np.sqrt(k)))
    cols = min(ncols or 2, n)

    def row(c, z):
        return c * (2 * (side * z * h + (side - 1) * SEP) + PAIR_GAP) + (c - 1) * UNIT_GAP

    while cols > 1 and row(cols, 1) > 1.1 * MAX_PX:
        cols -= 1
    zoom = 1
    while row(cols, zoom + 1) <= MAX_PX:
        zoom += 1
    return cols, zoom


def top9_figure(
    tiles,
    images=None,
    top=None,
    display=None,
    channels: Sequence[int] | None = None,
    mode: str = "deconvnet",
    ncols: int | None = None,
    size: float | None = None,
    title: str | None = None,
):
    """Paper Fig. 2 for one layer: per channel, the deconvnet projections of its top
    activations (left, 3x3) beside the image patches that caused them (right, 3x3).

    Each 3x3 block is one :func:`tile_mosaic` with 2-px black separators, every tile enlarged by
    the same integer factor (nearest neighbour) so that the figure is about 1000-1300 px wide:
    conv1's 7x7 patches many times, conv5's large ones once. Each projection is contrast-
    stretched on its own with 0 at grey (``to_display(..., per_image=True, symmetric=True)``),
    as in the paper.

    Args:
        tiles: a :class:`~zfkeras.methods.mining.Top9Tiles` from
            :func:`zfkeras.methods.mining.top9_tiles`. (Deprecated form: the model, with
            ``images``, ``top``, ``display``, ``channels`` and ``mode`` as in ``top9_tiles``.)
        ncols: at most this many channels per figure row (default 2; fewer when the patches
            are too large to fit).
        size: at least this many inches per 3x3 block (default: the course's standard).
        title: figure title.

    Returns:
        The matplotlib Figure.
    """
    from zfkeras.methods.mining import Top9Tiles, top9_tiles

    if not isinstance(tiles, Top9Tiles):
        import warnings

        warnings.warn(
            "top9_figure(model, images, top, ...) is deprecated: compute "
            "zfkeras.methods.mining.top9_tiles(model, images, top, ...) and pass it",
            DeprecationWarning,
            stacklevel=2,
        )
        tiles = top9_tiles(tiles, images, top, display=display, channels=channels, mode=mode)
    n_c, k, h = tiles.patches.shape[:3]
    cols, zoom = _layout(h, k, n_c, ncols)
    side = int(np.ceil(np.sqrt(k)))
    if size:
        zoom = max(zoom, int(np.ceil((size * 100 - (side - 1) * SEP) / (side * h))))
    flat = tiles.projections.reshape((-1,) + tiles.projections.shape[2:])
    proj = (to_display(flat, per_image=True, symmetric=True) * 255).astype(np.uint8)
    proj = proj.reshape(tiles.projections.shape)
    blocks = [
        (
            tile_mosaic(proj[j], 0, zoom=zoom, sep=SEP, border=False),
            tile_mosaic(tiles.patches[j], 0, zoom=zoom, sep=SEP, border=False),
        )
        for j in range(n_c)
    ]
    mh, mw = blocks[0][0].shape[:2]
    n_rows = int(np.ceil(n_c / cols))
    # a unit is two cells PAIR_GAP apart; units are UNIT_GAP apart: lay out 2*cols cells with
    # the narrow gap and shift every unit's pair by the wider one
    fig, axes = pixel_grid(
        n_rows, 2 * cols, (mh, mw), gap=PAIR_GAP, title_px=TITLE_PX, head_px=HEAD_PX
    )
    width = fig.get_figwidth() * 100 + (cols - 1) * (UNIT_GAP - PAIR_GAP)
    fig.set_figwidth(width / 100)
    for r in range(n_rows):
        for c in range(2 * cols):
            x = (c // 2) * (2 * mw + PAIR_GAP + UNIT_GAP) + (c % 2) * (mw + PAIR_GAP)
            pos = axes[r, c].get_position()
            axes[r, c].set_position((x / width, pos.y0, mw / width, pos.height))
            axes[r, c].set_visible(r * cols + c // 2 < n_c)
    for j, c in enumerate(tiles.channels):
        r, q = divmod(j, cols)
        for s, block in enumerate(blocks[j]):
            show(axes[r, 2 * q + s], block, 1)
        axes[r, 2 * q].set_title(
            f"{tiles.layer} unit {c}: projections", fontsize=FONT, pad=3, loc="left"
        )
        axes[r, 2 * q + 1].set_title("image patches", fontsize=FONT, pad=3, loc="left")
    head(
        fig,
        f"{title or tiles.layer}  (patches {h}x{h} px, shown "
        f"{'1:1' if zoom == 1 else f'x{zoom}'}; projections each scaled on its own, 0 = grey)",
    )
    return fig
