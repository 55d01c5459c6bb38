"""How alike a feature map's top-9 patches are, against random patches of the same size
(paper section 4, Fig. 2: "deeper features are more invariant").

The paper reads Fig. 2 by eye: a layer-5 feature map is driven by patches that look different
(invariance), a layer-1 map by near-identical ones. Measured as the mean correlation between a
map's 9 patches, the number could fall with depth for a reason that has nothing to do with the
unit: the patch grows with the receptive field (7 px at conv1, more than the image at conv5),
patches that reach into the zero padding share its zeros, and a shared layout of the images
(a centred object) makes large unrelated patches correlate. So every layer is read against the
same measure on random patches of its own size from the same images (:func:`random_patches`):
only the excess over that baseline says the unit picks alike patches. (On CIFAR-10 with the
shipped ZFNet the baseline is near 0 at every layer, from -0.02 to 0.01.)

Python: :func:`cut_patches`, :func:`patch_correlation`, :func:`random_patches` (its mean) and
:func:`random_patch_correlations` (one value per draw, for a verdict's interval).
"""

from __future__ import annotations

import numpy as np

from zfkeras.methods.checks import SEED


def cut_patches(images, index, top, left, size) -> np.ndarray:
    """The ``size`` patches of ``images[index]`` whose top-left corners are ``(top, left)``.

    Args:
        images: ``(N, H, W, C)``.
        index, top, left: int ``(K,)`` each: the image and the corner of every patch (a corner
            may be negative or past the edge).
        size: ``(rows, cols)`` or an int.

    Returns:
        float32 ``(K, rows, cols, C)``, zero outside the image.
    """
    x = np.asarray(images, np.float32)
    if x.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {x.shape}")
    rows, cols = (size, size) if np.isscalar(size) else (int(size[0]), int(size[1]))
    index, top, left = (np.asarray(v, int).ravel() for v in (index, top, left))
    if not len(index) == len(top) == len(left):
        raise ValueError(
            f"index, top and left must have one length, got {len(index)}, "
            f"{len(top)} and {len(left)}"
        )
    pad = max(rows, cols)
    padded = np.pad(x[index], ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    return np.stack(
        [
            p[t + pad : t + pad + rows, le + pad : le + pad + cols]
            for p, t, le in zip(padded, top, left)
        ]
    )


def patch_correlation(patches) -> float:
    """The mean Pearson correlation over all pairs of ``patches`` ``(K, ...)``, K >= 2, each
    flattened; a pair with a constant patch counts 0."""
    p = np.asarray(patches, np.float64).reshape(len(patches), -1)
    if len(p) < 2:
        raise ValueError(f"patches must hold at least 2 patches, got shape {np.shape(patches)}")
    p = p - p.mean(1, keepdims=True)
    norm = np.linalg.norm(p, axis=1)
    z = np.divide(p, norm[:, None], out=np.zeros_like(p), where=norm[:, None] > 1e-12)
    corr = z @ z.T
    return float(corr[np.triu_indices(len(p), 1)].mean())


def random_patch_correlations(
    images, field, groups: int = 200, k: int = 9, *, seed: int = SEED
) -> np.ndarray:
    """The baseline, one value per draw: :func:`patch_correlation` of ``k`` random patches of a
    layer's receptive field size, for each of ``groups`` draws.

    Each patch is the receptive field of a random position of the layer's map in a random image
    of ``images`` (so it reaches into the padding as often as the top-9 patches can).

    Args:
        images: ``(N, H, W, C)``, the images the top 9 were mined from.
        field: the layer's :class:`zfkeras.methods.fields.ReceptiveField`.
        groups, k: number of draws and patches per draw (the top 9: ``k=9``).
        seed: the random draw.

    Returns:
        float64 ``(groups,)``: the mean correlation of each draw's unrelated patches.

    Raises:
        ValueError: ``groups < 1`` or ``k < 2``.
    """
    if groups < 1 or k < 2:
        raise ValueError(f"groups must be >= 1 and k >= 2, got {groups} and {k}")
    rng = np.random.default_rng(seed)
    n = len(images)
    out = []
    for _ in range(groups):
        idx = rng.integers(n, size=k)
        row = rng.integers(field.output_size[0], size=k)
        col = rng.integers(field.output_size[1], size=k)
        top, left, _, _ = field.box(row, col)
        out.append(patch_correlation(cut_patches(images, idx, top, left, field.size)))
    return np.asarray(out, np.float64)


def random_patches(images, field, groups: int = 200, k: int = 9, *, seed: int = SEED) -> float:
    """The baseline's mean: :func:`random_patch_correlations` averaged over its ``groups``
    draws (same arguments), the mean correlation of unrelated patches of that size."""
    return float(np.mean(random_patch_correlations(images, field, groups, k, seed=seed)))
