"""First-layer filter measures that tell edges from ramps and do not depend on the filter size
(paper section 4.1, Fig. 6).

:func:`~zfkeras.experiments.diagnostics.spectral_concentration` says whether a filter is *not
noise*: a smooth linear colour ramp puts its power into the few lowest frequencies and scores as
high as a Gabor filter. The two measures here answer the questions the chapters ask of a first
layer:

* :func:`oriented_energy`: how much of a filter is an *oriented band-pass pattern* (an edge or a
  grating of at least ``min_cycles`` cycles across the filter), not a ramp, a blob or noise;
* :func:`relative_bands`: the low/middle/high frequency shares with frequencies counted in cycles
  per filter width, so that the same pattern drawn at 7x7 and at 11x11 gives the same shares.
"""

from __future__ import annotations

import numpy as np


def _kernel(kernel, name: str = "kernel") -> np.ndarray:
    k = np.asarray(kernel, np.float64)
    if k.ndim != 4 or 0 in k.shape or k.shape[0] != k.shape[1]:
        raise ValueError(f"{name} must be a square conv kernel (k, k, c_in, n), got {k.shape}")
    if not np.all(np.isfinite(k)):
        raise ValueError(f"{name} must be finite, got NaN or inf values")
    return k


def quadrature_bank(size: int, min_cycles: float = 1.5, orientations: int = 16) -> np.ndarray:
    """Unit-norm Gabor quadrature pairs on a ``size x size`` grid: ``(P, 2, size * size)``.

    Wavelengths from 2 px (the Nyquist limit) up to ``size / min_cycles`` px, 12 steps spaced
    evenly in frequency, each at ``orientations`` angles over 180 degrees; envelope sigma
    ``0.5 * wavelength`` capped at ``size / 3`` (as :func:`~zfkeras.experiments.diagnostics.
    gabor_bank`). The even (cosine) template has its mean removed; the odd (sine) one has mean 0
    by symmetry, so the two are orthogonal and each pair spans a plane.
    """
    if not isinstance(size, (int, np.integer)) or size < 3:
        raise ValueError(f"size must be an int >= 3, got {size!r}")
    if not 0 < min_cycles <= size / 2:
        raise ValueError(f"min_cycles must be in (0, {size / 2}] for size {size}, got {min_cycles}")
    r = np.arange(size) - (size - 1) / 2
    yy, xx = np.meshgrid(r, r, indexing="ij")
    pairs = []
    for f in np.linspace(min_cycles / size, 0.5, 12):  # cycles per pixel
        lam = 1 / f
        envelope = np.exp(-(xx**2 + yy**2) / (2 * min(0.5 * lam, size / 3) ** 2))
        for k in range(orientations):
            theta = np.pi * k / orientations
            u = xx * np.cos(theta) + yy * np.sin(theta)
            even = envelope * np.cos(2 * np.pi * f * u)
            odd = envelope * np.sin(2 * np.pi * f * u)
            even = even - even.mean()
            pair = [t.ravel() / n for t in (even, odd) if (n := np.linalg.norm(t)) > 1e-9]
            if len(pair) == 2:
                pairs.append(pair)
    return np.asarray(pairs)


def oriented_energy(kernel, min_cycles: float = 1.5) -> np.ndarray:
    """Per filter, the share of its pattern's energy in the best oriented band-pass pattern.

    Each filter (one output channel of ``kernel``) has each colour channel's mean removed; its
    energy is projected onto every Gabor quadrature pair of :func:`quadrature_bank` (the same
    pair for every colour channel, so colour-opponent edges count fully) and the largest share
    of the energy one pair captures is the score. It is a share of the whole pattern, the lowest
    frequencies included: a ramp or a blob keeps most of its energy below ``min_cycles`` cycles
    across the filter, where no template reaches, so it scores low.

    Scale (7x7x3, ``min_cycles=1.5``; 11x11x3 in brackets; ``tests/test_measures.py``): Gabor
    filters of wavelengths up to ``size / 1.5`` px about 1.0 (1.0), isotropic Gaussian blobs
    about 0.27 (0.28), white noise about 0.10 (0.04), linear colour ramps about 0.03 (0.03).
    It cannot tell an edge from a grating (both are oriented band-pass), and it does not see a
    pattern with fewer than ``min_cycles`` cycles across the filter (a very long wavelength looks
    like a ramp on the filter's grid). White noise scores higher in a smaller filter: compare a
    layer with noise of its own size.

    Args:
        kernel: a square conv kernel ``(k, k, c_in, n)``, ``k >= 3``.
        min_cycles: the fewest cycles across the filter a pattern needs to count as oriented
            band-pass structure.

    Returns:
        float ``(n,)`` in [0, 1]; a constant filter (no pattern) scores 0.

    Raises:
        ValueError: ``kernel`` is not a finite square 4-D kernel, or ``min_cycles`` is out of
            range.
    """
    k = _kernel(kernel)
    size = k.shape[0]
    bank = quadrature_bank(size, min_cycles)  # (P, 2, k*k)
    items = np.moveaxis(k, -1, 0)  # (n, k, k, c)
    items = items - items.mean(axis=(1, 2), keepdims=True)
    flat = items.reshape(len(items), size * size, -1)  # (n, k*k, c)
    energy = (flat**2).sum((1, 2))
    proj = np.einsum("ptd,ndc->nptc", bank, flat)  # (n, P, 2, c)
    best = (proj**2).sum((2, 3)).max(1)
    return np.divide(best, energy, out=np.zeros_like(energy), where=energy > 1e-12)


def relative_bands(kernel, edges=(7 / 6, 7 / 3), oversample: int = 8) -> np.ndarray:
    """Low/middle/high shares of each filter's spectral energy, in cycles per filter width.

    :func:`~zfkeras.experiments.diagnostics.frequency_bands` counts frequency per pixel, so a
    pattern drawn over an 11x11 filter sits at lower frequencies than the same pattern over a
    7x7 one (a linear ramp: middle share 0.19 at 7x7, 0.13 at 11x11). Here each filter's mean is
    removed per colour channel, the filter is zero-padded to ``oversample`` times its size (the
    same frequency grid, in cycles per width, for every size) and the radial frequency is
    counted in cycles across the filter. The default edges are a third and two thirds of a 7x7
    filter's Nyquist frequency (3.5 cycles per width); an 11x11 filter's energy between 3.5 and
    5.5 cycles per width, which a 7x7 filter cannot hold, counts as high. A band-limited pattern
    (a Gabor, a blob) drawn at both sizes scores the same to within 0.02; a linear ramp, whose
    hard border is not band-limited, still differs a little (0.19 at 7x7, 0.17 at 11x11), from
    sampling alone.

    Returns:
        float ``(n, 3)``: rows sum to 1 (0 for a constant filter).

    Raises:
        ValueError: bad ``kernel``, ``edges`` or ``oversample``.
    """
    k = _kernel(kernel)
    lo, hi = (float(e) for e in edges)
    if not 0 < lo < hi:
        raise ValueError(f"edges must be two increasing positive numbers, got {edges!r}")
    if not isinstance(oversample, (int, np.integer)) or oversample < 1:
        raise ValueError(f"oversample must be a positive int, got {oversample!r}")
    size = k.shape[0]
    items = np.moveaxis(k, -1, 0)
    items = items - items.mean(axis=(1, 2), keepdims=True)
    s = size * oversample
    power = (np.abs(np.fft.fft2(items, s=(s, s), axes=(1, 2))) ** 2).sum(-1)
    f = np.fft.fftfreq(s) * size  # cycles per filter width
    radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    band = np.digitize(radius, (lo, hi))
    energy = np.stack([power[:, band == b].sum(1) for b in range(3)], 1)
    total = energy.sum(1, keepdims=True)
    return np.divide(energy, total, out=np.zeros_like(energy), where=total > 1e-12)
