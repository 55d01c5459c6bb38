"""Comparisons that the checkers share: numbers, arrays, functions, and the tiny models.

Each comparison returns ``(ok, message)`` or raises :class:`Wrong` with a message that says
what the answer should have been; the registry turns both into printed feedback. Whatever the
learner's code raises reaches the registry as :class:`Wrong` (through :func:`function` and
:func:`yours`); anything else a checker raises is the checker's own error.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np


class Wrong(Exception):
    """An answer of the wrong kind or shape, or the learner's code failed; the message says
    what was expected."""


def rng(*, seed: int = 0) -> np.random.Generator:
    """A fresh NumPy generator (the checkers never touch the global random state)."""
    return np.random.default_rng(seed)


@contextlib.contextmanager
def yours(what: str):
    """Run the learner's code (``what`` names it): anything it raises becomes :class:`Wrong`."""
    try:
        yield
    except Wrong:
        raise
    except Exception as err:
        raise Wrong(f"{what} raised {type(err).__name__}: {err}") from err


def number(answer: object, what: str = "the answer") -> float:
    """``answer`` as a finite float, or :class:`Wrong`."""
    if isinstance(answer, np.ndarray) and answer.ndim == 0:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)):
        raise Wrong(f"{what} should be a number, got {type(answer).__name__}")
    if not np.isfinite(answer):
        raise Wrong(f"{what} should be finite, got {answer}")
    return float(answer)


def close_number(
    answer: object,
    expected: float,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    what="the answer",
    reveal: bool = True,
) -> tuple[bool, str]:
    """Is ``answer`` within ``atol + rtol * |expected|`` of ``expected``? With ``reveal`` off
    (the answer is the number itself) a miss says only which way it is off."""
    got = number(answer, what)
    if abs(got - expected) <= atol + rtol * abs(expected):
        return True, f"{what} = {got:.6g}"
    if not reveal:
        return False, f"{what}: your {got:.6g} is too {'high' if got > expected else 'low'}"
    return False, f"{what}: expected {expected:.6g}, got {got:.6g} (off by {got - expected:+.3g})"


def array(answer: object, shape: tuple, what: str = "the answer") -> np.ndarray:
    """``answer`` (array, tensor or nested list) as a finite float64 array of ``shape``."""
    try:
        got = np.asarray(keras.ops.convert_to_numpy(answer), dtype=np.float64)
    except Exception as err:
        raise Wrong(
            f"{what} should be an array of shape {shape}, got {type(answer).__name__}"
        ) from err
    if got.shape != tuple(shape):
        raise Wrong(f"{what} should have shape {tuple(shape)}, got {got.shape}")
    if not np.all(np.isfinite(got)):
        raise Wrong(f"{what} holds {int(np.sum(~np.isfinite(got)))} NaN or infinite values")
    return got


def close_array(
    answer: object, expected: np.ndarray, atol: float = 1e-5, rtol: float = 1e-4, what="the answer"
) -> tuple[bool, str]:
    """Do ``answer`` and ``expected`` agree entry by entry (shape first)?"""
    expected = np.asarray(expected, dtype=np.float64)
    got = array(answer, expected.shape, what)
    diff = np.abs(got - expected)
    bad = diff > atol + rtol * np.abs(expected)
    if not bad.any():
        return True, f"{what} matches the reference (largest difference {diff.max(initial=0):.2g})"
    at = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return False, (
        f"{what}: {int(bad.sum())} of {bad.size} entries differ; the largest difference is at "
        f"index {tuple(int(i) for i in at)}: expected {expected[at]:.5g}, got {got[at]:.5g}"
    )


def function(answer: object, signature: str) -> callable:
    """``answer`` wrapped so that whatever it raises becomes :class:`Wrong`; :class:`Wrong`
    naming ``signature`` when it is not callable."""
    if not callable(answer):
        raise Wrong(f"the answer should be a function {signature}, got {type(answer).__name__}")
    name = getattr(answer, "__name__", "your function")

    def call(*args, **kwargs):
        with yours(name):
            return answer(*args, **kwargs)

    return call


def names_used(answer: object) -> set[str]:
    """The global and attribute names a function's code refers to, nested functions and
    comprehensions included (empty for what has no Python code)."""
    code = getattr(answer, "__code__", None)
    if code is None and callable(answer):  # an object with a __call__ method
        code = getattr(type(answer).__call__, "__code__", None)
    stack, found = [code], set()
    while stack:
        code = stack.pop()
        if code is not None:
            found.update(code.co_names)
            stack.extend(c for c in code.co_consts if hasattr(c, "co_names"))
    return found


def each_case(cases, compare) -> tuple[bool, str]:
    """Run ``compare(case)`` over ``cases``; the first failure is reported with its case."""
    message = ""
    for k, case in enumerate(cases):
        ok, message = compare(case)
        if not ok:
            return False, f"case {k + 1} of {len(cases)}: {message}"
    return True, f"all {len(cases)} cases agree; last: {message}"


def tiny_cnn(
    *, seed: int = 0, size: int = 12, classes: int = 4, head: str = "gap", softmax: bool = False
) -> keras.Model:
    """A fresh tiny CNN: image (size, size, 3) -> conv1 (6, 3x3, relu) -> conv2 (8, 3x3, relu)
    -> ``head`` ("gap": global average; "flatten": every position its own weights) -> a Dense
    "logits" layer (classes), with a softmax inside it when ``softmax``. Seeded initializers:
    two calls with the same arguments give two models with equal weights, sharing nothing."""

    def init(k):
        return keras.initializers.GlorotUniform(seed=100 * seed + k)

    bias = keras.initializers.Constant(0.05)
    x = keras.Input((size, size, 3), name="image")
    h = keras.layers.Conv2D(
        6, 3, activation="relu", kernel_initializer=init(1), bias_initializer=bias, name="conv1"
    )(x)
    h = keras.layers.Conv2D(
        8, 3, activation="relu", kernel_initializer=init(2), bias_initializer=bias, name="conv2"
    )(h)
    if head == "gap":
        h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    else:
        h = keras.layers.Flatten(name="flatten")(h)
    z = keras.layers.Dense(
        classes,
        activation="softmax" if softmax else None,
        kernel_initializer=init(3),
        name="logits",
    )(h)
    return keras.Model(x, z, name=f"tiny_cnn_{seed}_{head}")


def layer_model(model: keras.Model, name: str) -> keras.Model:
    """The sub-model from ``model``'s input to layer ``name``'s output."""
    return keras.Model(model.input, model.get_layer(name).output)
