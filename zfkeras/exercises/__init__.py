"""Checked exercises for every chapter of the course.

Each chapter's exercise cell ends with ``zfkeras.exercises.check("NN.k", answer)``: the
checker computes a reference on the spot (plain NumPy and Keras on small deterministic inputs,
tiny seeded models built afresh for every check), prints what differs and where, a hint (the
idea after a second miss), and returns ``True`` or ``False``; ``answer = None`` prints "not
attempted". ``catalog()`` lists every exercise as a frozen :class:`Exercise` (``id``,
``title``); ``progress()`` prints each exercise's state in this kernel, by chapter. Reference
solutions and the planted mistakes live in the repository's ``solutions/`` folder.

Modules: ``registry`` (ids, check, catalog, hints, progress), ``compare`` (shared comparisons
and the tiny models), and the checkers by chapter: ``foundations`` (01-03), ``projections``
(04-06), ``gradients`` (07-08), ``attribution`` (09-11), ``learning`` (12, 14, 16) and
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
from zfkeras.exercises.registry import Exercise, catalog, check, hints, progress

__all__ = ["Exercise", "catalog", "check", "hints", "progress"]
