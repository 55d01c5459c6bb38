"""Paper Fig. 7: occlusion maps for a batch of images, one row per image."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from zfkeras.figures.common import as_image, to_display
from zfkeras.figures.style import FONT, WIDTH, subplots


def _lowest_box(result, prob) -> tuple[int, int, int, int]:
    """The occluder square ``(row0, col0, row1, col1)`` where the class probability ``prob``
    (one image's ``(R, K)``) is lowest."""
    i, j = np.unravel_index(np.argmin(prob), prob.shape)
    r0, c0, p = int(result.rows[i]), int(result.cols[j]), int(result.patch_size)
    return r0, c0, r0 + p, c0 + p


def _heat(ax, result, values, title, cmap, image_shape, **kw):
    """Draw a map over occluder positions at the occluders' centres, in image pixels."""
    rows, cols, s = result.rows, result.cols, result.stride
    half = result.patch_size / 2 - 0.5  # occluder centre, in pixel coordinates
    extent = (
        cols[0] + half - s / 2,
        cols[-1] + half + s / 2,
        rows[-1] + half + s / 2,
        rows[0] + half - s / 2,
    )
    im = ax.imshow(values, cmap=cmap, extent=extent, interpolation="nearest", **kw)
    ax.set_xlim(-0.5, image_shape[1] - 0.5)
    ax.set_ylim(image_shape[0] - 0.5, -0.5)
    ax.set_title(title, fontsize=FONT + 1)
    return im


def _per_image(x, n, name):
    if x is None:
        return [None] * n
    if len(x) != n:
        raise ValueError(f"{name} must hold one entry per image of the result ({n}), got {len(x)}")
    return list(x)


def _class_codes(top_class, names, most: int = 20):
    """Panel (e)'s colour codes and labels: every class when there are at most 10 (one colour
    each, the same in every row), else only the classes that occur in this map (an ImageNet
    network has 1000), the ``most - 1`` most frequent by name and the rest as "other"."""
    top_class = np.asarray(top_class)
    if len(names) <= 10:
        return top_class, list(names)
    found, counts = np.unique(top_class, return_counts=True)
    kept = np.sort(
        found[np.argsort(-counts, kind="stable")][: most if len(found) <= most else most - 1]
    )
    codes = np.where(np.isin(top_class, kept), np.searchsorted(kept, top_class), len(kept))
    labels = [names[c] if c < len(names) else str(c) for c in kept]
    return codes, labels + (["other"] if len(kept) < len(found) else [])


def occlusion_figure(
    images,
    result,
    projections=None,
    class_names: Sequence[str] | None = None,
    masks=None,
    size: float | None = None,
):
    """The panels of paper Fig. 7, one row per image: (a) the image with the occluder position
    of lowest class probability (red) and the object's mask (yellow), (b) the chosen feature
    map's total activation per occluder position, (c) that map's deconvnet projection (if
    given), (d) how far the class probability drops below the unoccluded image's, (e) the most
    probable class per position.

    Maps are drawn at the occluder's centre, each with a colour bar: (b) on the map's own range,
    (d) in probability units from 0 to the image's largest drop on a square-root colour scale,
    so that small drops around the object show too; (e) names the classes (with more than
    10, such as ImageNet's 1000, only those that occur in the row's map).

    Args:
        images: ``(N, H, W, 3)`` for display (uint8 or float).
        result: the :class:`~zfkeras.methods.occlusion.OcclusionResult` of those images.
        projections: ``(N, H, W, 3)``, or None.
        class_names: names for (d) and (e).
        masks: bool ``(N, H, W)`` object outlines drawn on (a), or None.
        size: at least this many inches per panel (default: the course's 11-inch width).

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: ``images``, ``projections`` or ``masks`` do not match the result in number.
    """
    res = result
    n = len(res.probability)
    images = _per_image(images, n, "images")
    projections = _per_image(projections, n, "projections")
    masks = _per_image(masks, n, "masks")
    panels = ["image"] + (["activation"] if res.activation is not None else [])
    panels += (["projection"] if projections[0] is not None else []) + ["drop", "top"]
    width = max(WIDTH + 1.0, (size or 0) * len(panels) + 2.5)
    fig, axes = subplots(n, len(panels), width=width, panel_aspect=0.92)
    top_max = int(np.max(res.top_class))
    names = list(class_names or [str(i) for i in range(top_max + 1)])
    for i, (row, img, proj, msk) in enumerate(zip(axes, images, projections, masks)):
        img = np.asarray(img)
        shape = img.shape[:2]
        cls = int(res.class_index[i])
        cname = names[cls] if cls < len(names) else str(cls)
        base = float(res.base_probability[i])
        prob = np.asarray(res.probability[i], np.float32)
        for ax, panel in zip(row, panels):
            ax.set_xticks([])
            ax.set_yticks([])
            if panel == "image":
                ax.imshow(as_image(img), interpolation="nearest")
                if msk is not None:
                    ax.contour(np.asarray(msk, float), [0.5], colors="yellow", linewidths=1)
                r0, c0, r1, c1 = _lowest_box(res, prob)
                ax.add_patch(
                    plt.Rectangle(
                        (c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, ec="red", lw=1.5
                    )
                )
                ax.set_title("(a) lowest-p occluder", fontsize=FONT + 1)
                ax.set_ylabel(f"{cname}: p = {base:.2f}\nunoccluded", fontsize=FONT + 1)
            elif panel == "activation":
                im = _heat(
                    ax,
                    res,
                    res.activation[i],
                    f"(b) {res.layer} map {int(res.channels[i])}",
                    "viridis",
                    shape,
                )
                fig.colorbar(im, ax=ax, shrink=0.9).set_label(
                    "total activation (own range)", fontsize=FONT
                )
            elif panel == "projection":
                ax.imshow(to_display(np.asarray(proj), symmetric=True), interpolation="nearest")
                ax.set_title("(c) its projection", fontsize=FONT + 1)
            elif panel == "drop":
                drop = np.clip(base - prob, 0, None)
                top = max(float(drop.max()), 0.01)
                im = _heat(
                    ax,
                    res,
                    drop,
                    f"(d) drop of p({cname})",
                    "magma_r",
                    shape,
                    norm=mpl.colors.PowerNorm(0.5, vmin=0, vmax=top),
                )
                bar = fig.colorbar(im, ax=ax, shrink=0.9)
                bar.set_label("drop in probability (sqrt scale)", fontsize=FONT)
            else:
                codes, labels = _class_codes(res.top_class[i], names)
                cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20", max(10, len(labels)))
                im = _heat(
                    ax,
                    res,
                    codes,
                    "(e) most probable class",
                    cmap,
                    shape,
                    vmin=-0.5,
                    vmax=cmap.N - 0.5,
                )
                bar = fig.colorbar(im, ax=ax, shrink=0.9, ticks=range(len(labels)))
                bar.ax.set_yticklabels(labels, fontsize=FONT)
                bar.ax.set_ylim(-0.5, len(labels) - 0.5)
    return fig
