"""The verdict helper decides only when the difference exceeds its uncertainty: known intervals
worked out by hand or from the literature, and the three cases the course relies on (equal
samples, a clear difference, too few samples)."""

import math

import numpy as np
import pytest

from zfkeras.evaluation import verdict
from zfkeras.evaluation.verdict import (
    compare,
    compare_rate,
    compare_rates,
    compare_seeds,
    exact,
    wilson_interval,
)


@pytest.fixture(autouse=True)
def full_mode(monkeypatch):
    # the test command runs in quick mode, where nothing is decided; these tests are about the
    # full-mode rule (quick mode has its own test below)
    monkeypatch.delenv("ZFKERAS_QUICK", raising=False)


def test_equal_samples_decide_nothing():
    rng = np.random.default_rng(1)
    a = rng.normal(0.5, 0.1, 500)
    for paired in (False, True):
        v = compare(a, a.copy(), claim="A beats B", paired=paired)
        assert v.holds is None and not v.decided
        assert str(v).startswith("A beats B: not decided (n = 500, 95% interval [")
    assert compare_rates(40, 100, 40, 100, claim="c").holds is None
    assert compare_seeds([0.2, 0.21, 0.19], [0.2, 0.21, 0.19], claim="c").holds is None


def test_a_clear_difference_decides_both_ways():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0.8, 0.1, 200), rng.normal(0.5, 0.1, 200)
    v = compare(a, b, claim="A beats B")
    assert v.holds is True and v.outcome == "holds"
    assert v.low > 0.25 and v.high < 0.35 and abs(v.difference - (a.mean() - b.mean())) < 1e-12
    assert str(v).startswith("A beats B: holds (+0.3") and "n = 200)" in str(v)
    w = compare(b, a, claim="B beats A")
    assert w.holds is False and "does not hold" in str(w)
    # a margin the difference does not reach: the claim "by more than 0.5" does not hold
    assert compare(a, b, claim="by 0.5", margin=0.5).holds is False


def test_too_few_samples_decide_nothing_even_when_far_apart():
    v = compare([0.9, 0.95, 0.92, 0.91], [0.1, 0.12, 0.11, 0.1], claim="c")
    assert v.low > 0  # the bootstrap interval alone would decide
    assert v.holds is None and "n = 4" in str(v)
    assert compare_rates(4, 4, 0, 4, claim="c").holds is None
    assert compare_rate(4, 4, 0.1, claim="c").holds is None
    assert compare_seeds([0.9], [0.1], claim="c").holds is None
    assert compare_seeds([0.9, 0.91], [0.1, 0.11], claim="c").holds is None  # 2 seeds a side


def test_bootstrap_interval_matches_the_normal_interval_of_a_mean():
    rng = np.random.default_rng(3)
    a, b = rng.normal(1.0, 1.0, 2000), rng.normal(0.0, 1.0, 2000)
    v = compare(a, b, claim="c", resamples=4000)
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert v.low == pytest.approx(v.difference - 1.96 * se, abs=0.2 * se)
    assert v.high == pytest.approx(v.difference + 1.96 * se, abs=0.2 * se)
    # paired: the shared part of two measurements of the same items cancels
    base = rng.normal(0, 1.0, 300)
    p = compare(base + 0.05, base, claim="c", paired=True)
    assert p.holds is True and p.high - p.low < 1e-9
    assert compare(base + 0.05, base, claim="c").holds is None


def test_wilson_interval_by_hand():
    # k = 8, n = 10, z = 1.959964: centre (0.8 + z^2/20) / (1 + z^2/10), half-width as below
    z = 1.959963984540054
    centre = (0.8 + z * z / 20) / (1 + z * z / 10)
    half = z / (1 + z * z / 10) * math.sqrt(0.8 * 0.2 / 10 + z * z / 400)
    low, high = wilson_interval(8, 10)
    assert (low, high) == pytest.approx((centre - half, centre + half), abs=1e-12)
    assert (low, high) == pytest.approx((0.4902, 0.9433), abs=1e-4)  # Newcombe 1998, Table I
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0) and wilson_interval(10, 10)[
        1
    ] == pytest.approx(1.0)


def test_newcombe_difference_of_rates_from_the_paper():
    # Newcombe (1998), Statistics in Medicine 17:873, Table II example (a): 56/70 vs 48/80,
    # method 10: +0.0524 to +0.3339.
    v = compare_rates(56, 70, 48, 80, claim="c")
    assert v.difference == pytest.approx(0.2)
    assert (v.low, v.high) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert v.holds is True


def test_rate_against_a_reference():
    v = compare_rate(90, 100, 0.5, claim="hits beat chance")
    low, high = wilson_interval(90, 100)
    assert (v.low, v.high) == pytest.approx((low - 0.5, high - 0.5))
    assert v.holds is True
    assert compare_rate(52, 100, 0.5, claim="c").holds is None
    assert compare_rate(10, 100, 0.5, claim="c").holds is False


def test_welch_interval_by_hand():
    # a = 1,2,3 and b = 4,5,6: difference -3, se = sqrt(1/3 + 1/3), Welch dof = 4, t = 2.7764
    v = compare_seeds([1, 2, 3], [4, 5, 6], claim="c")
    se = math.sqrt(2 / 3)
    assert (v.low, v.high) == pytest.approx((-3 - 2.776445 * se, -3 + 2.776445 * se), abs=1e-5)
    assert v.holds is False
    assert compare_seeds([1, 2, 3], [1.5, 2.5, 3.5], claim="c").holds is None


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: compare([1.0], [2.0], claim=""), TypeError, "claim must be a non-empty str"),
        (lambda: compare([], [2.0], claim="c"), ValueError, "first must be a non-empty 1-D"),
        (lambda: compare([1.0, np.nan], [2.0], claim="c"), ValueError, "second|first must be fin"),
        (lambda: compare(["a"], [2.0], claim="c"), TypeError, "first must be numbers"),
        (lambda: compare([1.0, 2.0], [2.0], claim="c", paired=True), ValueError, "equal lengths"),
        (lambda: compare([1.0], [2.0], claim="c", level=1.0), ValueError, "level must be in"),
        (lambda: compare_rates(5, 4, 1, 4, claim="c"), ValueError, "hits <= trials"),
        (lambda: compare_rates(1.5, 4, 1, 4, claim="c"), TypeError, "hits must be a non-neg"),
        (lambda: compare_rate(1, 4, 1.5, claim="c"), ValueError, "reference must be a rate"),
    ],
)
def test_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_defaults_are_the_documented_ones():
    assert (verdict.LEVEL, verdict.MIN_ITEMS, verdict.MIN_SEEDS) == (0.95, 20, 3)


def test_quick_mode_decides_nothing_but_exact_checks(monkeypatch):
    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 0.1, 200), rng.normal(0, 0.1, 200)
    assert compare(a, b, claim="c").holds is True
    monkeypatch.setenv("ZFKERAS_QUICK", "1")
    v = compare(a, b, claim="A beats B")
    assert v.holds is None and v.quick
    assert str(v).startswith("A beats B: not decided (quick mode, n = 200, 95% interval [")
    assert compare_rates(90, 100, 10, 100, claim="c").holds is None
    assert compare_rate(90, 100, 0.1, claim="c").holds is None
    assert compare_seeds([0.9, 0.91, 0.92], [0.1, 0.11, 0.12], claim="c").holds is None
    same = exact("13x13 maps", True, n=3)
    assert same.holds is True and str(same) == "13x13 maps: holds (exact, n = 3)"
    assert exact("c", False).outcome == "does not hold"


def test_exact_checks_its_arguments():
    with pytest.raises(TypeError, match="equal must be a bool, got int"):
        exact("c", 1)
    with pytest.raises(ValueError, match="n must be at least 1"):
        exact("c", True, n=0)
    with pytest.raises(TypeError, match="claim must be a non-empty str"):
        exact("", True)


def test_findings_table_takes_verdicts_and_refuses_hand_made_ones():
    from zfkeras.figures import findings

    v = compare_rate(90, 100, 0.5, claim="points at the object")
    md = findings([("c | d", "paper", "90%", v), ("e", "f", "g", "different data")]).data
    lines = md.splitlines()
    assert lines[0] == "| claim | the paper found | we found | verdict |"
    assert lines[2] == f"| c \\| d | paper | 90% | {v.brief} |"
    assert v.brief.startswith("holds (+0.4, 95% interval [+0.")
    assert lines[3] == "| e | f | g | different data |"
    both = findings([("c", "p", "o", [v, exact("same", True)])]).data.splitlines()[2]
    assert both.endswith(f"points at the object: {v.brief}; same: holds (exact, n = 1) |")
    for word in ("holds", "does not hold", "fails", "pass"):
        with pytest.raises(ValueError, match="must come from zfkeras.evaluation.verdict"):
            findings([("c", "p", "o", f"it {word}")])
    with pytest.raises(ValueError, match=r"rows\[0\] must be \(claim, paper, ours, verdict\)"):
        findings([("c", "p", "o")])
    with pytest.raises(TypeError, match="must be a Verdict"):
        findings([("c", "p", "o", 0.5)])


def test_markdown_table_by_hand():
    from zfkeras.figures import table

    md = table(("a", "b"), [(1, "x|y"), ("2", 0.5)]).data
    assert md == "| a | b |\n|---|---|\n| 1 | x\\|y |\n| 2 | 0.5 |"
    with pytest.raises(ValueError, match=r"rows\[1\] must have 2 cells \(the header's\), got 3"):
        table(("a", "b"), [(1, 2), (1, 2, 3)])
    with pytest.raises(ValueError, match="header must name at least one column"):
        table((), [])
