"""How alike two explanation maps are: Spearman rank correlation and SSIM, per image.

The two measures of Adebayo et al., "Sanity Checks for Saliency Maps" (NeurIPS 2018) for
comparing a saliency map with the map of a randomized model. Both take ``(N, H, W)`` maps
(one 2-D map per image) and return ``(N,)`` float64; neither produces NaN.
"""

from __future__ import annotations

import numpy as np


def _pair(a, b, argument="maps") -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim == 2 and b.ndim == 2:
        a, b = a[None], b[None]
    if a.ndim != 3 or a.shape != b.shape:
        raise ValueError(
            f"{argument} must be two (N, H, W) arrays of the same shape, got "
            f"{np.shape(a)} and {np.shape(b)}"
        )
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError(f"{argument} must be finite, got NaN or inf values")
    return a, b


def ranks(values) -> np.ndarray:
    """Ranks (0-based) of a 1-D array, ties sharing the mean of their ranks."""
    v = np.asarray(values).ravel()
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    start = np.cumsum(counts) - counts
    return (start + (counts - 1) / 2.0)[inverse.ravel()]


def spearman(a, b) -> np.ndarray:
    """Spearman rank correlation of ``a[i]`` and ``b[i]`` (all pixels), per image.

    The Pearson correlation of the ranks (ties: mean rank). A constant map has no ranking: its
    correlation with a non-constant map is 0, with another constant map 1.

    Args:
        a, b: ``(N, H, W)`` (or one ``(H, W)`` each).

    Returns:
        ``(N,)`` float64 in [-1, 1].
    """
    a, b = _pair(a, b)
    out = np.empty(len(a))
    for i in range(len(a)):
        ra, rb = ranks(a[i]), ranks(b[i])
        ra, rb = ra - ra.mean(), rb - rb.mean()
        den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
        if den == 0:
            out[i] = 1.0 if (ra == 0).all() and (rb == 0).all() else 0.0
        else:
            out[i] = np.clip((ra * rb).sum() / den, -1.0, 1.0)
    return out


def normalize(maps) -> np.ndarray:
    """Scale each ``(H, W)`` map of ``(N, H, W)`` to [0, 1] (min to 0, max to 1); a constant
    map becomes all zeros."""
    m = np.asarray(maps, np.float64)
    low = m.min(axis=(1, 2), keepdims=True)
    span = m.max(axis=(1, 2), keepdims=True) - low
    return np.divide(m - low, span, out=np.zeros_like(m), where=span > 0)


def _gaussian(size: int, sigma: float) -> np.ndarray:
    g = np.exp(-0.5 * ((np.arange(size) - (size - 1) / 2) / sigma) ** 2)
    return g / g.sum()


def _filter(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of ``(N, H, W)`` with the 1-D window ``g`` on both axes."""
    k = len(g)
    x = np.lib.stride_tricks.sliding_window_view(x, k, axis=1) @ g
    return np.lib.stride_tricks.sliding_window_view(x, k, axis=2) @ g


def ssim(
    a,
    b,
    window: int = 11,
    sigma: float = 1.5,
    data_range: float = 1.0,
    k1: float = 0.01,
    k2: float = 0.03,
) -> np.ndarray:
    """Single-scale structural similarity (Wang et al., 2004) of ``a[i]`` and ``b[i]``.

    Gaussian-weighted local means, variances and covariance over a ``window`` x ``window``
    Gaussian (``sigma``) at every position where the window fits inside the map ('valid', as
    ``tf.image.ssim`` does), ``C1 = (k1 L)^2``, ``C2 = (k2 L)^2``; the mean of the SSIM map.
    Maps smaller than the window use a window of their smaller side. The inputs are used as
    given: scale them first (:func:`normalize`) so that ``data_range`` is right.

    Args:
        a, b: ``(N, H, W)`` (or one ``(H, W)`` each).
        window, sigma, data_range, k1, k2: the standard constants (``L`` = ``data_range``).

    Returns:
        ``(N,)`` float64; 1 for identical maps.
    """
    a, b = _pair(a, b)
    if not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    if not sigma > 0 or not data_range > 0:
        raise ValueError(f"sigma and data_range must be > 0, got {sigma!r} and {data_range!r}")
    g = _gaussian(min(window, *a.shape[1:]), sigma)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    mu_a, mu_b = _filter(a, g), _filter(b, g)
    var_a = _filter(a * a, g) - mu_a**2
    var_b = _filter(b * b, g) - mu_b**2
    cov = _filter(a * b, g) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return s.mean(axis=(1, 2))
