"""Batches and progress, the one loop of every method: :func:`batches` and :func:`plan` cut the
work into compiled passes, :func:`each` runs over them with one progress bar
(:class:`Progress`), :func:`warn_once` tells about a fallback once. Re-exported by
:mod:`zfkeras.methods.checks`, where the methods find them.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence

import keras

__all__ = ["BATCH_SIZE", "VERBOSE", "Progress", "batches", "each", "plan", "warn_once"]

BATCH_SIZE = 128
"""The one default of ``batch_size``: model inputs per compiled pass."""
VERBOSE = "auto"
"""The one default of ``verbose``: one progress bar, updated in place in a notebook and on a
terminal, when the run looks longer than a few seconds; nothing when the output is neither
(CI logs, files). 0 never, 1 always."""


def batches(n: int, size: int) -> Iterator[slice]:
    """Slices ``[0:size], [size:2*size], ...`` covering ``n`` items: the one batching loop."""
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def plan(n: int, per: int, *, batch_size: int = BATCH_SIZE) -> Iterator[tuple[slice, int, int]]:
    """Batches of at most ``batch_size`` rows over ``n`` items x ``per`` inner rows (samples,
    steps, masks, channels): ``(items, start, stop)``, every item of ``items`` paired with the
    inner rows ``start:stop``. Whole items when ``per <= batch_size``, else one item at a time
    in chunks of ``batch_size`` inner rows."""
    if per <= batch_size:
        for b in batches(n, batch_size // per):
            yield b, 0, per
    else:
        for i in range(n):
            for b in batches(per, batch_size):
                yield slice(i, i + 1), b.start, b.stop


def each(parts: Iterable, *, verbose: int | str = VERBOSE, unit_name: str = "batch") -> Iterator:
    """The parts (batches, plans), one after the other, with one :class:`Progress` bar over
    them, advanced after each part is done: ``for b in each(batches(n, size), verbose=v)``."""
    parts = list(parts)
    bar = Progress(len(parts), verbose=verbose, unit_name=unit_name)
    for k, part in enumerate(parts):
        yield part
        bar.update(k + 1)


_WARNED: set = set()


def warn_once(key, message: str) -> None:
    """A ``UserWarning`` with ``message``, given once per ``key`` in a session (for a fallback
    that a result also records)."""
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, UserWarning, stacklevel=3)


def _in_place() -> bool:
    """Whether a progress bar can update in place: a notebook kernel or a terminal."""
    return "ipykernel" in sys.modules or bool(getattr(sys.stdout, "isatty", lambda: False)())


class Progress:
    """The progress display of every method: one ``keras.utils.Progbar`` over ``total`` steps.

    ``verbose="auto"`` starts the bar once the run looks longer than ``seconds`` (timed from
    the second update, as the first one usually includes tracing), and only where it can update
    in place (a notebook or a terminal; never in CI logs); 1 always, 0 never."""

    def __init__(
        self,
        total: int,
        *,
        verbose: int | str = VERBOSE,
        unit_name: str = "batch",
        seconds: float = 3.0,
        stateful_metrics: Sequence[str] | None = None,
    ):
        self.total, self.mode, self.unit, self.seconds = int(total), verbose, unit_name, seconds
        self.stateful = stateful_metrics
        self.bar = self._bar() if verbose == 1 else None
        self._t0 = self._n0 = None

    def _bar(self):
        return keras.utils.Progbar(
            self.total, unit_name=self.unit, interval=0.5, stateful_metrics=self.stateful
        )

    def update(self, done: int, values=None) -> None:
        """``done`` steps finished; ``values`` as for ``Progbar.update``."""
        if self.bar is None and self.mode == "auto" and _in_place():
            now = time.time()
            if self._t0 is None:
                self._t0, self._n0 = now, done
            elif (
                done > self._n0
                and (now - self._t0) / (done - self._n0) * (self.total - self._n0) > self.seconds
            ):
                self.bar = self._bar()
        if self.bar is not None:
            self.bar.update(done, values)
