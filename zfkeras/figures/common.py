"""Shared plotting primitives for the chapters (matplotlib; every function returns the Figure).

Figure functions for one method live with that method's module; this module holds what they
share: scaling arrays for display, image grids, and the "paper found / we found" table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np


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


def image_grid(images, titles: Sequence[str] | None = None, ncols: int = 8,
               size: float = 1.4, cmap: str | None = None, suptitle: str | None = None,
               scale: bool = False, symmetric: bool = False):
    """Draw ``images`` (N, H, W[, C]) in a grid; uint8 images are shown as they are, floats
    are scaled per image with :func:`to_display` when ``scale`` is True. Returns the Figure."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C), got shape {images.shape}")
    if scale or (images.dtype != np.uint8 and (images.min() < 0 or images.max() > 1)):
        images = to_display(images, symmetric=symmetric)
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    height = size * nrows + 0.3 * bool(suptitle)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, height), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap or ("gray" if images.ndim == 3 else None),
                      interpolation="nearest")
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def filters_grid(kernel, ncols: int = 16, size: float = 0.7, title: str | None = None):
    """Draw first-layer filters ``(kh, kw, 3, n)`` as small colour images, each scaled on its own
    (as in paper Fig. 6). Returns the Figure."""
    k = np.asarray(kernel)
    if k.ndim != 4 or k.shape[2] != 3:
        raise ValueError(f"kernel must be (kh, kw, 3, n), got shape {k.shape}")
    return image_grid(np.moveaxis(k, -1, 0), ncols=ncols, size=size, scale=True,
                      suptitle=title)


def findings(rows: Sequence[Sequence], header=("claim", "the paper found", "we found")):
    """A "paper found / we found" table as IPython Markdown (renders in notebooks and HTML)."""
    from IPython.display import Markdown

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return Markdown("\n".join(lines))


def learning_curves(history: Sequence[dict], title: str | None = None):
    """Loss and accuracy per epoch (train and validation) from a history list of dicts, as
    written by :class:`zfkeras.training.History`. Returns the Figure."""
    if not history:
        raise ValueError("history must hold at least one epoch, got an empty sequence")
    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, [row[key] for row in history], "o-", ms=3, label="train")
        if "val_" + key in history[0]:
            ax.plot(epochs, [row["val_" + key] for row in history], "o-", ms=3, label="test")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
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
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(c):
        for j in range(c):
            ax.text(j, i, f"{rates[i, j]:.2f}"[1:] if rates[i, j] < 1 else "1", ha="center",
                    va="center", fontsize=7, color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(c), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(c), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def tile_mosaic(tiles, fill=0):
    """``(k, h, w, c)`` tiles in a square grid with 1-pixel borders."""
    k, h, w, c = tiles.shape
    side = math.ceil(math.sqrt(k))
    out = np.full((side * (h + 1) + 1, side * (w + 1) + 1, c), fill, tiles.dtype)
    for j in range(k):
        r, q = divmod(j, side)
        out[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + q * (w + 1):1 + q * (w + 1) + w] = tiles[j]
    return out
