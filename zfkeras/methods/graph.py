"""Finding layers in the one walk over a Keras model's graph, used by every method.

The walk itself is :mod:`zfkeras.methods.walk` (:func:`walk`, :func:`trace`,
:func:`is_graph_model`) and the split of a fused activation :mod:`zfkeras.methods.linear`
(:func:`pre_activation`); both are re-exported here. This module finds a layer by its name or
by a path ``"vgg16/block5_conv3"`` into nested models (:func:`find`, :func:`locate`), lists the
ops between it and the input (:func:`nodes`, :func:`upstream`) and builds a model on traced
tensors (:func:`build`). The layers are called again, not copied: a traced model shares the
original weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import keras

from zfkeras.methods.cache import cached
from zfkeras.methods.linear import PreActivation, pre_activation
from zfkeras.methods.walk import Entry, is_graph_model, trace, walk

__all__ = [
    "Entry",
    "Located",
    "Node",
    "PreActivation",
    "build",
    "find",
    "is_graph_model",
    "locate",
    "nodes",
    "pre_activation",
    "short_names",
    "trace",
    "upstream",
    "walk",
]


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
