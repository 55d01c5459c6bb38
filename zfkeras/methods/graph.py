"""The one walk over a Keras model's graph, used by every method.

:func:`walk` runs a model op by op on the caller's tensors (symbolic or eager) and descends
into every nested Functional or Sequential model (a ``Sequential`` holding
``keras.applications.VGG16`` plus a head, a Functional model calling another model), so a layer
deep inside is reachable by its name or by a path ``"vgg16/block5_conv3"``. A ``hook`` may
compute any leaf op differently: the ReLU rules of :mod:`zfkeras.methods.deconvnet.rules` do,
and :func:`pre_activation` splits a fused activation off its layer inside the walk, without
changing the layer. :func:`trace` re-runs a model on fresh ``keras.Input`` tensors;
:func:`nodes` and :func:`locate` find a layer and the ops between it and the input. The layers
are called again, not copied: a traced model shares the original weights.

Public Keras API only: ``clone_model(model, clone_function=lambda l: l, call_function=...)``
runs a *shadow* copy of each Functional level on symbolic inputs, to learn the order of calls
and their arguments; :func:`walk` makes every real call itself, on the caller's tensors,
descending into nested models. (``recursive=True`` alone would rebuild a nested model on its
own new inputs, out of reach of the outer input, and take symbolic inputs only.)
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from typing import NamedTuple

import keras
from keras import ops

from zfkeras.methods.cache import cached

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


def find(entries: list[Entry], name: str, argument: str = "layer") -> Entry:
    """The entry named ``name``: a full path (``"vgg16/block1_conv1"``) or a layer name that
    occurs once. Raises ``ValueError`` naming ``argument``, the choices and what was given."""
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a layer name (str), got {type(name).__name__}")
    hits = [e for e in entries if e[0] == name]
    if not hits:
        hits = [e for e in entries if e[0].rsplit("/", 1)[-1] == name]
        if len({e[0] for e in hits}) > 1:
            raise ValueError(
                f"{argument} {name!r} is ambiguous: give one of the paths "
                f"{sorted({e[0] for e in hits})}"
            )
    if not hits:
        names = [e[0] for e in entries if isinstance(e[1], keras.layers.Layer)]
        raise ValueError(
            f"{argument} must name a layer of the model, got {name!r}; layers: "
            f"{', '.join(names[:40])}{' ...' if len(names) > 40 else ''}"
        )
    return hits[-1]


def short_names(entries: list[Entry]) -> list[str]:
    """Each entry's layer name where it is unique among ``entries``, else its full path, in the
    order of ``entries``."""
    count: dict[str, int] = {}
    for path, _, _ in entries:
        leaf = path.rsplit("/", 1)[-1]
        count[leaf] = count.get(leaf, 0) + 1
    leaves = [p.rsplit("/", 1)[-1] for p, _, _ in entries]
    return [leaf if count[leaf] == 1 else p for leaf, (p, _, _) in zip(leaves, entries)]


def build(inputs, outputs, name: str | None = None) -> keras.Model:
    """``keras.Model(inputs, outputs)`` on traced tensors, explaining the one case that cannot be
    built: two layers of the same name (in different nested models) both on the path."""
    try:
        return keras.Model(inputs, outputs, name=name)
    except ValueError as err:
        if "should be unique" not in str(err):
            raise
        raise ValueError(
            f"layers: the requested outputs need two layers of the same name from "
            f"different nested models ({err}); ask for them in separate calls"
        ) from err


class Node(NamedTuple):
    """One leaf op of a traced graph: its path, the op, its input tensors (flat) and output."""

    path: str
    op: object
    inputs: tuple
    output: object


class Located(NamedTuple):
    """A layer found in a single-input model's traced graph (see :func:`locate`)."""

    path: str  # the entry's full path (``"vgg16/block5_conv3"``)
    op: object  # the layer (or nested model) itself
    input: object  # the traced keras.Input
    output: object  # the layer's traced output
    nodes: tuple  # the leaf Nodes between the input and the layer, in forward order


def nodes(model: keras.Model, input_shape: Sequence | None = None):
    """:func:`trace` that also records every leaf op's inputs: ``(inputs, output, entries,
    nodes)`` with one :class:`Node` per leaf op in the order they ran. Cached per model and
    input shape (the trace calls each layer once more on symbolic tensors)."""
    key = ("nodes", None if input_shape is None else tuple(input_shape))

    def make():
        rec = []

        def record(op, args, kwargs):
            out = op(*args, **kwargs)
            ins = tuple(
                t for t in keras.tree.flatten((args, kwargs)) if isinstance(t, keras.KerasTensor)
            )
            rec.append((op, ins, out))
            return out

        inputs, output, entries = trace(model, input_shape, hook=record)
        leaves = [e for e in entries if not is_graph_model(e[1])]
        made, found = set(), []
        for (path, _, _), (op, ins, out) in zip(leaves, rec):
            # a tensor no op made is the input (or its cast to the input dtype, by walk)
            if not isinstance(inputs, list):
                ins = tuple(t if id(t) in made else inputs for t in ins)
            found.append(Node(path, op, ins, out))
            made.update(id(t) for t in keras.tree.flatten(out))
        return inputs, output, entries, found

    return cached(model, key, make)


def upstream(graph_nodes: list[Node], tensor) -> tuple[Node, ...]:
    """The nodes ``tensor`` depends on, in the order they ran."""
    producer = {id(t): n for n in graph_nodes for t in keras.tree.flatten(n.output)}
    need, stack = set(), [tensor]
    while stack:
        node = producer.get(id(stack.pop()))
        if node is not None and id(node) not in need:
            need.add(id(node))
            stack.extend(node.inputs)
    return tuple(n for n in graph_nodes if id(n) in need)


def _layer_names(model) -> list[str]:
    out = []
    for layer in getattr(model, "layers", []):
        out.append(layer.name)
        out += _layer_names(layer) if isinstance(layer, keras.Model) else []
    return out


def locate(
    model: keras.Model, layer, input_shape: Sequence | None = None, *, argument: str = "layer"
) -> Located:
    """The one lookup of a layer for the projections, receptive fields and mining.

    Args:
        model: a single-input Keras model, nested models allowed, checked by the caller
            (:func:`zfkeras.methods.checks.check_model`).
        layer: a layer name that occurs once, an ``"outer/inner"`` path into nested models,
            or the layer object.
        input_shape: optional ``(rows, cols, channels)`` to trace with (see :func:`trace`).
        argument: the argument's name for error messages.

    Raises:
        TypeError: ``layer`` is not a name or layer.
        ValueError: ``channels_first`` layers on the way, an unknown or ambiguous name, or a
            layer that the input does not reach.
    """
    name = layer.name if isinstance(layer, keras.layers.Layer) else layer
    inputs, _, entries, graph_nodes = nodes(model, input_shape)
    try:
        path, op, out = find(entries, name, argument)
    except ValueError:
        if name in _layer_names(model):
            raise ValueError(
                f"{argument} {name!r} is a layer of the model that the graph walk "
                f"does not reach from the input (it is not called between the "
                f"input and an output, or it lies inside a subclassed model, "
                f"which runs as one op)"
            ) from None
        raise
    way = upstream(graph_nodes, out)
    for node in way:
        if getattr(node.op, "data_format", "channels_last") == "channels_first":
            raise ValueError(
                f"layer {node.path!r} of type {type(node.op).__name__} uses "
                f"data_format='channels_first'; only 'channels_last' is supported"
            )
    return Located(path, op, inputs, out, way)


_TWINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CONV_OP = keras.layers.Conv2D.convolution_op


def _twin(op, input_shape):
    """A copy of ``op`` with a linear activation, for layers without a public linear part. It
    runs on ``op``'s own variables (``stateless_call``), so it never holds stale weights, and
    it holds no reference to ``op``."""
    if op not in _TWINS:
        cfg = {**op.get_config(), "activation": "linear", "name": f"{op.name}_linear"}
        twin = type(op).from_config(cfg)
        twin.build(input_shape)
        _TWINS[op] = twin
    return _TWINS[op]


def _linear_part(op, x):
    dtype = op.compute_dtype
    if isinstance(op, keras.layers.Dense) or (
        isinstance(op, keras.layers.Conv2D) and type(op).convolution_op is _CONV_OP
    ):
        x = ops.cast(x, dtype)
        kernel = ops.cast(op.kernel, dtype)
        dense = isinstance(op, keras.layers.Dense)
        out = ops.matmul(x, kernel) if dense else op.convolution_op(x, kernel)
        return out + ops.cast(op.bias, dtype) if op.use_bias else out
    trainable = [v.value for v in op.trainable_variables]
    fixed = [v.value for v in op.non_trainable_variables]
    return _twin(op, tuple(x.shape)).stateless_call(trainable, fixed, x)[0]


class PreActivation(keras.layers.Layer):
    """A layer's linear part as one op of a traced graph (its inner ops are not graph nodes,
    so their automatic names cannot clash with the model's layer names)."""

    def __init__(self, fn, **kwargs):
        super().__init__(**kwargs)
        self._fn = fn

    def call(self, x):
        return self._fn(x)


def pre_activation(op, args, kwargs):
    """What ``op(*args, **kwargs)`` computes before its fused activation (the linear part of a
    convolution or dense layer with ``activation="relu"``, ``"softmax"``, ...), on symbolic or
    real tensors, in the layer's compute dtype. The layer itself is never changed (no attribute
    is assigned, not even for a moment): a ``Dense`` or ``Conv2D`` is computed from its kernel
    and bias, any other layer by a linear twin running on its variables."""
    x = args[0] if args else kwargs["inputs"]
    if isinstance(x, keras.KerasTensor):
        return PreActivation(lambda t: _linear_part(op, t), name=f"{op.name}_linear")(x)
    return _linear_part(op, x)
