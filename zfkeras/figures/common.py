"""Shared plotting primitives for the chapters (matplotlib; every function returns the Figure).

The figures of one method or experiment live in their own module of :mod:`zfkeras.figures`
(``methods``, ``patches``, ``occlusion``, ``experiments``, ``dissection``, ``faithfulness``);
this module holds what they share: scaling arrays for display (:func:`as_image`,
:func:`to_display`), image and filter grids, mosaics, the training curves and confusion matrix,
and the "paper found / we found" table (:func:`findings`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from zfkeras.figures.style import (
    FONT,
    GAP,
    HEAD_PX,
    SMALL,
    TITLE_PX,
    fit_zoom,
    head,
    pixel_grid,
    plot,
    show,
    subplots,
)


def as_image(image) -> np.ndarray:
    """An image ready for ``imshow``: uint8 as it is, anything else scaled by :func:`to_display`
    (one image on its own)."""
    img = np.asarray(image)
    return img if img.dtype == np.uint8 else to_display(img)


def to_display(x, per_image: bool = True, symmetric: bool = False) -> np.ndarray:
    """Scale arrays to [0, 1] for ``imshow``.

    Args:
        x: ``(N, H, W[, C])`` or ``(H, W[, C])`` numbers of any range.
        per_image: scale every image on its own (else one scale for the whole array).
        symmetric: map 0 to 0.5 (for signed signals such as deconvnet projections); otherwise
            min -> 0 and max -> 1. A constant image becomes 0.5 grey, never NaN.
    """
    x = np.asarray(x, np.float32)
    axes = tuple(range(1, x.ndim)) if per_image and x.ndim >= 3 else None
    if symmetric:
        m = np.max(np.abs(x), axis=axes, keepdims=axes is not None)
        out = 0.5 + 0.5 * np.divide(x, m, out=np.zeros_like(x), where=m > 0)
    else:
        lo = np.min(x, axis=axes, keepdims=axes is not None)
        hi = np.max(x, axis=axes, keepdims=axes is not None)
        span = hi - lo
        out = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1), 0.5)
    return np.clip(out, 0, 1)


def check_zoom(zoom, name: str = "zoom") -> int | None:
    """A figure's integer enlargement: ``None`` (the course's standard) or an int >= 1;
    ``ValueError`` otherwise."""
    if zoom is not None and (not isinstance(zoom, (int, np.integer)) or zoom < 1):
        raise ValueError(f"{name} must be an int >= 1 or None, got {zoom!r}")
    return None if zoom is None else int(zoom)


def image_grid(
    images,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    size: float | None = None,
    cmap: str | None = None,
    suptitle: str | None = None,
    scale: bool = False,
    symmetric: bool = False,
    gap: int = GAP,
    zoom: int | None = None,
):
    """Draw ``images`` in a grid at the course's standard (1000-1300 px wide where the tiles
    allow), each enlarged by one integer factor with nearest-neighbour sampling.

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, C)`` (or a list of same-shaped images); uint8
            images are shown as they are, floats outside [0, 1] (or any, with ``scale``) are
            scaled per image with :func:`to_display`.
        titles: one title per image.
        ncols: images per row.
        size: at least this many inches per image (the standard may make them larger).
        cmap: colour map for ``(N, H, W)`` images (default grey).
        suptitle: figure title.
        scale, symmetric: see :func:`to_display`.
        gap: white pixels between images.
        zoom: the integer enlargement (default: the course's standard, see
            :func:`~zfkeras.figures.style.fit_zoom`); a smaller one keeps a notebook small.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: ``images`` is not 3-D or 4-D, or ``zoom`` is not an int >= 1.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C), got shape {images.shape}")
    zoom = check_zoom(zoom)
    if scale or (images.dtype != np.uint8 and (images.min() < 0 or images.max() > 1)):
        images = to_display(images, symmetric=symmetric)
    n, h, w = images.shape[:3]
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    k = zoom or fit_zoom(max(h, w), ncols, gap=gap, at_least=size, tiles=n)
    fig, axes = pixel_grid(
        nrows,
        ncols,
        (k * h, k * w),
        gap=gap,
        title_px=TITLE_PX if titles is not None else 0,
        head_px=HEAD_PX if suptitle else 0,
    )
    for i, ax in enumerate(axes.flat):
        if i < n:
            show(ax, images[i], k, cmap=cmap or ("gray" if images.ndim == 3 else None))
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=FONT, pad=3)
        else:
            ax.set_visible(False)
    head(fig, suptitle)
    return fig


def filters_grid(kernel, ncols: int = 16, size: float | None = None, title: str | None = None):
    """Draw first-layer filters ``(kh, kw, 3, n)`` as small colour images, each scaled on its own
    (as in paper Fig. 6), enlarged by an integer factor, nearest-neighbour, 3-px white gaps.
    Returns the Figure."""
    k = np.asarray(kernel)
    if k.ndim != 4 or k.shape[2] != 3:
        raise ValueError(f"kernel must be (kh, kw, 3, n), got shape {k.shape}")
    return image_grid(
        np.moveaxis(k, -1, 0), ncols=ncols, size=size, scale=True, suptitle=title, gap=3
    )


FINDINGS_HEADER = ("claim", "the paper found", "we found", "verdict")
_VERDICT_WORDS = re.compile(
    r"\b(holds?|does not hold|not decided|pass(es|ed)?|fail(s|ed)?)\b", re.I
)


def _verdict_cell(verdict) -> str:
    from zfkeras.evaluation.verdict import Verdict

    if isinstance(verdict, Verdict):
        return verdict.brief
    if isinstance(verdict, str):
        if _VERDICT_WORDS.search(verdict):
            raise ValueError(
                "a row's verdict must come from zfkeras.evaluation.verdict (a str is only for a "
                f"row with nothing to decide), got {verdict!r}"
            )
        return verdict
    if (
        isinstance(verdict, (list, tuple))
        and verdict
        and all(isinstance(v, Verdict) for v in verdict)
    ):
        return "; ".join(f"{v.claim}: {v.brief}" for v in verdict)
    raise TypeError(
        "a row's verdict must be a Verdict, a non-empty list of Verdicts or a str, got "
        f"{type(verdict).__name__}"
    )


def _row(cells) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def table(header: Sequence, rows: Sequence[Sequence]):
    """A Markdown table (``IPython.display.Markdown``): the ``header`` row, then one row per entry
    of ``rows``, each cell written with ``str`` (a ``|`` inside a cell is escaped). Every row
    must have as many cells as the header."""
    from IPython.display import Markdown

    header = list(header)
    if not header:
        raise ValueError("header must name at least one column, got an empty sequence")
    lines = [_row(header), "|" + "---|" * len(header)]
    for i, row in enumerate(rows):
        if isinstance(row, str) or len(row) != len(header):
            got = "a str" if isinstance(row, str) else f"{len(row)} cells"
            raise ValueError(f"rows[{i}] must have {len(header)} cells (the header's), got {got}")
        lines.append(_row(row))
    return Markdown("\n".join(lines))


def findings(rows: Sequence[Sequence]):
    """A chapter's "the paper found / we found" table as IPython Markdown (renders in notebooks
    and in the book). ``tools/scorecard.py`` reads these tables from the stored chapters and
    writes the README's scorecard from them.

    Args:
        rows: ``(claim, paper, ours, verdict)`` each: three strings and the verdict, a
            :class:`zfkeras.evaluation.verdict.Verdict` (shown as its outcome, interval and n), a
            list of them (each shown with its claim), or a str for a row with nothing to decide
            (it may not say "holds", "pass" or "fail": decisions come from the verdict helper).

    Returns:
        ``IPython.display.Markdown`` of a four-column table.
    """
    if isinstance(rows, str) or not rows:
        raise ValueError(f"rows must be a non-empty sequence of 4-tuples, got {rows!r}")
    cells = []
    for i, row in enumerate(rows):
        if isinstance(row, str) or len(row) != 4:
            got = "a str" if isinstance(row, str) else f"{len(row)} entries"
            raise ValueError(f"rows[{i}] must be (claim, paper, ours, verdict), got {got}")
        cells.append([*row[:3], _verdict_cell(row[3])])
    return table(FINDINGS_HEADER, cells)


def learning_curves(history: Sequence[dict], title: str | None = None):
    """Loss and accuracy per epoch (train and validation) from a history list of dicts, as
    written by :class:`zfkeras.training.History`. Returns the Figure."""
    if not history:
        raise ValueError("history must hold at least one epoch, got an empty sequence")
    epochs = [row["epoch"] for row in history]
    fig, axes = subplots(1, 2, panel_aspect=0.62)
    for ax, key in zip(axes[0], ("loss", "accuracy")):
        ax.plot(epochs, [row[key] for row in history], "o-", ms=3, label="train")
        if "val_" + key in history[0]:
            ax.plot(epochs, [row["val_" + key] for row in history], "o-", ms=3, label="test")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def confusion_matrix(counts, class_names: Sequence[str], title: str | None = None):
    """Row-normalized confusion matrix (rows: true class, columns: predicted).

    Args:
        counts: ``(C, C)`` counts from :func:`zfkeras.training.confusion_counts`.
        class_names: ``C`` names.
        title: axes title.

    Returns:
        The matplotlib Figure.
    """
    counts = np.asarray(counts)
    c = len(class_names)
    if counts.shape != (c, c):
        raise ValueError(f"counts must be ({c}, {c}) for {c} class names, got {counts.shape}")
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    fig, ax = plot(8.0, 6.8)
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(c):
        for j in range(c):
            ax.text(
                j,
                i,
                f"{rates[i, j]:.2f}"[1:] if rates[i, j] < 1 else "1",
                ha="center",
                va="center",
                fontsize=SMALL + 1,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(c), class_names, rotation=60, ha="right", fontsize=FONT)
    ax.set_yticks(range(c), class_names, fontsize=FONT)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, shrink=0.8).set_label(
        "fraction of the true class's images (each row sums to 1)", fontsize=FONT
    )
    if title:
        ax.set_title(title)
    return fig


def tile_mosaic(
    tiles, fill=0, *, ncols: int | None = None, zoom: int = 1, sep: int = 1, border: bool = True
) -> np.ndarray:
    """Tiles in one array with separators: the one mosaic of the course (paper Fig. 2's 3x3
    blocks, activation channel grids).

    Args:
        tiles: ``(k, h, w)`` or ``(k, h, w, c)``.
        fill: the separator colour (a number, a ``(c,)`` colour, or NaN for float tiles, to be
            drawn as the colour map's "bad" colour); empty cells get it too.
        ncols: tiles per row (default: a square grid, ``ceil(sqrt(k))``).
        zoom: integer factor each tile is enlarged by (nearest neighbour) before tiling, so the
            separators stay ``sep`` pixels wide.
        sep: separator width in pixels.
        border: also frame the outside with a separator.

    Returns:
        ``(rows * (zoom * h + sep) - sep [+ 2 sep], ...)`` array of the tiles' dtype (float
        when ``fill`` is NaN).

    Raises:
        ValueError: bad ``tiles``, ``zoom``, ``sep`` or ``ncols``, or a NaN ``fill`` for
            integer tiles.
    """
    tiles = np.asarray(tiles)
    if tiles.ndim not in (3, 4) or len(tiles) == 0:
        raise ValueError(
            f"tiles must be (k, h, w) or (k, h, w, c) with k >= 1, got shape {tiles.shape}"
        )
    for name, v, lo in (("zoom", zoom, 1), ("sep", sep, 0), ("ncols", ncols or 1, 1)):
        if not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
    fill = np.asarray(fill)
    if np.isnan(fill.astype(float)).any() and not np.issubdtype(tiles.dtype, np.floating):
        raise ValueError(f"fill NaN needs float tiles, got dtype {tiles.dtype}")
    k = len(tiles)
    if zoom > 1:
        tiles = np.repeat(np.repeat(tiles, zoom, axis=1), zoom, axis=2)
    h, w = tiles.shape[1:3]
    ncols = ncols or math.ceil(math.sqrt(k))
    nrows = math.ceil(k / ncols)
    b = sep if border else 0
    shape = (nrows * (h + sep) - sep + 2 * b, ncols * (w + sep) - sep + 2 * b) + tiles.shape[3:]
    out = np.empty(shape, tiles.dtype)
    out[...] = fill
    for j in range(k):
        r, q = divmod(j, ncols)
        y, x = b + r * (h + sep), b + q * (w + sep)
        out[y : y + h, x : x + w] = tiles[j]
    return out
