"""Figures of the methods that explain any model: activations, the deconvnet, filters,
Grad-CAM, top-9 patches (paper Fig. 2) and occlusion (paper Fig. 7)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from zfkeras.figures.common import tile_mosaic, to_display
from zfkeras.methods.occlusion import OcclusionResult, lowest_probability_box

# ---- from zfkeras/methods/graph.py

def _mosaic(act: np.ndarray, channels: int, ncols: int) -> tuple[np.ndarray, int, int]:
    """Tile the first ``channels`` channels of ``(H, W, C)``, each scaled by its own maximum
    absolute value (0 stays black; a dead channel is black). Returns (mosaic, shown, dead)."""
    h, w, c = act.shape
    n = min(channels, c)
    peak = np.abs(act).max(axis=(0, 1))
    dead = int(np.sum(peak == 0))
    scaled = np.divide(np.abs(act), peak, out=np.zeros_like(act), where=peak > 0)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    out = np.full((nrows * (h + 1) - 1, ncols * (w + 1) - 1), np.nan, np.float32)
    for i in range(n):
        r, q = divmod(i, ncols)
        out[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = scaled[..., i]
    return out, n, dead


def channel_grids(activations: dict, image=None, channels: int = 32, ncols: int = 16,
                  width: float = 11.0, cmap: str = "viridis"):
    """Draw every channel of several layers' activations for one image.

    Args:
        activations: ``{layer name: (H, W, C) or (1, H, W, C)}`` as returned by an
            :func:`activation_model` (the first image of a batch is drawn).
        image: optional ``(H, W, 3)`` image drawn first (uint8, or floats scaled for display).
        channels: at most this many channels per layer (the first ones).
        ncols: channels per row.
        width: figure width in inches.
        cmap: colour map; each channel is scaled by its own maximum, so 0 is the same colour
            everywhere and a channel that is zero on the whole image (dead here) stays dark.

    Returns:
        The matplotlib Figure; titles give the layer, its shape and how many channels are zero.
    """
    if not isinstance(activations, dict) or not activations:
        raise TypeError(f"activations must be a non-empty dict name -> array, got "
                        f"{type(activations).__name__}")
    tiles = []
    for name, act in activations.items():
        act = np.asarray(act, np.float32)
        act = act[0] if act.ndim == 4 else act
        if act.ndim != 3:
            raise ValueError(f"activations[{name!r}] must be (H, W, C) or (N, H, W, C), got "
                             f"shape {np.shape(activations[name])}")
        tiles.append((name, act.shape) + _mosaic(act, channels, ncols))
    heights = [t[2].shape[0] / t[2].shape[1] for t in tiles]
    extra = 1 if image is not None else 0
    ratios = ([0.16] if extra else []) + heights
    fig, axes = plt.subplots(len(tiles) + extra, 1, squeeze=False,
                             figsize=(width, width * sum(ratios) * 1.08 + 0.35 * len(tiles)),
                             gridspec_kw={"height_ratios": ratios})
    axes = axes[:, 0]
    if extra:
        from zfkeras.figures import to_display

        img = np.asarray(image)
        axes[0].imshow(img if img.dtype == np.uint8 else to_display(img))
        axes[0].set_title("input", fontsize=9)
        axes[0].axis("off")
    for ax, (name, shape, mosaic, shown, dead) in zip(axes[extra:], tiles):
        ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(f"{name}  {shape[0]}x{shape[1]}x{shape[2]}  (first {shown} channels; "
                     f"{dead} of {shape[2]} zero on this image)", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig



# ---- from zfkeras/methods/cam.py

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


def gradcam_figure(images, heatmaps, titles: Sequence[str] | None = None, guided=None,
                   size: float = 1.0, alpha: float = 0.45):
    """Columns of image / Grad-CAM overlay(s) (/ Guided Grad-CAM when ``guided`` is given).

    Args:
        images: ``(N, H, W, 3)`` uint8 (or floats, scaled for display).
        heatmaps: ``(N, h, w)`` in [0, 1], or a dict ``{row label: (N, h, w)}`` for several
            overlay rows (say, two classes, or two models).
        titles: one title per column.
        guided: optional ``(N, H, W, 3)`` Guided Grad-CAM maps (signed).
        size: inches per panel.

    Returns:
        The matplotlib Figure.
    """
    images = np.asarray(images)
    rows = heatmaps if isinstance(heatmaps, dict) else {"Grad-CAM": heatmaps}
    rows = {k: np.asarray(v) for k, v in rows.items()}
    if guided is not None:
        rows["Guided\nGrad-CAM"] = np.asarray(guided)
    n = len(images)
    for label, v in rows.items():
        if len(v) != n:
            raise ValueError(f"heatmaps must have one map per image ({n}), got {len(v)} for "
                             f"{label!r}")
    fig, axes = plt.subplots(1 + len(rows), n, figsize=(size * n + 0.4, size * (1 + len(rows))
                                                        + 0.25), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(images[i] if images.dtype == np.uint8 else to_display(images[i]))
        for r, v in enumerate(rows.values(), start=1):
            shown = (to_display(v[i], symmetric=True) if v[i].ndim == 3
                     else overlay(images[i], v[i], alpha))
            axes[r, i].imshow(shown)
        if titles is not None:
            axes[0, i].set_title(str(titles[i]), fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for r, label in enumerate(["image", *rows]):
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.tight_layout(pad=0.3)
    return fig



# ---- from zfkeras/methods/deconvnet.py

def rules_figure(forward, signal, size: float = 1.9):
    """The three ways down through a ReLU on a small example: the forward input ``f``, the
    downward signal ``r`` and what backprop, the deconvnet and guided backprop pass on, each
    grid printed with its numbers (as in Springenberg et al. 2015, Fig. 1).

    Args:
        forward, signal: 2-D arrays of the same small shape (e.g. 4x4).

    Returns:
        The matplotlib Figure (the arrays come from :func:`zfkeras.methods.deconvnet.relu_rules`).
    """
    from zfkeras.methods.deconvnet import relu_rules

    f, r = np.asarray(forward, np.float32), np.asarray(signal, np.float32)
    results = relu_rules(f, r)
    panels = [("forward input f", f), ("downward signal r", r),
              ("backprop: r * (f > 0)", results["backprop"]),
              ("deconvnet: relu(r)", results["deconvnet"]),
              ("guided: relu(r) * (f > 0)", results["guided"])]
    top = max(np.abs(f).max(), np.abs(r).max(), 1e-6)
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size + 0.4))
    for ax, (title, a) in zip(axes, panels):
        ax.imshow(a, cmap="RdBu_r", vmin=-top, vmax=top)
        for (i, j), v in np.ndenumerate(a):
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=9)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig



# ---- from zfkeras/methods/filters.py

def patterns_figure(rows: dict, size: float = 1.1, title: str | None = None):
    """Rows of patterns, one row per entry of ``rows`` (label -> ``(n, H, W, 3)``), each pattern
    scaled for display on its own. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    from zfkeras.figures import to_display

    if not isinstance(rows, dict) or not rows:
        raise TypeError(f"rows must be a non-empty dict label -> patterns, got "
                        f"{type(rows).__name__}")
    ncols = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), ncols, figsize=(size * ncols + 0.8, size * len(rows)
                                                         + 0.3 * bool(title)), squeeze=False)
    for r, (label, pats) in enumerate(rows.items()):
        shown = to_display(np.asarray(pats))
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_frame_on(False)
            if c < len(shown):
                ax.imshow(shown[c], interpolation="nearest")
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig



# ---- from zfkeras/methods/mining.py

def top9_figure(tiles, images=None, top=None, display=None,
                channels: Sequence[int] | None = None, mode: str = "deconvnet",
                ncols: int = 2, size: float = 2.0, title: str | None = None):
    """Paper Fig. 2 for one layer: per channel, the deconvnet projections of its top
    activations (left, 3x3) beside the image patches that caused them (right, 3x3).

    Args:
        tiles: a :class:`~zfkeras.methods.mining.Top9Tiles` from
            :func:`zfkeras.methods.mining.top9_tiles`. (Deprecated form: the model, with
            ``images``, ``top``, ``display``, ``channels`` and ``mode`` as in ``top9_tiles``.)
        ncols: channels per figure row.
        size: inches per 3x3 mosaic.
        title: figure title.

    Returns:
        The matplotlib Figure.
    """
    from zfkeras.methods.mining import Top9Tiles, top9_tiles

    if not isinstance(tiles, Top9Tiles):
        import warnings

        warnings.warn("top9_figure(model, images, top, ...) is deprecated: compute "
                      "zfkeras.methods.mining.top9_tiles(model, images, top, ...) and pass it",
                      DeprecationWarning, stacklevel=2)
        tiles = top9_tiles(tiles, images, top, display=display, channels=channels, mode=mode)
    n_c, k = tiles.patches.shape[:2]
    proj = (to_display(tiles.projections.reshape((-1,) + tiles.projections.shape[2:]),
                       symmetric=True) * 255).astype(np.uint8).reshape(tiles.projections.shape)
    n_rows = math.ceil(n_c / ncols)
    fig, axes = plt.subplots(n_rows, 2 * ncols, figsize=(2 * ncols * size, n_rows * size),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for j, c in enumerate(tiles.channels):
        r, q = divmod(j, ncols)
        for side, group in enumerate((proj[j], tiles.patches[j])):
            ax = axes[r, 2 * q + side]
            ax.imshow(tile_mosaic(group, 0), interpolation="nearest")
            ax.set_title(f"{tiles.layer} ch {c}" + (" (projections)" if side == 0 else ""),
                         fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---- from zfkeras/methods/occlusion.py

def _heat(ax, result, values, title, cmap, image_shape, **kw):
    rows, cols, s = result.rows, result.cols, result.stride
    half = result.patch_size / 2 - 0.5  # occluder centre, in pixel coordinates
    extent = (cols[0] + half - s / 2, cols[-1] + half + s / 2, rows[-1] + half + s / 2,
              rows[0] + half - s / 2)
    im = ax.imshow(values, cmap=cmap, extent=extent, interpolation="nearest", **kw)
    ax.set_xlim(-0.5, image_shape[1] - 0.5)
    ax.set_ylim(image_shape[0] - 0.5, -0.5)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def occlusion_figure(image, result: OcclusionResult, projection=None, class_names=None,
                     mask=None, size: float = 2.3):
    """The panels of paper Fig. 7 for one image: (a) the image, (b) the chosen feature map's
    total activation per occluder position, (c) that map's deconvnet projection (if given),
    (d) the class probability per position, (e) the most probable class per position.

    Map values are drawn at the occluder's centre. Args: ``image`` ``(H, W, 3)`` for display
    (uint8 or float), ``result`` from :func:`occlusion_sensitivity`, ``projection``
    ``(H, W, 3)`` or None, ``class_names`` for the legend of (e), ``mask`` an optional bool
    ``(H, W)`` object outline drawn on (a). Returns the Figure.
    """
    from zfkeras.figures import to_display

    image = np.asarray(image)
    shape = image.shape[:2]
    panels = ["image"] + (["activation"] if result.activation is not None else [])
    panels += (["projection"] if projection is not None else []) + ["probability", "top"]
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size + 0.5))
    axes = np.atleast_1d(axes)
    names = class_names or [str(i) for i in range(int(result.top_class.max()) + 1)]
    for ax, panel in zip(axes, panels):
        if panel == "image":
            ax.imshow(image if image.dtype == np.uint8 else to_display(image))
            if mask is not None:
                ax.contour(np.asarray(mask, float), [0.5], colors="yellow", linewidths=0.8)
            r0, c0, r1, c1 = lowest_probability_box(result)
            ax.add_patch(plt.Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False,
                                       ec="red", lw=1.2))
            ax.set_title("(a) image, lowest-p occluder", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        elif panel == "activation":
            im = _heat(ax, result, result.activation,
                       f"(b) {result.layer} map {result.channel}: total", "viridis", shape)
            fig.colorbar(im, ax=ax, fraction=0.046)
        elif panel == "projection":
            ax.imshow(to_display(np.asarray(projection), symmetric=True))
            ax.set_title("(c) its projection", fontsize=9)
            ax.axis("off")
        elif panel == "probability":
            cname = names[result.class_index] if result.class_index < len(names) else ""
            im = _heat(ax, result, result.probability, f"(d) p({cname})", "jet", shape,
                       vmin=0, vmax=1)
            fig.colorbar(im, ax=ax, fraction=0.046)
        else:
            top = result.top_class
            present = np.unique(top)
            cmap = plt.get_cmap("tab10", max(10, len(names)))
            _heat(ax, result, top, "(e) most probable class", cmap, shape, vmin=-0.5,
                  vmax=cmap.N - 0.5)
            handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(int(k))) for k in present]
            ax.legend(handles, [names[int(k)] for k in present], fontsize=7, loc="upper left",
                      bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig
