"""Figures for the faithfulness checks (chapter 11): cascading randomization, similarity curves,
deletion/insertion curves.

Every function takes computed results (:class:`zfkeras.evaluation.faithfulness.Randomization`,
:class:`zfkeras.evaluation.deletion.Curve`) and returns the matplotlib Figure; nothing is
computed here.
"""

from __future__ import annotations

import numpy as np

from zfkeras.figures.common import as_image
from zfkeras.figures.style import (
    FONT,
    TITLE_PX,
    colorbar,
    fit_zoom,
    head,
    mappable,
    pixel_grid,
    show,
    subplots,
)


def cascade_figure(results: dict, image, index: int = 0, size: float | None = None):
    """Adebayo et al. (2018) Fig. 2: one image's explanation by every method (rows) as the
    layers are re-initialized from the top down, cumulatively (columns).

    Each panel is the absolute map scaled to [0, 1] on its own (grey, as in the paper).

    Args:
        results: ``{method name: Randomization}``, all with the same ``layers``.
        image: ``(H, W, 3)`` the image explained, for display (uint8 or float).
        index: which image of the results to draw.
        size: at least this many inches per panel.

    Raises:
        ValueError: the results do not share their layers, or ``index`` is out of range.
    """
    names = list(results)
    layers = list(results[names[0]].layers)
    if any(list(r.layers) != layers for r in results.values()):
        raise ValueError("results must all randomize the same layers, got different 'layers'")
    n_img = np.asarray(results[names[0]].maps).shape[1]
    if not 0 <= index < n_img:
        raise ValueError(f"index must be in [0, {n_img}), got {index!r}")
    img = as_image(image)
    h, w = img.shape[:2]
    label_px, right_px, cols = 110, 80, len(layers) + 1
    k = fit_zoom(max(h, w), cols, extra=label_px + right_px, at_least=size, tiles=cols * len(names))
    fig, axes = pixel_grid(
        len(names),
        cols,
        (k * h, k * w),
        title_px=TITLE_PX,
        label_px=label_px,
        right_px=right_px,
        head_px=30,
    )
    for r, name in enumerate(names):
        maps = np.abs(np.asarray(results[name].maps)[:, index])
        show(axes[r, 0], img, k)
        for s in range(len(layers)):
            m = maps[s]
            span = m.max() - m.min()
            show(
                axes[r, s + 1],
                (m - m.min()) / span if span > 0 else np.zeros_like(m),
                k,
                cmap="gray",
                vmin=0,
                vmax=1,
            )
        axes[r, 0].set_ylabel(name, fontsize=FONT + 1)
    for s, layer in enumerate(layers):
        axes[0, s + 1].set_title(layer if s == 0 else f"+ {layer}", fontsize=FONT, pad=3)
    head(
        fig,
        "cascading randomization: layers re-initialized from the top down, cumulatively",
        size=11,
    )
    rows = (len(names) * k * h + (len(names) - 1) * (TITLE_PX + 6)) / (k * h)
    colorbar(fig, mappable("gray"), axes[0, -1], "|map|, scaled to [0, 1] per panel", rows=rows)
    return fig


def similarity_figure(results: dict, title: str | None = None):
    """Adebayo et al. (2018) Fig. 3/4: mean Spearman rank correlation (left) and SSIM (right)
    of each method's map with its original as the layers are randomized (one line per method).

    Args:
        results: ``{method name: Randomization}``, all with the same ``layers``.
        title: figure title.
    """
    fig, axes = subplots(1, 2, panel_aspect=0.62, extra_height=0.6)
    layers = list(next(iter(results.values())).layers)
    for ax, key, label in zip(
        axes[0], ("spearman", "ssim"), ("Spearman rank correlation of |map|", "SSIM of |map|")
    ):
        for marker, (name, r) in zip("os^vDPX*", results.items()):
            ax.plot(np.asarray(getattr(r, key)), marker=marker, label=name)
        ax.set_xticks(
            range(len(layers)),
            [layers[0]] + [f"+ {x}" for x in layers[1:]],
            rotation=45,
            ha="right",
            fontsize=FONT,
        )
        ax.set_ylim(-0.15, 1.05)
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_ylabel(label, fontsize=FONT)
        ax.set_xlabel("layers re-initialized (cumulative, from the top)", fontsize=FONT)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=FONT)
    if title:
        fig.suptitle(title, fontsize=FONT + 2)
    return fig


def deletion_insertion_figure(deletion: dict, insertion: dict, title: str | None = None):
    """Mean RISE deletion (left) and insertion (right) curves of several methods (Petsiuk et
    al. 2018), the mean AUC in the legend.

    Args:
        deletion, insertion: ``{method name: Curve}``
            (:class:`zfkeras.evaluation.deletion.Curve`).
        title: figure title.
    """
    fig, axes = subplots(1, 2, panel_aspect=0.62, extra_height=0.4)
    for ax, curves, kind, better in zip(
        axes[0], (deletion, insertion), ("deletion", "insertion"), ("lower", "higher")
    ):
        for name, c in curves.items():
            ax.plot(
                c.fractions,
                np.asarray(c.scores).mean(0),
                ls="--" if name == "random" else "-",
                label=f"{name} (AUC {np.mean(c.auc):.3f})",
            )
        ax.set_xlabel(
            f"fraction of pixels {'removed' if kind == 'deletion' else 'inserted'}, "
            "most important first",
            fontsize=FONT,
        )
        ax.set_ylabel("class probability (mean over images)", fontsize=FONT)
        ax.set_title(f"{kind} ({better} AUC = more faithful)", fontsize=FONT + 1)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=FONT)
    if title:
        fig.suptitle(title, fontsize=FONT + 2)
    return fig
