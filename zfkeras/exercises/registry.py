"""The exercise registry: every exercise's id, title, hint and checker.

``check(exercise_id, answer)`` prints what differs, by how much, and a hint, and returns ``True``
or ``False``: it never raises on a wrong or missing answer, so that a chapter stored with the
placeholder ``answer = None`` still runs (it prints "not attempted").
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from zfkeras.exercises.compare import Wrong

Checker = Callable[[object], tuple[bool, str]]

_ID = re.compile(r"^\d\d\.\d+$")
_REGISTRY: dict[str, tuple[Exercise, str, Checker]] = {}


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise of the course, as :func:`catalog` lists it.

    Attributes:
        id: ``"NN.k"``: exercise ``k`` of chapter ``NN`` (the chapter's two-digit number).
        title: what the exercise asks, in one line.
    """

    id: str
    title: str

    @property
    def chapter(self) -> int:
        """The chapter number (``"04.2"`` -> ``4``)."""
        return int(self.id.split(".")[0])

    @property
    def number(self) -> int:
        """The exercise's number inside its chapter (``"04.2"`` -> ``2``)."""
        return int(self.id.split(".")[1])


def exercise(exercise_id: str, title: str, hint: str) -> Callable[[Checker], Checker]:
    """Register a checker: ``checker(answer) -> (ok, message)``; it may raise
    :class:`~zfkeras.exercises.compare.Wrong` (or anything else) to reject the answer."""
    if not _ID.match(exercise_id):
        raise ValueError(f"exercise_id must look like '04.2', got {exercise_id!r}")
    if exercise_id in _REGISTRY:
        raise ValueError(f"exercise {exercise_id} is registered twice")

    def register(checker: Checker) -> Checker:
        _REGISTRY[exercise_id] = (Exercise(exercise_id, title), hint, checker)
        return checker

    return register


def catalog() -> list[Exercise]:
    """Every exercise of the course, in chapter order.

    Returns:
        A list of frozen :class:`Exercise` dataclasses (``.id``, ``.title``, ``.chapter``,
        ``.number``), sorted by chapter, then by number.
    """
    return sorted((e for e, _, _ in _REGISTRY.values()), key=lambda e: (e.chapter, e.number))


def check(exercise_id: str, answer: object) -> bool:
    """Check a learner's answer against a reference computed on the spot.

    Args:
        exercise_id: ``"NN.k"``, one of :func:`catalog`'s ids.
        answer: a number, an array, a string or a function, as the exercise asks; ``None``
            means not attempted.

    Returns:
        ``True`` when the answer matches the reference, else ``False`` (after printing what
        differs, by how much, and a hint). Never raises on the answer.

    Raises:
        ValueError: ``exercise_id`` is not in the catalog (a typo in the cell, not an answer).
    """
    if not isinstance(exercise_id, str) or exercise_id not in _REGISTRY:
        raise ValueError(
            f"exercise_id must be one of zfkeras.exercises.catalog()'s ids such as '01.1', "
            f"got {exercise_id!r}"
        )
    info, hint, checker = _REGISTRY[exercise_id]
    if answer is None:
        print(f"{exercise_id} · {info.title}: not attempted")
        return False
    try:
        ok, message = checker(answer)
    except Wrong as wrong:
        ok, message = False, str(wrong)
    except Exception as err:  # the learner's own code failed, or the answer is of another kind
        ok, message = False, f"checking your answer raised {type(err).__name__}: {err}"
    if ok:
        print(f"{exercise_id} · correct: {message}")
    else:
        print(f"{exercise_id} · not yet: {message}\n  hint: {hint}")
    return bool(ok)
