"""Figures of the paper's experiments: feature evolution (Fig. 4), architecture diagnostics
(Fig. 6), invariance (Fig. 5), correspondence (Fig. 8), probes and transfer (Tables 4-7)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from zfkeras.experiments.diagnostics import BANDS
from zfkeras.experiments.evolution import crop_to_signal, snapshot_layers
from zfkeras.experiments.invariance import UNITS, InvarianceCurves

# ---- from zfkeras/experiments/diagnostics.py

def compare_figure(kernels: Mapping[str, np.ndarray], ncols: int = 16, size: float = 0.55):
    """Layer-1 filters of several models, one block of rows per model, each filter scaled on
    its own (paper Fig. 6 b, c). Returns the Figure."""
    from zfkeras.figures import to_display

    blocks = [(name, np.moveaxis(np.asarray(k), -1, 0)) for name, k in kernels.items()]
    rows = [int(np.ceil(len(b) / ncols)) for _, b in blocks]
    fig, axes = plt.subplots(sum(rows), ncols, figsize=(size * ncols, size * sum(rows) + 0.5),
                             squeeze=False)
    r = 0
    for (name, b), nr in zip(blocks, rows):
        shown = to_display(b)
        for i in range(nr * ncols):
            ax = axes[r + i // ncols, i % ncols]
            ax.axis("off")
            if i < len(b):
                ax.imshow(shown[i], interpolation="nearest")
        axes[r, 0].set_title(name, fontsize=9, loc="left")
        r += nr
    fig.tight_layout(pad=0.2, h_pad=0.3, w_pad=0.1)
    return fig


def bands_figure(reports: Mapping[str, np.ndarray], title: str | None = None):
    """Bar chart of the mean low / middle / high energy fractions, one group per model.
    ``reports``: name -> ``(n, 3)`` band fractions (from :func:`frequency_bands`)."""
    fig, ax = plt.subplots(figsize=(5, 2.8))
    width = 0.8 / max(1, len(reports))
    for k, (name, b) in enumerate(reports.items()):
        b = np.asarray(b)
        ax.bar(np.arange(3) + k * width, b.mean(0), width, yerr=b.std(0), capsize=2, label=name)
    ax.set_xticks(np.arange(3) + width * (len(reports) - 1) / 2, BANDS)
    ax.set_ylabel("fraction of spectral energy")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig



# ---- from zfkeras/experiments/evolution.py

def evolution_figure(snapshots: dict, layers: Sequence[str] | None = None, size: float = 0.9,
                     crop: bool = True):
    """Paper Fig. 4: for each layer, rows of units and columns of epochs (each projection
    scaled on its own, 0 = grey; ``crop``: cropped by :func:`crop_to_signal`). Returns the
    Figure."""
    from zfkeras.figures import to_display

    epochs = sorted(snapshots)
    layers = list(layers or snapshot_layers(snapshots))
    units = [len(snapshots[epochs[0]][n]["channel"]) for n in layers]
    rows = sum(units)
    fig, axes = plt.subplots(rows, len(epochs), figsize=(size * len(epochs) + 0.6, size * rows),
                             squeeze=False)
    r = 0
    for n, u in zip(layers, units):
        for k in range(u):
            for j, e in enumerate(epochs):
                ax = axes[r, j]
                proj = snapshots[e][n]["projection"][k]
                ax.imshow(to_display(crop_to_signal(proj) if crop else proj, symmetric=True))
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"epoch {e}", fontsize=7)
                if j == 0:
                    ax.set_ylabel(f"{n}:{snapshots[e][n]['channel'][k]}", fontsize=6)
            r += 1
    fig.tight_layout(pad=0.2, h_pad=0.1, w_pad=0.1)
    return fig



# ---- from zfkeras/experiments/invariance.py

def invariance_figure(results: Sequence[InvarianceCurves], names: Sequence[str] | None = None,
                      relative: bool = True, size: float = 2.6):
    """The paper's Fig. 5 grid: one column per transformation, rows for the low layer's
    distance, the high layer's distance and the true-class probability; one line per image.

    Args:
        results: :class:`InvarianceCurves` from :func:`invariance_curves` (one per kind).
        names: a label per image for the legend.
        relative: plot distances divided by the original's feature norm (else raw).

    Returns:
        The Figure.
    """
    if not results:
        raise ValueError("results must hold at least one dict from invariance_curves")
    layers = results[0].layers
    rows = len(layers) + 1
    fig, axes = plt.subplots(rows, len(results), figsize=(size * len(results), 2.0 * rows),
                             squeeze=False)
    for j, res in enumerate(results):
        key = "relative" if relative else "distance"
        curves = [getattr(res, key)[n] for n in layers] + [res.probability]
        labels = [f"{n}: {'normalized ' if relative else ''}distance" for n in layers]
        for i, (ax, y) in enumerate(zip(axes[:, j], curves)):
            for k in range(y.shape[1]):
                ax.plot(res.amounts, y[:, k], "o-", ms=2, lw=1,
                        label=names[k] if names is not None else None)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
            if j == 0:
                ax.set_ylabel(labels[i] if i < len(layers) else "p(true class)", fontsize=8)
            if i == 0:
                ax.set_title(res.kind, fontsize=10)
            if i == rows - 1:
                ax.set_ylim(-0.05, 1.05)
                ax.set_xlabel(UNITS[res.kind], fontsize=8)
    if names is not None:
        axes[0, -1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                           frameon=False)
    fig.tight_layout()
    return fig



# ---- from zfkeras/experiments/probes.py

def probe_figure(accuracies: dict[str, float], chance: float | None = None,
                 title: str | None = None, others: dict[str, dict[str, float]] | None = None):
    """Accuracy per layer (paper Table 7 as a plot). ``others``: more labelled curves."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    curves = {"probe": accuracies} | (others or {})
    for label, acc in curves.items():
        ax.plot(list(acc), list(acc.values()), "o-", label=label)
    if chance is not None:
        ax.axhline(chance, color="grey", ls="--", lw=1, label="chance")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def generalization_figure(rows: Sequence[dict], chance: float | None = None,
                          title: str | None = None):
    """Test accuracy against labelled images per class for the ``frozen``, ``fine_tuned`` and
    ``scratch`` classifiers (rows from :func:`few_shot_transfer`). Returns the Figure."""
    fig, ax = plt.subplots(figsize=(5, 3))
    k = [r["per_class"] for r in rows]
    for key, label in (("frozen", "frozen features + new softmax"),
                       ("fine_tuned", "then fine-tuned fc6-fc7"), ("scratch", "from scratch")):
        ax.plot(k, [r[key] for r in rows], "o-", label=label)
    if chance is not None:
        ax.axhline(chance, color="grey", ls="--", lw=1, label="chance")
    ax.set_xscale("log")
    ax.set_xticks(k, [str(v) for v in k])
    ax.set_xlabel("labelled images per class")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig



# ---- from zfkeras/experiments/correspondence.py

def table_markdown(table: dict, paper: Mapping[str, Sequence[str]] | None = None):
    """The result of :func:`correspondence_table` as a Markdown table (mean ± std per layer,
    optionally beside the paper's numbers per row)."""
    from IPython.display import Markdown

    head = ["occluded"] + [f"Delta {lay} (ours)" for lay in table["layers"]]
    head += [f"paper {h}" for h in ("layer 5", "layer 7")] if paper else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table["rows"]:
        cells = [r] + [f"{table['mean'][r][lay]:.4f} ± {table['std'][r][lay]:.4f}"
                       for lay in table["layers"]]
        cells += list(paper.get(r, ("", ""))) if paper else []
        lines.append("| " + " | ".join(cells) + " |")
    return Markdown("\n".join(lines))
