"""The one cache of the package: compiled functions and traced sub-models, per model.

Keyed weakly on the model and checked against everything a traced or compiled value is built
from, so that

* it never keeps a model alive: nothing cached may reference the model itself (the values are
  traced copies that share its layers and weights; the test deletes every model a method saw
  and checks that a ``weakref`` to it dies);
* it never serves a stale function: every entry of a model misses and is rebuilt after any
  change of its layers (``Sequential.pop()`` / ``add()``, nested models included), of a
  layer's ``activation`` (tf-keras-vis's model modifiers assign it), of a layer's dtype policy,
  or of the identity of a layer's weights (a rebuilt layer);
* it never grows with the calls: a key names *what* was compiled (layer names, modes, ints
  that fix a shape), never a float or data bytes; learning rates, input ranges and colour
  matrices are arguments of the compiled functions. The deconvnet's compiled passes live here
  too.

:func:`clear_cache` drops a model's entries at once (``zfkeras.methods.clear_cache``);
:func:`cache_keys` lists them.
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


def _ref(obj):
    """A weak reference to ``obj`` when it takes one (else ``obj``'s id), compared by
    :func:`_same`; never a strong reference, which could keep the model alive."""
    try:
        return weakref.ref(obj)
    except TypeError:
        return id(obj)


def _same(ref, obj) -> bool:
    return ref() is obj if isinstance(ref, weakref.ref) else ref == id(obj)


def _state(layer) -> tuple:
    """What a traced or compiled value depends on in ``layer``: the layer itself, its
    activation function, its dtype policy and its weights (a nested model's weights are its
    layers': they are checked there)."""
    policy = getattr(getattr(layer, "dtype_policy", None), "name", None)
    weights = () if isinstance(layer, keras.Model) else tuple(layer.weights)
    return layer, getattr(layer, "activation", None), policy, weights


class _Slot:
    """One model's entries and the state of the layers they were built for (weakly held)."""

    def __init__(self, states: list):
        self.states = [
            (_ref(layer), _ref(act), policy, tuple(_ref(w) for w in weights))
            for layer, act, policy, weights in states
        ]
        self.values: dict = {}

    def fits(self, states: list) -> bool:
        return len(states) == len(self.states) and all(
            _same(ref, layer)
            and _same(act_ref, act)
            and policy == old_policy
            and len(weights) == len(refs)
            and all(_same(r, w) for r, w in zip(refs, weights))
            for (ref, act_ref, old_policy, refs), (layer, act, policy, weights) in zip(
                self.states, states
            )
        )


def cached(model: keras.Model, key, make: Callable):
    """``make()`` computed once per (model, key) while the model's layers, their activations,
    dtype policies and weights stay the same (see the module docstring).

    ``key`` must hold no float and no data (they belong in the compiled function's arguments),
    or the model's entries grow with every call. ``make`` must not return anything that
    references ``model`` (build on a traced copy: see :func:`zfkeras.methods.graph.trace`),
    or the model is never freed."""
    states = [_state(layer) for layer in all_layers(model)]
    slot = _CACHE.get(model)
    if slot is None or not slot.fits(states):
        slot = _CACHE[model] = _Slot(states)
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


def cache_keys(model: keras.Model) -> list:
    """The keys of ``model``'s current entries (empty when it has none or they are stale)."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    slot = _CACHE.get(model)
    states = [_state(layer) for layer in all_layers(model)]
    return list(slot.values) if slot is not None and slot.fits(states) else []
