"""One place to add a method: the registry of the explanation methods.

A method registers itself where it is defined, with one line above its function::

    @method("gradcam", takes=("layer",))
    def gradcam(model, images, class_index=None, layer=None, *, batch_size=..., verbose=...):

The function takes ``model``, ``images`` and ``class_index`` (``None``, an int or one int per
image) and the keyword-only ``batch_size`` and ``verbose``, and returns one map per image,
``(N, h, w)`` or ``(N, H, W, C)``. ``takes`` names the other arguments of the vocabulary it
takes (``"layer"``, ``"seed"``); any other keyword is a fixed option, so one function can be
registered under several names (``class_projection`` as ``"deconvnet"``, ``"guided"`` and
``"backprop"`` with ``mode=``). :func:`zfkeras.evaluation.explain` runs a method by its name
(:data:`METHODS`), and the tests take the list from here (the error table, mixed precision).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["METHODS", "TAKES", "Method", "method"]

TAKES = ("layer", "seed")
"""The arguments of the vocabulary a method may take beyond ``model``, ``images``,
``class_index``, ``batch_size`` and ``verbose``."""


@dataclass(frozen=True)
class Method:
    """A registered explanation method.

    Attributes:
        name: the name :func:`zfkeras.evaluation.explain` knows it by.
        function: ``(model, images, class_index, **options, *, batch_size, verbose)`` -> maps.
        options: the fixed keyword arguments, as ``(name, value)`` pairs.
        takes: the vocabulary arguments it takes beyond the common ones (see :data:`TAKES`).
    """

    name: str
    function: Callable
    options: tuple[tuple[str, object], ...] = ()
    takes: tuple[str, ...] = ()

    def __call__(self, model, images, class_index=None, **kwargs):
        """``function(model, images, class_index, **options, **kwargs)``."""
        return self.function(model, images, class_index, **dict(self.options), **kwargs)


_METHODS: dict[str, Method] = {}
METHODS = MappingProxyType(_METHODS)
"""Name -> :class:`Method`, in the order the methods registered (read-only)."""


def method(name: str, *, takes: tuple[str, ...] = (), **options) -> Callable:
    """Register the decorated function as the explanation method ``name`` (see the module
    docstring); returns the function unchanged.

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: ``name`` is taken by another function, or ``takes`` names an argument
            outside :data:`TAKES`.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    unknown = sorted(set(takes) - set(TAKES))
    if unknown:
        raise ValueError(f"takes must name arguments among {TAKES}, got {unknown}")

    def register(function: Callable) -> Callable:
        entry = Method(name, function, tuple(sorted(options.items())), tuple(takes))
        old = _METHODS.get(name)
        if old is not None and old.function.__qualname__ != function.__qualname__:
            raise ValueError(f"name {name!r} is already the method {old.function.__qualname__}")
        _METHODS[name] = entry
        return function

    return register
