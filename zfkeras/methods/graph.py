"""Intermediate activations: a multi-output model over any Keras CNN, and the channel grids.

Course material beside the paper (``zfnet-paper.md`` section 10, "Intermediate activations"):
a model whose outputs are the outputs of several layers; every channel of each is drawn as an
image ("what each filter sees").

Nested models (a ``Sequential`` holding ``keras.applications.VGG16`` plus a head, a Functional
model calling another model) are handled by re-running the graph op by op on fresh
``keras.Input`` tensors and descending into every nested Functional or Sequential model, so a
layer deep inside is reachable by its name (or by a path ``"vgg16/block5_conv3"``). The layers
are called again, not copied: the new model shares the original weights. :func:`trace` is the
machinery; :mod:`zfkeras.filters` and :mod:`zfkeras.cam` use it too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras

_CONV = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
         keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D,
         keras.layers.Conv2DTranspose)
_POOL = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)

Entry = tuple[str, object, object]  # (path, layer or op, output tensor)


def _is_graph_model(op) -> bool:
    return isinstance(op, keras.Sequential) or (
        isinstance(op, keras.Model) and hasattr(op, "_run_through_graph")
        and hasattr(op, "_nodes_by_depth"))


def _check_model(model) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    try:
        model.inputs  # noqa: B018 - unbuilt Sequential models raise here
    except (AttributeError, ValueError) as err:
        raise ValueError(f"model must have defined inputs (build it on keras.Input), got an "
                         f"unbuilt {type(model).__name__} {model.name!r}") from err
    if not model.inputs:
        raise ValueError(f"model must have defined inputs (build it on keras.Input), got "
                         f"{type(model).__name__} {model.name!r} without inputs")


def walk(model: keras.Model, inputs, hook: Callable | None = None, entries: list | None = None,
         prefix: str = ""):
    """Run ``model`` on ``inputs`` (Keras or real tensors) op by op, descending into nested
    Functional and Sequential models. ``hook(op, args, kwargs)`` computes each leaf op (default:
    ``op(*args, **kwargs)``); every output is appended to ``entries`` as ``(path, op, output)``.
    Returns the model's output."""
    entries = [] if entries is None else entries
    hook = hook or (lambda op, args, kwargs: op(*args, **kwargs))

    def run(op, *args, **kwargs):
        if _is_graph_model(op):
            x = args[0] if args else kwargs["inputs"]
            out = walk(op, x, hook, entries, prefix + op.name + "/")
        else:
            out = hook(op, args, kwargs)
        entries.append((prefix + op.name, op, out))
        return out

    if isinstance(model, keras.Sequential):
        x = inputs
        for layer in model.layers:
            x = run(layer, x)
        return x
    flat = model._standardize_inputs(inputs)
    out = model._run_through_graph(flat, operation_fn=lambda op: lambda *a, **k: run(op, *a, **k))
    return out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out


def trace(model: keras.Model, input_shape: Sequence | None = None):
    """Re-run ``model`` on fresh ``keras.Input`` tensors.

    Args:
        model: a built Sequential or Functional model (nested models allowed).
        input_shape: optional ``(rows, cols, channels)`` replacing the input shape of a
            single-input model (``None`` dims allowed), for fully convolutional sub-graphs.

    Returns:
        ``(inputs, output, entries)``: the new inputs, the model output on them and the ordered
        list of ``(path, layer, output)`` of every op that ran.
    """
    _check_model(model)
    if input_shape is not None and len(model.inputs) != 1:
        raise ValueError(f"input_shape needs a single-input model, got {len(model.inputs)} inputs")
    shapes = [tuple(input_shape)] if input_shape is not None else [
        tuple(t.shape[1:]) for t in model.inputs]
    inputs = [keras.Input(s, dtype=t.dtype) for s, t in zip(shapes, model.inputs)]
    entries: list[Entry] = []
    output = walk(model, inputs[0] if len(inputs) == 1 else inputs, entries=entries)
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
            raise ValueError(f"{argument} {name!r} is ambiguous: give one of the paths "
                             f"{sorted({e[0] for e in hits})}")
    if not hits:
        names = [e[0] for e in entries if isinstance(e[1], keras.layers.Layer)]
        raise ValueError(f"{argument} must name a layer of the model, got {name!r}; layers: "
                         f"{', '.join(names[:40])}{' ...' if len(names) > 40 else ''}")
    return hits[-1]


def _short_names(entries: list[Entry]) -> dict[str, str]:
    """Path -> the layer name when it is unique, else the path."""
    count: dict[str, int] = {}
    for path, _, _ in entries:
        leaf = path.rsplit("/", 1)[-1]
        count[leaf] = count.get(leaf, 0) + 1
    return {p: (p.rsplit("/", 1)[-1] if count[p.rsplit("/", 1)[-1]] == 1 else p)
            for p, _, _ in entries}


def build(inputs, outputs, name: str | None = None) -> keras.Model:
    """``keras.Model(inputs, outputs)`` on traced tensors, explaining the one case that cannot be
    built: two layers of the same name (in different nested models) both on the path."""
    try:
        return keras.Model(inputs, outputs, name=name)
    except ValueError as err:
        if "should be unique" not in str(err):
            raise
        raise ValueError(f"layers: the requested outputs need two layers of the same name from "
                         f"different nested models ({err}); ask for them in separate calls"
                         ) from err


