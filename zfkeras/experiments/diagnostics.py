"""Architecture diagnostics from the visualizations (paper section 4.1, Fig. 6).

The paper looked at AlexNet's first-layer filters (a mix of very high and very low frequencies,
some dead) and its layer-2 projections (aliasing from the stride of 4), and changed the first
layer to 7x7 filters with stride 2. These functions turn what the paper saw into numbers:

* :func:`frequency_bands`: the fraction of each filter's (or image's) spectral energy at low,
  middle and high spatial frequencies;
* :func:`dead_filters`: filters whose weights have collapsed (RMS far below the layer's largest);
* :func:`dead_units`: feature maps that never switch on over a set of images;
* :func:`compare_figure`: two models' layer-1 filters side by side.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.checks import BATCH_SIZE, VERBOSE

BANDS = ("low", "middle", "high")


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
    eps: float = 1e-6,
    *,
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
    parts = list(checks.batches(len(x), batch_size))
    bar, peak = checks.Progress(len(parts), verbose=verbose), None
    for k, b in enumerate(parts):
        a = np.asarray(run(tf.constant(x[b])))
        m = a.reshape(len(a), -1, a.shape[-1]).max(axis=(0, 1))
        peak = m if peak is None else np.maximum(peak, m)
        bar.update(k + 1)
    return peak <= eps


def layer1_report(kernel, rel_threshold: float = 0.1) -> dict:
    """Numbers for one first-layer kernel: filter count and size, dead filters, mean band
    fractions, and the fraction of filters dominated by a single band (> 60% of the energy)
    at the low and at the high end."""
    bands = frequency_bands(kernel)
    dead = dead_filters(kernel, rel_threshold)
    alive = bands[~dead]
    return {
        "filters": int(bands.shape[0]),
        "size": int(np.shape(kernel)[0]),
        "dead": int(dead.sum()),
        "bands": alive.mean(0).round(4).tolist(),
        "mostly_low": float(np.mean(alive[:, 0] > 0.6)),
        "mostly_high": float(np.mean(alive[:, 2] > 0.6)),
    }
