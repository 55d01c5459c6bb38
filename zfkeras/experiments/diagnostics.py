"""Architecture diagnostics from the visualizations (paper section 4.1, Fig. 6).

The paper looked at AlexNet's first-layer filters (a mix of very high and very low frequencies,
some dead) and its layer-2 projections (aliasing from the stride of 4), and changed the first
layer to 7x7 filters with stride 2. These functions turn what the paper saw into numbers:

* :func:`frequency_bands`: the fraction of each filter's (or image's) spectral energy at low,
  middle and high spatial frequencies;
* :func:`spectral_concentration`: how much of each filter's spectrum sits in a few frequencies
  (an oriented edge or grating scores high, the initializer's white noise low);
* :func:`gabor_bank`: a reference bank of oriented Gabor filters to compare it with;
* :func:`dead_filters`: filters whose weights have collapsed (RMS far below the layer's largest);
* :func:`dead_units`: feature maps that never switch on over a set of images;
* :func:`grid_energy`: the share of an image's power on the frequency lattice of a stride (the
  grid artifacts of paper Fig. 6 d);
* :func:`oriented_energy` and :func:`relative_bands` (from :mod:`.filter_spectra`): oriented
  band-pass structure (edges, gratings) apart from ramps and blobs, and frequency bands that do
  not depend on the filter size.

Figures: :func:`zfkeras.figures.compare_figure` (two models' layer-1 filters side by side).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zfkeras.experiments.filter_spectra import oriented_energy, relative_bands
from zfkeras.methods import checks
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE

BANDS = ("low", "middle", "high")
__all__ = [
    "BANDS",
    "Layer1Report",
    "dead_filters",
    "dead_units",
    "frequency_bands",
    "gabor_bank",
    "grid_energy",
    "layer1_report",
    "oriented_energy",
    "relative_bands",
    "spectral_concentration",
]


def frequency_bands(
    x, size: int = 32, edges: tuple[float, float] = (1 / 3, 2 / 3), remove_mean: bool = True
) -> np.ndarray:
    """Fraction of spectral energy in three radial frequency bands.

    Args:
        x: filters ``(kh, kw, c_in, n)`` (a conv kernel) or images ``(n, h, w[, c])``.
        size: the FFT size (each item is zero-padded to ``size x size``; at least its size).
        edges: band edges as fractions of the Nyquist frequency (radius 1): low is below
            ``edges[0]``, high at or above ``edges[1]``; corners beyond radius 1 count as high.
        remove_mean: drop each channel's mean (the DC term) before the transform, so that the
            bands describe the pattern and not the overall colour.

    Returns:
        float ``(n, 3)``: the low, middle and high fractions (rows sum to 1; an all-zero item
        gives zeros).
    """
    x = np.asarray(x, np.float64)
    if x.ndim == 4 and x.shape[0] == x.shape[1] and x.shape[0] < x.shape[3]:
        items = np.moveaxis(x, -1, 0)  # (n, kh, kw, c_in): a kernel
    elif x.ndim in (3, 4):
        items = x if x.ndim == 4 else x[..., None]
    else:
        raise ValueError(
            f"x must be a kernel (kh, kw, c_in, n) or images (n, h, w[, c]), got shape {x.shape}"
        )
    n, h, w, _ = items.shape
    if size < max(h, w):
        raise ValueError(f"size must be at least the item size {max(h, w)}, got {size}")
    if remove_mean:
        items = items - items.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(items, s=(size, size), axes=(1, 2))) ** 2).sum(-1)
    f = np.fft.fftfreq(size) * 2  # in units of the Nyquist frequency
    radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    band = np.digitize(radius, edges)  # 0, 1, 2
    energy = np.stack([power[:, band == k].sum(1) for k in range(3)], 1)
    total = energy.sum(1, keepdims=True)
    return np.divide(energy, total, out=np.zeros_like(energy), where=total > 0)


def grid_energy(images, period) -> np.ndarray:
    """The share of each image's spectral power on the frequency lattice of a stride.

    A layer that samples its input every ``period`` pixels and is projected back (a transposed
    convolution with that stride) leaves a pattern that repeats every ``period`` pixels: a grid.
    All the power of such a pattern lies on the frequencies ``(k / period, l / period)`` cycles
    per pixel, ``k, l = 0 .. period - 1``. Per image (mean removed per channel, power summed
    over channels, DFT at the image's own size), this is the power on those frequencies, the
    zero frequency excluded, over the total power. A grid of a given strength scores the same
    at every period (the score is its share of the power, wherever the lattice lies); white
    noise scores the lattice's share of the frequencies, ``(period**2 - 1) / (H * W - 1)``; a
    smooth image scores near 0. It measures a grid at exactly this period (a grid at another
    period, or a texture that is not periodic, is not counted).

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, C)``; ``H`` and ``W`` multiples of ``period``.
        period: the stride, an int >= 2.

    Returns:
        float ``(N,)`` in [0, 1]; an image with no power (constant) scores 0.

    Raises:
        TypeError: ``period`` is not an int.
        ValueError: bad shape, non-finite values, ``period < 2``, or a size that is not a
            multiple of ``period``.
    """
    if isinstance(period, bool) or not isinstance(period, (int, np.integer)):
        raise TypeError(f"period must be an int, got {type(period).__name__}")
    x = np.asarray(images, np.float64)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or 0 in x.shape:
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C), got shape {np.shape(images)}")
    if not np.all(np.isfinite(x)):
        raise ValueError("images must be finite, got NaN or inf values")
    h, w = x.shape[1:3]
    if period < 2 or h % period or w % period:
        raise ValueError(
            f"period must be an int >= 2 dividing the image size {h}x{w}, got {period}"
        )
    x = x - x.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(x, axes=(1, 2))) ** 2).sum(-1)  # (N, H, W)
    lattice = power[:, :: h // period, :: w // period].sum((1, 2))  # the DC term is 0
    total = power.sum((1, 2))
    return np.divide(lattice, total, out=np.zeros_like(total), where=total > 1e-12)


def dead_filters(kernel, rel_threshold: float = 0.1) -> np.ndarray:
    """Bool ``(n,)``: filters whose RMS is below ``rel_threshold`` times the largest RMS of the
    layer (weights that decayed away: the "dead" filters of paper Fig. 6 b)."""
    k = np.asarray(kernel, np.float64)
    if k.ndim != 4:
        raise ValueError(f"kernel must be (kh, kw, c_in, n), got shape {k.shape}")
    rms = np.sqrt((k**2).mean(axis=(0, 1, 2)))
    return rms < rel_threshold * rms.max()


def dead_units(
    model: keras.Model,
    images,
    layer: str,
    *,
    eps: float = 1e-6,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> np.ndarray:
    """Bool ``(channels,)``: feature maps (or units) of ``layer`` whose activation never exceeds
    ``eps`` on any of ``images`` (model inputs ``(N, H, W, C)``). ``layer`` is a name or an
    ``"outer/inner"`` path; ``batch_size`` images per pass; ``verbose`` as everywhere
    (:mod:`zfkeras.methods.checks`).

    Raises:
        TypeError/ValueError: bad model, images, layer, batch_size or verbose.
    """
    checks.check_model(model)
    x = checks.images(model, images)
    probe = checks.layer_model(model, [layer], "layer")
    checks.batch_size(batch_size)
    checks.verbose(verbose)
    run = checks.cached(
        model,
        ("dead_units", layer),
        lambda: tf.function(lambda b: probe(b, training=False), reduce_retracing=True),
    )
    peak = None
    for b in checks.each(checks.batches(len(x), batch_size), verbose=verbose):
        a = np.asarray(run(tf.constant(x[b])))
        m = a.reshape(len(a), -1, a.shape[-1]).max(axis=(0, 1))
        peak = m if peak is None else np.maximum(peak, m)
    return peak <= eps


@dataclass(frozen=True)
class Layer1Report:
    """Numbers for one first-layer kernel (:func:`layer1_report`).

    Attributes:
        filters: the number of filters.
        size: the filter size (height).
        dead: how many filters are dead (:func:`dead_filters`).
        bands: the mean low, middle and high band fractions of the live filters (3 floats).
        mostly_low: the fraction of live filters with > 60% of their energy in the low band.
        mostly_high: the same for the high band.
    """

    filters: int
    size: int
    dead: int
    bands: list
    mostly_low: float
    mostly_high: float


def layer1_report(kernel, rel_threshold: float = 0.1) -> Layer1Report:
    """Numbers for one first-layer kernel: filter count and size, dead filters, mean band
    fractions, and the fraction of filters dominated by a single band (> 60% of the energy)
    at the low and at the high end."""
    bands = frequency_bands(kernel)
    dead = dead_filters(kernel, rel_threshold)
    alive = bands[~dead]
    return Layer1Report(
        filters=int(bands.shape[0]),
        size=int(np.shape(kernel)[0]),
        dead=int(dead.sum()),
        bands=alive.mean(0).round(4).tolist(),
        mostly_low=float(np.mean(alive[:, 0] > 0.6)),
        mostly_high=float(np.mean(alive[:, 2] > 0.6)),
    )


def spectral_concentration(kernel, top: int = 4) -> float:
    """How much of a conv layer's filter spectra sits in a few frequencies, averaged over filters.

    Per filter (one output channel of ``kernel``): remove each colour channel's mean, take the
    2-D FFT at the filter's own size (no padding), sum the power over the input channels, and
    take the share of the total power held by the ``top`` strongest frequency bins. The result
    is the mean of that share over the filters. A filter with no power left (constant) counts
    as 0.

    A grating or an oriented edge puts its power into a conjugate pair of bins, so it scores
    near 1 with ``top=4``; but so does a smooth linear colour ramp (0.76 at 7x7, 0.71 at
    11x11) or a blob: a high score says *not noise*, not *edges* (for that, use
    :func:`oriented_energy`). White noise spreads the power evenly (about 0.19 for 7x7
    filters, 0.09 for 11x11); a bank of 7x7 Gabor filters (:func:`gabor_bank`) scores
    0.75-0.86. It tells a trained first layer from its random initialization, which a picture
    of the filters can hide (paper section 4.1 and Fig. 6 read the same pictures by eye).

    Args:
        kernel: a conv kernel ``(kh, kw, c_in, n)`` (``layer.kernel`` of a ``Conv2D``).
        top: the number of strongest bins whose share is taken, 1 to ``kh * kw``.

    Returns:
        float in [0, 1].

    Raises:
        ValueError: ``kernel`` is not 4-D or has a non-finite value, or ``top`` is out of range.
        TypeError: ``top`` is not an int.
    """
    k = np.asarray(kernel, np.float64)
    if k.ndim != 4 or 0 in k.shape:
        raise ValueError(f"kernel must be a conv kernel (kh, kw, c_in, n), got shape {k.shape}")
    if not np.all(np.isfinite(k)):
        raise ValueError("kernel must be finite, got NaN or inf values")
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)):
        raise TypeError(f"top must be an int, got {type(top).__name__}")
    if not 1 <= top <= k.shape[0] * k.shape[1]:
        raise ValueError(f"top must be in [1, {k.shape[0] * k.shape[1]}], got {top}")
    items = np.moveaxis(k, -1, 0)  # (n, kh, kw, c_in)
    items = items - items.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(items, axes=(1, 2))) ** 2).sum(-1).reshape(len(items), -1)
    total = power.sum(1)
    strongest = -np.sort(-power, axis=1)[:, :top].sum(1)
    share = np.divide(strongest, total, out=np.zeros_like(total), where=total > 1e-12 * total.max())
    return float(share.mean())


def gabor_bank(
    size: int = 7,
    wavelengths=(3.0, 4.0, 5.0, 6.0, 8.0),
    orientations: int = 8,
    phases=(0.0, np.pi / 2),
    channels: int = 3,
) -> np.ndarray:
    """A reference bank of Gabor filters as a conv kernel ``(size, size, channels, n)``.

    One filter per (wavelength, orientation, phase): a cosine grating at that wavelength (in
    pixels) and orientation (``orientations`` angles evenly over 180 degrees), under a Gaussian
    envelope with sigma ``0.5 * wavelength`` (capped at ``size / 3``), the same in every channel.
    ``n = len(wavelengths) * orientations * len(phases)``.
    """
    if not isinstance(size, int) or size < 3:
        raise ValueError(f"size must be an int >= 3, got {size!r}")
    r = np.arange(size) - (size - 1) / 2
    yy, xx = np.meshgrid(r, r, indexing="ij")
    out = []
    for lam in wavelengths:
        sigma = min(0.5 * lam, size / 3)
        envelope = np.exp(-(xx**2 + yy**2) / (2 * sigma**2))
        for k in range(orientations):
            theta = np.pi * k / orientations
            u = xx * np.cos(theta) + yy * np.sin(theta)
            for phase in phases:
                out.append(envelope * np.cos(2 * np.pi * u / lam + phase))
    bank = np.stack(out, -1)[:, :, None, :]
    return np.repeat(bank, channels, axis=2).astype(np.float32)
