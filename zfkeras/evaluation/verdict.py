"""One rule for every verdict a chapter prints: decide only when the difference exceeds its
uncertainty.

A chapter's "holds / does not hold", "X beats Y" or "pass / fail" compares two measurements.
Each function here takes the measurements themselves (not their means), puts an interval on the
difference, and decides only when the whole interval lies on one side of the ``margin``:

* :func:`compare`: per-item values (one number per image, say), a percentile bootstrap interval
  of the difference of the means (paired when both sides measured the same items);
* :func:`compare_seeds`: one number per training seed, Welch's t interval (a bootstrap over 3
  seeds means nothing);
* :func:`compare_rates`: two hit rates (``k`` of ``n``), Newcombe's hybrid score interval built
  from Wilson intervals (Newcombe 1998, method 10);
* :func:`compare_rate`: one hit rate against a fixed reference (chance, a paper's figure),
  Wilson's score interval.

Each returns a :class:`Verdict` whose ``str`` is the line a chapter prints, for example
``conv1 changes more than fc7: holds (difference +0.52, n = 820, 95% interval [+0.49, +0.55])``
or ``... : not decided (n = 4, 95% interval [-0.10, +0.31])``. With fewer items than
``min_n`` nothing is decided, whatever the interval says. In quick mode (``ZFKERAS_QUICK``, the
CI-sized run of the chapters: a few images, a few training steps) nothing is decided at all, so a
chapter executed quickly prints "not decided" under every verdict instead of a verdict on noise.

:func:`exact` is the one verdict without an interval: an equality checked exactly (a layer's
output shape, a parameter count), the same in both modes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from zfkeras import config

__all__ = [
    "LEVEL",
    "MIN_ITEMS",
    "MIN_SEEDS",
    "Verdict",
    "compare",
    "compare_rate",
    "compare_rates",
    "compare_seeds",
    "exact",
    "wilson_interval",
]

LEVEL = 0.95  # the interval's coverage, everywhere
MIN_ITEMS = 20  # fewer images (or trials) than this decide nothing
MIN_SEEDS = 3  # fewer seeds a side than this decide nothing


@dataclass(frozen=True)
class Verdict:
    """A decision on ``claim``: the measured ``difference`` (first minus second, or rate minus
    reference), its interval ``[low, high]`` at ``level``, the number of items ``n`` behind it
    (the smaller side), the ``method`` that gave the interval, and the outcome: ``holds`` is
    True (the whole interval lies above ``margin``), False (the whole interval lies below it)
    or None (not decided: the interval holds the margin, or too few items)."""

    claim: str
    difference: float
    low: float
    high: float
    n: int
    level: float
    margin: float
    method: str
    holds: bool | None
    quick: bool = False  # not decided because the run was quick mode

    @property
    def decided(self) -> bool:
        return self.holds is not None

    @property
    def outcome(self) -> str:
        """``"holds"``, ``"does not hold"`` or ``"not decided"``."""
        return {True: "holds", False: "does not hold", None: "not decided"}[self.holds]

    @property
    def brief(self) -> str:
        """The outcome with its evidence and no claim, for a table's verdict column:
        ``"holds (+0.52, 95% interval [+0.49, +0.55], n = 820)"``."""
        if self.method == "exact":
            return f"{self.outcome} (exact, n = {self.n})"
        interval = f"{self.level:.0%} interval [{self.low:+.3g}, {self.high:+.3g}]"
        if self.holds is None:
            why = "quick mode, " if self.quick else ""
            return f"not decided ({why}n = {self.n}, {interval})"
        return f"{self.outcome} ({self.difference:+.3g}, {interval}, n = {self.n})"

    def __str__(self) -> str:
        return f"{self.claim}: {self.brief}"


def _values(values, argument: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{argument} must be numbers, got {type(values).__name__}") from None
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{argument} must be a non-empty 1-D sequence, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"{argument} must be finite, got {int(np.sum(~np.isfinite(array)))} NaN/inf"
        )
    return array


def _check_options(claim, level: float, margin: float) -> None:
    if not isinstance(claim, str) or not claim:
        raise TypeError(f"claim must be a non-empty str, got {claim!r}")
    if not 0.5 <= float(level) < 1:
        raise ValueError(f"level must be in [0.5, 1), got {level}")
    if not np.isfinite(margin):
        raise ValueError(f"margin must be finite, got {margin}")


def _decide(claim, difference, low, high, n, enough, level, margin, method) -> Verdict:
    holds, quick = None, config.quick()
    enough = enough and not quick
    if enough and low > margin:
        holds = True
    elif enough and high < margin:
        holds = False
    return Verdict(
        claim,
        float(difference),
        float(low),
        float(high),
        int(n),
        float(level),
        float(margin),
        method,
        holds,
        quick,
    )


def compare(
    first,
    second,
    *,
    claim: str,
    paired: bool = False,
    margin: float = 0.0,
    level: float = LEVEL,
    min_n: int = MIN_ITEMS,
    resamples: int = 4000,
    seed: int = 0,
) -> Verdict:
    """Does ``mean(first)`` exceed ``mean(second)`` by more than ``margin``?

    Args:
        first, second: 1-D per-item measurements (one per image, say). With ``paired=True`` they
            measured the same items in the same order and the bootstrap resamples the items'
            differences; otherwise each side is resampled on its own.
        claim: the sentence the verdict is about ("Grad-CAM points better than the centre").
        margin: the difference the claim needs (0: any).
        level: the interval's coverage. min_n: fewer items (on the smaller side) decide nothing.
        resamples, seed: the percentile bootstrap (its own generator; nothing global is touched).

    Returns:
        a :class:`Verdict`; ``holds`` is None unless the whole interval lies on one side of
        ``margin`` and there are at least ``min_n`` items.
    """
    _check_options(claim, level, margin)
    a, b = _values(first, "first"), _values(second, "second")
    if paired and a.shape != b.shape:
        raise ValueError(f"paired measurements need equal lengths, got {a.size} and {b.size}")
    rng = np.random.default_rng(seed)
    if paired:
        d = a - b
        means = d[rng.integers(0, d.size, (resamples, d.size))].mean(axis=1)
        n = d.size
    else:
        means = a[rng.integers(0, a.size, (resamples, a.size))].mean(axis=1) - b[
            rng.integers(0, b.size, (resamples, b.size))
        ].mean(axis=1)
        n = min(a.size, b.size)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    kind = "paired bootstrap over items" if paired else "bootstrap over items"
    return _decide(claim, a.mean() - b.mean(), low, high, n, n >= min_n, level, margin, kind)


def compare_seeds(
    first, second, *, claim: str, margin: float = 0.0, level: float = LEVEL, min_n: int = MIN_SEEDS
) -> Verdict:
    """Does ``mean(first)`` exceed ``mean(second)`` by more than ``margin``, with one value per
    training seed on each side? Welch's t interval (unequal variances); fewer than ``min_n``
    seeds a side decide nothing (with one seed a side there is no spread at all)."""
    _check_options(claim, level, margin)
    a, b = _values(first, "first"), _values(second, "second")
    n = min(a.size, b.size)
    difference = a.mean() - b.mean()
    if n < 2:
        return _decide(claim, difference, -math.inf, math.inf, n, False, level, margin, "t")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0:
        dof = a.size + b.size - 2
    else:
        dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    t = stats.t.ppf(0.5 + level / 2, dof)
    return _decide(
        claim,
        difference,
        difference - t * se,
        difference + t * se,
        n,
        n >= min_n,
        level,
        margin,
        "Welch t over seeds",
    )


def wilson_interval(hits: int, trials: int, *, level: float = LEVEL) -> tuple[float, float]:
    """Wilson's score interval of a rate ``hits / trials`` (Wilson 1927)."""
    k, n = _count(hits, "hits"), _count(trials, "trials")
    if n == 0 or k > n:
        raise ValueError(f"need 0 <= hits <= trials and trials > 0, got {k} of {n}")
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def _count(value, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise TypeError(f"{argument} must be a non-negative int, got {value!r}")
    return int(value)


def compare_rates(
    hits_first: int,
    trials_first: int,
    hits_second: int,
    trials_second: int,
    *,
    claim: str,
    margin: float = 0.0,
    level: float = LEVEL,
    min_n: int = MIN_ITEMS,
) -> Verdict:
    """Does the first hit rate exceed the second by more than ``margin``? Newcombe's hybrid
    score interval of a difference of two independent proportions (Newcombe 1998, method 10)."""
    _check_options(claim, level, margin)
    l1, u1 = wilson_interval(hits_first, trials_first, level=level)
    l2, u2 = wilson_interval(hits_second, trials_second, level=level)
    p1, p2 = hits_first / trials_first, hits_second / trials_second
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    n = min(trials_first, trials_second)
    return _decide(claim, d, low, high, n, n >= min_n, level, margin, "Newcombe score")


def compare_rate(
    hits: int,
    trials: int,
    reference: float,
    *,
    claim: str,
    level: float = LEVEL,
    min_n: int = MIN_ITEMS,
) -> Verdict:
    """Does the hit rate ``hits / trials`` exceed a fixed ``reference`` rate (chance, a paper's
    figure)? Wilson's score interval of the rate, shifted by the reference."""
    _check_options(claim, level, 0.0)
    if not 0 <= float(reference) <= 1:
        raise ValueError(f"reference must be a rate in [0, 1], got {reference}")
    low, high = wilson_interval(hits, trials, level=level)
    r = float(reference)
    return _decide(
        claim,
        hits / trials - r,
        low - r,
        high - r,
        trials,
        trials >= min_n,
        level,
        0.0,
        "Wilson score",
    )


def exact(claim: str, equal: bool, *, n: int = 1) -> Verdict:
    """A claim checked exactly, with no uncertainty (``n`` equalities, all of which must hold):
    the same in quick and full mode, so it decides in both."""
    _check_options(claim, LEVEL, 0.0)
    if not isinstance(equal, (bool, np.bool_)):
        raise TypeError(f"equal must be a bool, got {type(equal).__name__}")
    k = _count(n, "n")
    if k == 0:
        raise ValueError("n must be at least 1, got 0")
    return Verdict(claim, 0.0, 0.0, 0.0, k, 1.0, 0.0, "exact", bool(equal))
