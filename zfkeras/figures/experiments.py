"""Figures of the paper's experiments: feature evolution (Fig. 4), architecture diagnostics
(Fig. 6), invariance (Fig. 5), correspondence (Fig. 8), probes and transfer (Tables 4-7)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from zfkeras.experiments.diagnostics import BANDS
from zfkeras.experiments.evolution import crop_to_signal, snapshot_layers
from zfkeras.experiments.invariance import UNITS, InvarianceCurves
from zfkeras.figures.common import to_display
from zfkeras.figures.style import (
    FONT,
    GAP,
    MAX_PX,
    TITLE_PX,
    WIDTH,
    fit_zoom,
    pixel_grid,
    plot,
    show,
    subplots,
)


def compare_figure(kernels: Mapping[str, np.ndarray], ncols: int = 16, size: float | None = None):
    """Layer-1 filters of several models, one block of rows per model (named above it), each
    filter scaled on its own and enlarged by one integer factor, nearest neighbour, 3-px white
    gaps (paper Fig. 6 b, c).

    Args:
        kernels: model name -> ``(kh, kw, 3, n)`` first-layer kernel.
        ncols: filters per row.
        size: at least this many inches per filter (default: the course's standard width).

    Returns:
        The matplotlib Figure.
    """
    blocks = [(name, np.moveaxis(np.asarray(k), -1, 0)) for name, k in kernels.items()]
    rows = [int(np.ceil(len(b) / ncols)) for _, b in blocks]
    big = max(max(b.shape[1:3]) for _, b in blocks)
    k = fit_zoom(big, ncols, gap=3, at_least=size)
    heads = [TITLE_PX if i == 0 else 0 for nr in rows for i in range(nr)]
    fig, axes = pixel_grid(sum(rows), ncols, (k * big, k * big), gap=3, row_head=heads)
    r = 0
    for (name, b), nr in zip(blocks, rows):
        shown = to_display(b)
        for i in range(nr * ncols):
            ax = axes[r + i // ncols, i % ncols]
            if i < len(b):
                show(ax, shown[i])
            else:
                ax.set_visible(False)
        h, w = b.shape[1:3]
        axes[r, 0].set_title(
            f"{name}  ({h}x{w} filters, shown x{k * big // max(h, w)})",
            fontsize=FONT + 1,
            loc="left",
            pad=4,
        )
        r += nr
    return fig


def bands_figure(reports: Mapping[str, np.ndarray], title: str | None = None):
    """Bar chart of the mean low / middle / high energy fractions, one group per model.
    ``reports``: name -> ``(n, 3)`` band fractions (from :func:`frequency_bands`)."""
    fig, ax = plot()
    width = 0.8 / max(1, len(reports))
    for k, (name, b) in enumerate(reports.items()):
        b = np.asarray(b)
        ax.bar(np.arange(3) + k * width, b.mean(0), width, yerr=b.std(0), capsize=2, label=name)
    ax.set_xticks(np.arange(3) + width * (len(reports) - 1) / 2, BANDS)
    ax.set_ylabel("fraction of spectral energy (mean ± std)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=FONT)
    if title:
        ax.set_title(title)
    return fig


def weight_change_figure(trace: Mapping, lr_fraction: float | None = None):
    """How far each layer's weights move per epoch, with the learning rate (paper Fig. 4's
    training run, seen through its weights).

    Args:
        trace: ``{"epoch": (E,), "lr": (E,), "weight_change": layer -> (E,)}``, as recorded by
            :class:`zfkeras.FeatureEvolution` (``.trace``) or read by
            :func:`zfkeras.experiments.evolution.load_trace`.
        lr_fraction: if given, shade the epochs whose learning rate is below this fraction of
            the peak (the epochs :func:`~zfkeras.experiments.evolution.stabilization` does not
            count).

    Returns:
        The Figure: one line per layer of ``||W_e - W_(e-1)|| / ||W_(e-1)||`` (log scale) and
        the learning rate on a second axis.
    """
    epochs = np.asarray(trace["epoch"])
    lr = np.asarray(trace["lr"], np.float64)
    if epochs.ndim != 1 or lr.shape != epochs.shape or not trace["weight_change"]:
        raise ValueError("trace must hold 'epoch', 'lr' and 'weight_change' of one length")
    fig, ax = plot()
    for name, change in trace["weight_change"].items():
        ax.plot(epochs, np.asarray(change), marker="o", ms=3, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("relative weight change in the epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=FONT, ncols=2)
    rate = ax.twinx()
    rate.plot(epochs, lr, color="0.4", ls="--", label="learning rate")
    rate.set_ylabel("learning rate (dashed)")
    if lr_fraction is not None:
        for e in epochs[lr < lr_fraction * lr.max()]:
            ax.axvspan(e - 0.5, e + 0.5, color="0.85", zorder=0)
    return fig


def evolution_figure(
    snapshots: dict,
    layers: Sequence[str] | None = None,
    size: float | None = None,
    crop: bool = True,
):
    """Paper Fig. 4: for each layer, rows of units and columns of epochs, each projection
    scaled on its own (0 = grey; ``crop``: cropped by :func:`crop_to_signal`) and enlarged by
    the largest integer factor that fits its cell, nearest neighbour.

    Args:
        snapshots: epoch -> :class:`~zfkeras.experiments.evolution.Snapshot` (per layer the
            units' ``channel`` (u,) and ``projection`` (u, H, W, 3)).
        layers: the layers drawn (default: all in the snapshots).
        size: at least this many inches per cell (default: the course's standard width).
        crop: crop every projection to its signal first.

    Returns:
        The matplotlib Figure.
    """
    epochs = sorted(snapshots)
    layers = list(layers or snapshot_layers(snapshots))
    first = snapshots[epochs[0]].layers
    units = [len(first[n].channel) for n in layers]
    tiles = []
    for n, u in zip(layers, units):
        for k in range(u):
            row = []
            for e in epochs:
                proj = snapshots[e].layers[n].projection[k]
                row.append(to_display(crop_to_signal(proj) if crop else proj, symmetric=True))
            tiles.append((f"{n}:{first[n].channel[k]}", row))
    big = max(max(t.shape[:2]) for _, row in tiles for t in row)
    cell = fit_zoom(big, len(epochs), extra=70, at_least=size) * big
    cell = min(cell, max(96, (MAX_PX - 70) // len(epochs) - GAP))
    fig, axes = pixel_grid(len(tiles), len(epochs), (cell, cell), label_px=70, title_px=TITLE_PX)
    for r, (label, row) in enumerate(tiles):
        for j, (e, t) in enumerate(zip(epochs, row)):
            ax = axes[r, j]
            show(ax, t)
            if r == 0:
                ax.set_title(f"epoch {e}", fontsize=FONT + 1, pad=3)
        axes[r, 0].set_ylabel(label, fontsize=FONT + 1)
    return fig


def invariance_figure(
    results: Sequence[InvarianceCurves],
    names: Sequence[str] | None = None,
    relative: bool = True,
    size: float | None = None,
):
    """The paper's Fig. 5 grid: one column per transformation, rows for the low layer's
    distance, the high layer's distance and the true-class probability; one line per image.
    A layer with a spatial map also gets a dashed black line: the mean distance after its map
    is moved back (``InvarianceCurves.aligned``, equivariance removed).

    Args:
        results: :class:`InvarianceCurves` from :func:`invariance_curves` (one per kind).
        names: a label per image for the legend.
        relative: plot distances divided by the original's feature norm (else raw).
        size: at least this many inches per column (default: the course's 11-inch width).

    Returns:
        The Figure.
    """
    if not results:
        raise ValueError("results must hold at least one result of invariance_curves")
    layers = results[0].layers
    rows = len(layers) + 1
    width = max(WIDTH, (size or 0) * len(results) + 1.5)
    fig, axes = subplots(rows, len(results), width=width, panel_aspect=0.62)
    for j, res in enumerate(results):
        key = "relative" if relative else "distance"
        curves = [getattr(res, key)[n] for n in layers] + [res.probability]
        labels = [f"{n}: {'normalized ' if relative else ''}distance" for n in layers]
        for i, (ax, y) in enumerate(zip(axes[:, j], curves)):
            for k in range(y.shape[1]):
                ax.plot(
                    res.amounts,
                    y[:, k],
                    "o-",
                    ms=3,
                    lw=1.2,
                    label=names[k] if names is not None else None,
                )
            moved = getattr(res, "aligned_relative" if relative else "aligned", None)
            if i < len(layers) and moved is not None and not np.array_equal(moved[layers[i]], y):
                # the map moved back (equivariance removed): what the paper calls invariance
                ax.plot(
                    res.amounts, moved[layers[i]].mean(1), "k--", lw=2, label="moved back (mean)"
                )
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=FONT)
            if j == 0:
                ax.set_ylabel(labels[i] if i < len(layers) else "p(true class)", fontsize=FONT + 1)
            if i == 0:
                ax.set_title(res.kind, fontsize=FONT + 3)
            if i == rows - 1:
                ax.set_ylim(-0.05, 1.05)
                ax.set_xlabel(UNITS[res.kind], fontsize=FONT + 1)
    if names is not None:
        fig.legend(
            *axes[0, 0].get_legend_handles_labels(),
            loc="outside right upper",
            fontsize=FONT,
            frameon=False,
        )
    return fig


def _accuracy_axes(fig, ax, chance: float | None, title: str | None):
    """The common finish of the accuracy charts: chance line, [0, 1] scale, grid, legend."""
    if chance is not None:
        ax.axhline(chance, color="grey", ls="--", lw=1, label="chance")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=FONT)
    if title:
        ax.set_title(title)
    return fig


def probe_figure(
    accuracies: dict[str, float],
    chance: float | None = None,
    title: str | None = None,
    others: dict[str, dict[str, float]] | None = None,
    label: str = "probe",
):
    """Accuracy per layer (paper Table 7 as a plot). ``label``: the legend entry of
    ``accuracies`` (say, which data the probe ran on); ``others``: more labelled curves."""
    fig, ax = plot()
    curves = {label: accuracies} | (others or {})
    for label, acc in curves.items():
        ax.plot(list(acc), list(acc.values()), "o-", label=label)
    return _accuracy_axes(fig, ax, chance, title)


def generalization_figure(rows: Sequence, chance: float | None = None, title: str | None = None):
    """Test accuracy against labelled images per class for the ``frozen``, ``fine_tuned`` and
    ``scratch`` classifiers (rows: :class:`zfkeras.experiments.probes.FewShot`, from
    :func:`~zfkeras.experiments.probes.few_shot_transfer`). Returns the Figure."""
    fig, ax = plot()
    k = [r.per_class for r in rows]
    for key, label in (
        ("frozen", "frozen features + new softmax"),
        ("fine_tuned", "then fine-tuned fc6-fc7"),
        ("scratch", "from scratch"),
    ):
        ax.plot(k, [getattr(r, key) for r in rows], "o-", label=label)
    ax.set_xscale("log")
    ax.set_xticks(k, [str(v) for v in k])
    ax.set_xlabel("labelled images per class")
    return _accuracy_axes(fig, ax, chance, title)


def table_markdown(table, paper: Mapping[str, Sequence[str]] | None = None):
    """The result of :func:`correspondence_table` as a Markdown table (mean ± std per layer,
    optionally beside the paper's numbers per row)."""
    from zfkeras.figures.common import table as markdown_table

    head = ["occluded"] + [f"Delta {lay} (ours)" for lay in table.layers]
    head += [f"paper {h}" for h in ("layer 5", "layer 7")] if paper else []
    rows = []
    for r in table.rows:
        cells = [r] + [
            f"{table.mean[r][lay]:.4f} ± {table.std[r][lay]:.4f}" for lay in table.layers
        ]
        rows.append(cells + (list(paper.get(r, ("", ""))) if paper else []))
    return markdown_table(head, rows)
