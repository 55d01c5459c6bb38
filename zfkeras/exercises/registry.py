"""The exercise registry: every exercise's id, title, staged hints and checker, and where the
learner stands in the current kernel.

``check(exercise_id, answer)`` prints what differs and where, and returns ``True`` or ``False``:
it never raises on a wrong or missing answer, so that a chapter stored with the placeholder
``answer = None`` still runs (it prints "not attempted"). Hints are staged: the first wrong
answer gets a pointer to where to look, a second one also gets the idea; no hint holds the
solution's code or formula. An error of the checker itself is reported as such, never as a
wrong answer. ``progress()`` prints every exercise's state in this kernel.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from zfkeras.exercises.compare import Wrong

Checker = Callable[[object], tuple[bool, str]]

_ID = re.compile(r"^\d\d\.\d+$")
_REGISTRY: dict[str, tuple[Exercise, tuple[str, str], Checker]] = {}
_STATES = ("not attempted", "wrong", "right")
_STATE: dict[str, str] = {}  # exercise id -> its state in this kernel
_MISSES: dict[str, int] = {}  # exercise id -> wrong answers so far in this kernel


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


def exercise(exercise_id: str, title: str, where: str, idea: str) -> Callable[[Checker], Checker]:
    """Register a checker ``checker(answer) -> (ok, message)``; it may raise
    :class:`~zfkeras.exercises.compare.Wrong` to reject the answer.

    Args:
        exercise_id: ``"NN.k"``.
        title: one line, the first line of the exercise's Markdown cell.
        where: the first hint: where to look (no formula, no code).
        idea: the second hint, after a second wrong answer: the idea (no formula, no code).
    """
    if not _ID.match(exercise_id):
        raise ValueError(f"exercise_id must look like '04.2', got {exercise_id!r}")
    if exercise_id in _REGISTRY:
        raise ValueError(f"exercise {exercise_id} is registered twice")

    def register(checker: Checker) -> Checker:
        _REGISTRY[exercise_id] = (Exercise(exercise_id, title), (where, idea), checker)
        return checker

    return register


def catalog() -> list[Exercise]:
    """Every exercise of the course, in chapter order.

    Returns:
        A list of frozen :class:`Exercise` dataclasses (``.id``, ``.title``, ``.chapter``,
        ``.number``), sorted by chapter, then by number.
    """
    return sorted((e for e, _, _ in _REGISTRY.values()), key=lambda e: (e.chapter, e.number))


def hints(exercise_id: str) -> tuple[str, str]:
    """The two staged hints of an exercise: ``(where to look, the idea)``.

    Raises:
        ValueError: ``exercise_id`` is not in the catalog.
    """
    return _REGISTRY[_known(exercise_id)][1]


def _known(exercise_id: object) -> str:
    if not isinstance(exercise_id, str) or exercise_id not in _REGISTRY:
        raise ValueError(
            f"exercise_id must be one of zfkeras.exercises.catalog()'s ids such as '01.1', "
            f"got {exercise_id!r}"
        )
    return exercise_id


def check(exercise_id: str, answer: object) -> bool:
    """Check a learner's answer against a reference computed on the spot.

    Args:
        exercise_id: ``"NN.k"``, one of :func:`catalog`'s ids.
        answer: a number, an array, a string, a set or a function, as the exercise asks;
            ``None`` means not attempted (it leaves the exercise's state as it was).

    Returns:
        ``True`` when the answer matches the reference, else ``False`` (after printing what
        differs and where, and a hint; the idea comes with the second wrong answer). An error
        inside the checker itself prints "checker error" and returns ``False`` without counting
        the answer as wrong. Never raises on the answer.

    Raises:
        ValueError: ``exercise_id`` is not in the catalog (a typo in the cell, not an answer).
    """
    info, (where, idea), checker = _REGISTRY[_known(exercise_id)]
    if answer is None:
        print(f"{exercise_id} · {info.title}: not attempted")
        return False
    try:
        ok, message = checker(answer)
    except Wrong as wrong:
        ok, message = False, str(wrong)
    except Exception as err:  # not the learner's code (that arrives as Wrong): the checker's bug
        print(
            f"{exercise_id} · checker error, not a verdict on your answer: "
            f"{type(err).__name__}: {err}. Please report it."
        )
        return False
    ok = bool(ok)
    _STATE[exercise_id] = "right" if ok else "wrong"
    if ok:
        print(f"{exercise_id} · correct: {message}")
        return True
    _MISSES[exercise_id] = _MISSES.get(exercise_id, 0) + 1
    text = f"{exercise_id} · not yet: {message}\n  hint: {where}"
    if _MISSES[exercise_id] >= 2:
        text += f"\n  the idea: {idea}"
    print(text)
    return False


def progress() -> None:
    """Print, for the current kernel, every exercise's id, state and title, by chapter.

    The state is "not attempted" (never checked with an answer), "wrong" or "right" (the
    verdict of its latest check); a chapter's line counts its exercises that are right.
    """
    exercises = catalog()
    for chapter in sorted({e.chapter for e in exercises}):
        own = [e for e in exercises if e.chapter == chapter]
        right = sum(_STATE.get(e.id) == "right" for e in own)
        print(f"chapter {chapter:02d}: {right} of {len(own)} right")
        for e in own:
            print(f"  {e.id}  {_STATE.get(e.id, _STATES[0]):13}  {e.title}")


def _forget() -> None:
    """Forget every state and miss count of this kernel (for tests)."""
    _STATE.clear()
    _MISSES.clear()
