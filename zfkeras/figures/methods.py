"""Figures of the methods that explain any model: activations, the deconvnet and Grad-CAM.
Filter patterns are in :mod:`~zfkeras.figures.patterns`, top-9 patches (paper Fig. 2) in
:mod:`~zfkeras.figures.patches`, occlusion (paper Fig. 7) in :mod:`~zfkeras.figures.occlusion`;
``patterns_figure``, ``top9_figure`` and ``occlusion_figure`` are re-exported here."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from zfkeras.figures.common import as_image, tile_mosaic, to_display
from zfkeras.figures.occlusion import occlusion_figure
from zfkeras.figures.patches import top9_figure
from zfkeras.figures.patterns import patterns_figure
from zfkeras.figures.style import (
    DPI,
    FONT,
    GAP,
    SEP,
    TITLE_PX,
    WIDTH,
    colorbar,
    fit_zoom,
    mappable,
    pixel_grid,
    show,
    subplots,
)

__all__ = [
    "channel_grids",
    "gradcam_figure",
    "occlusion_figure",
    "overlay",
    "patterns_figure",
    "rules_figure",
    "top9_figure",
]


def channel_grids(
    activations: dict,
    image=None,
    channels: int = 32,
    ncols: int = 16,
    width: float | None = None,
    cmap: str = "viridis",
):
    """Draw every channel of several layers' activations for one image.

    Each layer is one mosaic (:func:`tile_mosaic`, 2-px white separators) enlarged by the
    largest integer factor that keeps it within the course's width (the title says the factor).

    Args:
        activations: ``{layer name: (H, W, C) or (1, H, W, C)}`` as returned by an
            :func:`activation_model` (the first image of a batch is drawn).
        image: optional ``(H, W, 3)`` image drawn first (uint8, or floats scaled for display).
        channels: at most this many channels per layer (the first ones).
        ncols: channels per row.
        width: at least this many inches wide (default: the course's standard).
        cmap: colour map; each channel is divided by its own maximum |activation| (the colour
            bar says so), so 0 is the same colour everywhere and a channel that is zero on the
            whole image (dead here) stays dark.

    Returns:
        The matplotlib Figure; titles give the layer, its shape and how many channels are zero.

    Raises:
        TypeError: ``activations`` is not a non-empty dict.
        ValueError: an activation is not ``(H, W, C)`` or ``(N, H, W, C)``.
    """
    if not isinstance(activations, dict) or not activations:
        raise TypeError(
            f"activations must be a non-empty dict name -> array, got {type(activations).__name__}"
        )
    grids = []
    for name, act in activations.items():
        act = np.asarray(act, np.float32)
        act = act[0] if act.ndim == 4 else act
        if act.ndim != 3:
            raise ValueError(
                f"activations[{name!r}] must be (H, W, C) or (N, H, W, C), got "
                f"shape {np.shape(activations[name])}"
            )
        h, w, c = act.shape
        n = min(channels, c)
        peak = np.abs(act).max(axis=(0, 1))
        scaled = np.divide(np.abs(act), peak, out=np.zeros_like(act), where=peak > 0)
        cols = min(ncols, n)
        k = fit_zoom(w, cols, gap=SEP, at_least=(width or 0) / cols)
        mosaic = tile_mosaic(
            np.moveaxis(scaled[..., :n], -1, 0), np.nan, ncols=cols, zoom=k, sep=SEP, border=False
        )
        title = (
            f"{name}  {h}x{w}x{c}, shown x{k}  (first {n} channels; "
            f"{int(np.sum(peak == 0))} of {c} zero on this image)"
        )
        grids.append((title, mosaic))
    if image is not None:
        grids.insert(0, ("input", as_image(image)))
    # one column of pixel-exact axes, each as large as the widest mosaic and its own height
    wide = max(m.shape[1] for _, m in grids)
    heights = [
        m.shape[0] if t != "input" else m.shape[0] * max(1, 192 // m.shape[0]) for t, m in grids
    ]
    total_h = sum(h + TITLE_PX + GAP for h in heights)
    right = 90
    fig = plt.figure(figsize=((wide + right) / DPI, total_h / DPI), dpi=DPI)
    y = 0
    map_axes = []
    for (title, m), hgt in zip(grids, heights):
        y += TITLE_PX
        ax = fig.add_axes((0, 1 - (y + hgt) / total_h, wide / (wide + right), hgt / total_h))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
        if title == "input":
            show(ax, m)
        else:
            cm = plt.get_cmap(cmap).with_extremes(bad="white")
            show(ax, np.ma.masked_invalid(m), 1, cmap=cm, vmin=0, vmax=1)
            map_axes.append(ax)
        ax.set_title(title, fontsize=FONT + 1, pad=3)
        y += hgt + GAP
    if map_axes:
        first = map_axes[0]
        span = (
            first.get_position().y1 - map_axes[-1].get_position().y0
        ) / first.get_position().height
        colorbar(
            fig, mappable(cmap), first, "|activation| / the channel's max on this image", rows=span
        )
    return fig


def overlay(image, heatmap, alpha: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """Lay a heatmap over an image for display.

    Args:
        image: ``(H, W, 3)`` uint8, or floats of any range (scaled to [0, 1]).
        heatmap: ``(h, w)`` values in [0, 1]; resized (bilinear) to ``(H, W)`` when needed.
        alpha: weight of the heatmap colour.
        cmap: matplotlib colour map.

    Returns:
        ``(H, W, 3)`` float32 RGB in [0, 1].
    """
    img = np.asarray(image)
    heat = np.asarray(heatmap, np.float32)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"image must be (H, W, 3), got shape {img.shape}")
    if heat.ndim != 2:
        raise ValueError(f"heatmap must be (h, w), got shape {heat.shape}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    img = img / 255.0 if img.dtype == np.uint8 else to_display(img)
    if heat.shape != img.shape[:2]:
        import tensorflow as tf

        heat = tf.image.resize(heat[..., None], img.shape[:2], "bilinear").numpy()[..., 0]
    colour = plt.get_cmap(cmap)(np.clip(np.nan_to_num(heat), 0, 1))[..., :3]
    return ((1 - alpha) * img + alpha * colour).astype(np.float32)


def gradcam_figure(
    images,
    heatmaps,
    titles: Sequence[str] | None = None,
    guided=None,
    size: float | None = None,
    alpha: float = 0.45,
):
    """Columns of image / Grad-CAM overlay(s) (/ Guided Grad-CAM when ``guided`` is given),
    pixel-exact at an integer zoom, with a colour bar for the Grad-CAM rows.

    Args:
        images: ``(N, H, W, 3)`` uint8 (or floats, scaled for display).
        heatmaps: ``(N, h, w)`` in [0, 1], or a dict ``{row label: (N, h, w)}`` for several
            overlay rows (say, two classes, or two models).
        titles: one title per column; a title may have several lines (``\n``), the
            figure leaves room for the longest.
        guided: optional ``(N, H, W, 3)`` Guided Grad-CAM maps (signed; each scaled on its
            own, 0 = grey).
        size: at least this many inches per panel (default: the course's standard width).
        alpha: weight of the heatmap colour in the overlays.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: a row of ``heatmaps`` (or ``guided``) has not one map per image.
    """
    images = np.asarray(images)
    rows = heatmaps if isinstance(heatmaps, dict) else {"Grad-CAM": heatmaps}
    rows = {k: np.asarray(v) for k, v in rows.items()}
    n_heat = len(rows)
    if guided is not None:
        rows["Guided\nGrad-CAM"] = np.asarray(guided)
    n = len(images)
    for label, v in rows.items():
        if len(v) != n:
            raise ValueError(
                f"heatmaps must have one map per image ({n}), got {len(v)} for {label!r}"
            )
    h, w = images.shape[1:3]
    lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles is not None else 0
    title_px = TITLE_PX * lines
    label_px, right_px = 80, 80
    k = fit_zoom(max(h, w), n, extra=label_px + right_px, at_least=size, tiles=n * (1 + len(rows)))
    fig, axes = pixel_grid(
        1 + len(rows),
        n,
        (k * h, k * w),
        title_px=title_px,
        label_px=label_px,
        right_px=right_px,
    )
    for i in range(n):
        show(axes[0, i], as_image(images[i]), k)
        for r, v in enumerate(rows.values(), start=1):
            shown = (
                to_display(v[i], symmetric=True)
                if v[i].ndim == 3
                else overlay(images[i], v[i], alpha)
            )
            show(axes[r, i], shown, k)
        if titles is not None:
            axes[0, i].set_title(str(titles[i]), fontsize=FONT, pad=3)
    for r, label in enumerate(["image", *rows]):
        axes[r, 0].set_ylabel(label, fontsize=FONT + 1)
    span = (n_heat * k * h + (n_heat - 1) * (GAP + title_px)) / (k * h)
    colorbar(fig, mappable("jet"), axes[1, -1], "Grad-CAM, scaled to [0, 1] per image", rows=span)
    return fig


def rules_figure(forward, signal, size: float | None = None):
    """The three ways down through a ReLU on a small example: the forward input ``f``, the
    downward signal ``r`` and what backprop, the deconvnet and guided backprop pass on, each
    grid printed with its numbers (as in Springenberg et al. 2015, Fig. 1), on one colour scale.

    Args:
        forward, signal: 2-D arrays of the same small shape (e.g. 4x4).
        size: at least this many inches per panel (default: the course's 11-inch width).

    Returns:
        The matplotlib Figure (the arrays come from :func:`zfkeras.methods.deconvnet.relu_rules`).
    """
    from zfkeras.methods.deconvnet import relu_rules

    f, r = np.asarray(forward, np.float32), np.asarray(signal, np.float32)
    results = relu_rules(f, r)
    panels = [
        ("forward input f", f),
        ("downward signal r", r),
        ("backprop: r * (f > 0)", results.backprop),
        ("deconvnet: relu(r)", results.deconvnet),
        ("guided: relu(r) * (f > 0)", results.guided),
    ]
    top = max(np.abs(f).max(), np.abs(r).max(), 1e-6)
    width = max(WIDTH, (size or 0) * len(panels) + 1)
    fig, axes = subplots(
        1, len(panels), width=width, panel_aspect=f.shape[0] / f.shape[1], extra_height=0.5
    )
    for ax, (title, a) in zip(axes[0], panels):
        im = ax.imshow(a, cmap="RdBu_r", vmin=-top, vmax=top, interpolation="nearest")
        for (i, j), v in np.ndenumerate(a):
            ax.text(j, i, f"{v + 0:g}", ha="center", va="center", fontsize=10)
        ax.set_title(title, fontsize=FONT + 1)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=list(axes[0]), shrink=0.8, pad=0.01).set_label(
        "value (one scale for all panels)", fontsize=FONT
    )
    return fig
