"""Shared timing for the benchmark scripts: warm up every variant, then time them in alternating
rounds (so load on the machine hits all alike) and keep each one's best round."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_times(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Seconds of the best of ``rounds`` interleaved calls of every function in ``runs``."""
    for run in runs.values():  # warm-up: trace and compile
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    return {name: min(t) for name, t in times.items()}
