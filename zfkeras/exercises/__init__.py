"""Checked exercises for every chapter of the course.

Each chapter's exercise cell ends with ``zfkeras.exercises.check("NN.k", answer)``: the
checker computes a reference on the spot (plain NumPy and Keras on small deterministic inputs,
tiny seeded models), prints what differs, by how much and a hint, and returns ``True`` or
``False``; ``answer = None`` prints "not attempted". ``catalog()`` lists every exercise as a
frozen :class:`Exercise` (``id``, ``title``). Reference solutions live in the repository's
``solutions/`` folder, outside the chapters.

Modules: ``registry`` (ids, check, catalog), ``compare`` (shared comparisons and the tiny
models), and the checkers by chapter: ``foundations`` (01-03), ``projections`` (04-06),
``gradients`` (07-09), ``attribution`` (10-11), ``learning`` (12, 14, 16) and
``representation`` (13, 15). Importing them registers their exercises.
"""

from zfkeras.exercises import (  # noqa: F401  (importing registers the checkers)
    attribution,
    foundations,
    gradients,
    learning,
    projections,
    representation,
)
from zfkeras.exercises.registry import Exercise, catalog, check

__all__ = ["Exercise", "catalog", "check"]
