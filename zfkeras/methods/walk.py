"""The one walk over a Keras model's graph, op by op (:mod:`zfkeras.methods.graph` builds on it).

:func:`walk` runs a model op by op on the caller's tensors (symbolic or eager) and descends
into every nested Functional or Sequential model (a ``Sequential`` holding
``keras.applications.VGG16`` plus a head, a Functional model calling another model). A
``hook`` may compute any leaf op differently: the ReLU rules of
:mod:`zfkeras.methods.deconvnet.rules` do. :func:`trace` re-runs a model on fresh
``keras.Input`` tensors. The layers are called again, not copied: a traced model shares the
original weights.

Public Keras API only: ``clone_model(model, clone_function=lambda l: l, call_function=...)``
runs a *shadow* copy of each Functional level on symbolic inputs, to learn the order of calls
and their arguments; :func:`walk` makes every real call itself, on the caller's tensors,
descending into nested models. (``recursive=True`` alone would rebuild a nested model on its
own new inputs, out of reach of the outer input, and take symbolic inputs only.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import keras

Entry = tuple[str, object, object]  # (path, layer or op, output tensor)


@functools.cache
def _functional_class() -> type:
    """The class ``keras.Model(inputs, outputs)`` returns (``Functional``, not exported)."""
    x = keras.Input((1,), name="zfkeras_probe_input")  # named: no auto-name counter moves
    return type(keras.Model(x, keras.layers.Identity(name="zfkeras_probe")(x)))


def is_graph_model(op) -> bool:
    """True for a Sequential or Functional model (whose layers :func:`walk` can visit); False
    for a layer, an op or a subclassed model (which runs as one op)."""
    return isinstance(op, (keras.Sequential, _functional_class()))


def _flat_inputs(model: keras.Model, inputs) -> list:
    """``inputs`` (a tensor, a list or a dict by input name) as a list matching
    ``model.inputs``, converted to each input's dtype (as calling the model would)."""
    refs = model.inputs
    if isinstance(inputs, dict):
        missing = [t.name for t in refs if t.name not in inputs]
        if missing:
            raise ValueError(
                f"inputs must have the keys {[t.name for t in refs]}, got {sorted(inputs)}"
            )
        flat = [inputs[t.name] for t in refs]
    else:
        flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if len(flat) != len(refs):
        raise ValueError(
            f"inputs must be {len(refs)} tensor(s) for model {model.name!r}, got {len(flat)}"
        )
    return [
        (x if x.dtype == ref.dtype else keras.ops.cast(x, ref.dtype))
        if isinstance(x, keras.KerasTensor)
        else keras.ops.convert_to_tensor(x, ref.dtype)
        for x, ref in zip(flat, refs)
    ]


def _call(op, args, kwargs):
    return op(*args, **kwargs)


def walk(
    model: keras.Model,
    inputs,
    hook: Callable | None = None,
    entries: list | None = None,
    prefix: str = "",
):
    """Run ``model`` on ``inputs`` (Keras or real tensors) op by op, descending into nested
    Functional and Sequential models. ``hook(op, args, kwargs)`` computes each leaf op (default:
    ``op(*args, **kwargs)``); every output is appended to ``entries`` as ``(path, op, output)``.
    Returns the model's output (a list for several outputs). Public API only: see the module
    docstring."""
    entries = [] if entries is None else entries
    hook = hook or _call

    def run(op, args, kwargs):
        if is_graph_model(op):
            x = args[0] if args else kwargs["inputs"]
            out = walk(op, x, hook, entries, prefix + op.name + "/")
        else:
            out = hook(op, args, kwargs)
        entries.append((prefix + op.name, op, out))
        return out

    if isinstance(model, keras.Sequential):
        x = inputs
        for layer in model.layers:
            x = run(layer, (x,), {})
        return x
    shadow_inputs = keras.tree.map_structure(
        lambda t: keras.Input(batch_shape=t.shape, dtype=t.dtype, name=t.name), model.input
    )
    value = {
        id(s): x for s, x in zip(keras.tree.flatten(shadow_inputs), _flat_inputs(model, inputs))
    }

    def real(t):
        return value[id(t)] if isinstance(t, keras.KerasTensor) else t

    def call(op, *args, **kwargs):
        shadow = op(*args, **kwargs)  # learns the call's output tensors in the shadow graph
        out = run(op, *keras.tree.map_structure(real, (args, kwargs)))
        for s, o in zip(keras.tree.flatten(shadow), keras.tree.flatten(out)):
            value[id(s)] = o
        return shadow

    shadow_model = keras.models.clone_model(
        model, input_tensors=shadow_inputs, clone_function=lambda layer: layer, call_function=call
    )
    out = [value[id(t)] for t in shadow_model.outputs]
    return out[0] if len(out) == 1 else out


def trace(model: keras.Model, input_shape: Sequence | None = None, hook: Callable | None = None):
    """Re-run ``model`` on fresh ``keras.Input`` tensors.

    Args:
        model: a built Sequential or Functional model (nested models allowed), checked by the
            caller (:func:`zfkeras.methods.checks.check_model`, the one check of ``model``).
        input_shape: optional ``(rows, cols, channels)`` replacing the input shape of a
            single-input model (``None`` dims allowed), for fully convolutional sub-graphs.
        hook: computes each leaf op, as in :func:`walk`.

    Returns:
        ``(inputs, output, entries)``: the new inputs, the model output on them and the ordered
        list of ``(path, layer, output)`` of every op that ran.
    """
    if input_shape is not None and len(model.inputs) != 1:
        raise ValueError(f"input_shape needs a single-input model, got {len(model.inputs)} inputs")
    shapes = (
        [tuple(input_shape)]
        if input_shape is not None
        else [tuple(t.shape[1:]) for t in model.inputs]
    )
    inputs = [keras.Input(s, dtype=t.dtype) for s, t in zip(shapes, model.inputs)]
    entries: list[Entry] = []
    output = walk(model, inputs[0] if len(inputs) == 1 else inputs, hook, entries)
    return (inputs[0] if len(inputs) == 1 else inputs), output, entries
