"""The one cache of the package: compiled functions and traced sub-models, per model.

Keyed weakly on the model and checked against the model's current layers, so that

* it never keeps a model alive: nothing cached may reference the model itself (the values are
  traced copies that share its layers and weights; the test deletes every model a method saw
  and checks that a ``weakref`` to it dies);
* it never serves a stale function: after ``Sequential.pop()`` / ``add()`` (or any change of the
  layers, nested models included) every entry of that model misses and is rebuilt.

:func:`clear_cache` drops a model's entries at once (``zfkeras.methods.clear_cache``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator

import keras

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def all_layers(model) -> Iterator:
    """Every layer of ``model``, nested models and their layers included, depth first."""
    for layer in getattr(model, "layers", []):
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


class _Slot:
    """One model's entries and the layers they were built for (weak references)."""

    def __init__(self, layers: list):
        self.layers = [weakref.ref(layer) for layer in layers]
        self.values: dict = {}

    def fits(self, layers: list) -> bool:
        return len(layers) == len(self.layers) and all(
            ref() is layer for ref, layer in zip(self.layers, layers)
        )


def cached(model: keras.Model, key, make: Callable):
    """``make()`` computed once per (model, key) while the model's layers stay the same.

    ``make`` must not return anything that references ``model`` (build on a traced copy: see
    :func:`zfkeras.methods.graph.trace`), or the model is never freed."""
    layers = list(all_layers(model))
    slot = _CACHE.get(model)
    if slot is None or not slot.fits(layers):
        slot = _CACHE[model] = _Slot(layers)
    if key not in slot.values:
        slot.values[key] = make()
    return slot.values[key]


def clear_cache(model: keras.Model | None = None) -> None:
    """Forget what the methods compiled or traced for ``model`` (every model when ``None``).

    Nothing needs it for correctness (a changed model misses the cache, a deleted one leaves
    it); it frees memory at once, e.g. after explaining many models in one session."""
    if model is None:
        _CACHE.clear()
    elif not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model or None, got {type(model).__name__}")
    else:
        _CACHE.pop(model, None)
