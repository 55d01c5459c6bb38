"""The class score before the softmax, for any Keras classifier, and the one softmax test.

Grad-CAM, the class-score projections and class-score ascent need the score *before* the
softmax (the logits); occlusion, deletion/insertion and invariance need probabilities. The
softmax is found with the one graph walk (:mod:`zfkeras.methods.graph`): the op that computes
the model's (first) output, also inside nested models, ends in a softmax when it is

* a ``keras.layers.Softmax`` layer or the ``keras.ops.softmax`` operation;
* an ``Activation`` layer, or a layer with a fused ``activation`` (a ``Dense``, a convolution:
  its linear part is computed by :func:`~zfkeras.methods.graph.pre_activation` without
  changing the layer), whose function is a softmax, recognized by the function itself
  (``keras.activations.softmax``, ``keras.ops.softmax``, ``tf.nn.softmax``) or by its Python
  name (``"softmax"``, or ``"softmax_v2"`` as ``tf.nn.softmax`` is called);
* a ``Lambda`` layer whose function is one of those (not a ``lambda`` calling one: that is
  the warned case below);

and likewise for ``log_softmax`` (``keras.ops.log_softmax``, ``keras.activations.log_softmax``,
``tf.nn.log_softmax`` alias ``log_softmax_v2``): for a log-softmax head the logits are the
scores *before* it too (the log-softmax shifts each row by a constant that depends on the
whole row, so its class scores are not the logits). When no softmax is found but the model's
outputs on a probe batch are probabilities (non-negative rows summing to 1: a ``Lambda``
softmax, a subclassed head), :func:`pre_softmax` warns once per model, naming the output
layer, instead of silently treating probabilities as logits.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.cache import cached
from zfkeras.methods.checks import BATCH_SIZE
from zfkeras.methods.graph import build, is_graph_model, nodes, pre_activation, trace

__all__ = [
    "ends_in_softmax",
    "logits",
    "logits_model",
    "pre_softmax",
    "probabilities",
    "resolve",
    "softmax_kind",
    "softmax_op",
]

# the softmax functions recognized by identity, then their Python names
_FUNCTIONS = (
    (keras.activations.softmax, "softmax"),
    (keras.ops.softmax, "softmax"),
    (tf.nn.softmax, "softmax"),
    (keras.activations.log_softmax, "log_softmax"),
    (keras.ops.log_softmax, "log_softmax"),
    (tf.nn.log_softmax, "log_softmax"),
)
_NAMES = {"softmax": "softmax", "softmax_v2": "softmax"}
_NAMES.update({"log_softmax": "log_softmax", "log_softmax_v2": "log_softmax"})
_OPS = {"Softmax": "softmax", "LogSoftmax": "log_softmax"}  # layers.Softmax, ops.(log_)softmax


def _function_kind(fn) -> str | None:
    if fn is None:
        return None
    for known, kind in _FUNCTIONS:
        if fn is known:
            return kind
    return _NAMES.get(getattr(fn, "__name__", ""))


def softmax_kind(op) -> str | None:
    """``"softmax"``, ``"log_softmax"`` or ``None``: how the layer or operation ``op`` ends
    (see the module docstring for the forms recognized)."""
    if type(op).__name__ in _OPS:
        return _OPS[type(op).__name__]
    if isinstance(op, keras.layers.Lambda):
        return _function_kind(getattr(op, "function", None))
    return _function_kind(getattr(op, "activation", None))


def _check(model) -> None:
    checks.check_model(model, for_images=False)


def _output_node(model: keras.Model):
    """The leaf node of the traced graph computing the model's (first) output, or None."""
    _, output, _, graph_nodes = nodes(model)
    out = keras.tree.flatten(output)[0]
    for node in reversed(graph_nodes):
        if any(t is out for t in keras.tree.flatten(node.output)):
            return node
    return None


def softmax_op(model: keras.Model):
    """The layer (or ``keras.ops`` operation) whose softmax or log-softmax produces the model's
    output, or ``None`` (see :func:`softmax_kind`)."""
    _check(model)
    node = _output_node(model)
    return node.op if node is not None and softmax_kind(node.op) else None


def ends_in_softmax(model: keras.Model) -> bool:
    """True when the model's output is already a probability: a softmax, not a log-softmax
    (:func:`probabilities` turns log-probabilities into probabilities with a softmax)."""
    op = softmax_op(model)
    return op is not None and softmax_kind(op) == "softmax"


def _rebuilt(model: keras.Model, parts: tuple, op, name: str) -> keras.Model:
    """``model`` as a Functional model named ``name`` calling the same layers, except the op
    ``op`` at the path ``parts`` below it, which gives the scores before its softmax; a nested
    model on the way is rebuilt the same way under its own name, so that layer paths stay."""
    inner: dict = {}

    def call(layer, *args, **kwargs):
        if len(parts) > 1 and layer.name == parts[0] and is_graph_model(layer):
            if "model" not in inner:
                inner["model"] = _rebuilt(layer, parts[1:], op, layer.name)
            return inner["model"](*args, **kwargs)
        if len(parts) == 1 and layer is op:
            if isinstance(op, keras.layers.Activation) or not hasattr(op, "activation"):
                return args[0] if args else kwargs["inputs"]  # the softmax's input
            return pre_activation(op, args, kwargs)  # a fused softmax: the linear part
        return layer(*args, **kwargs)

    def fresh(t):
        return keras.Input(batch_shape=t.shape, dtype=t.dtype, name=t.name)

    if isinstance(model, keras.Sequential):  # one input; model.input needs a call first
        inputs = outputs = fresh(model.inputs[0])
        for layer in model.layers:
            outputs = call(layer, outputs)
    else:
        inputs = keras.tree.map_structure(fresh, model.input)
        outputs = keras.models.clone_model(
            model, input_tensors=inputs, clone_function=lambda layer: layer, call_function=call
        ).outputs
        outputs = outputs[0] if len(outputs) == 1 else outputs
    return build(inputs, outputs, name=name)


def _warn_if_probabilities(model: keras.Model, path: str) -> None:
    """Warn when ``model``'s outputs on a probe batch look like probabilities."""
    if len(model.inputs) != 1 or not keras.backend.is_float_dtype(model.inputs[0].dtype):
        return
    shape = tuple(d or 32 for d in model.inputs[0].shape[1:])
    probe = np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32)
    out = keras.tree.flatten(model(probe, training=False))[0]
    out = np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32")), np.float64)
    if out.ndim < 2 or out.shape[-1] < 2 or (out < 0).any():
        return
    if np.allclose(out.sum(-1), 1.0, atol=1e-2):
        warnings.warn(
            f"model {model.name!r}: its output layer {path!r} is not a softmax that "
            f"pre_softmax recognizes, but its outputs on a probe batch are probabilities "
            f"(non-negative rows summing to 1), so they are taken as the class scores and a "
            f"softmax applied later is applied twice. Pass a model that outputs the logits: "
            f"build it with a linear last layer (e.g. Dense(classes) and a separate "
            f"Activation('softmax') or keras.layers.Softmax, which pre_softmax removes), or "
            f"keras.Model(model.inputs, <the tensor before the softmax>)",
            UserWarning,
            stacklevel=4,
        )


def _without_softmax(model: keras.Model) -> keras.Model:
    node = _output_node(model)
    if node is None or not softmax_kind(node.op):
        _warn_if_probabilities(model, "?" if node is None else node.path)
        return _rebuilt(model, (), None, f"{model.name}_logits")
    return _rebuilt(model, tuple(node.path.split("/")), node.op, f"{model.name}_logits")


def pre_softmax(model: keras.Model) -> keras.Model:
    """A model with the same inputs and weights whose output is the class score before the
    softmax (the logits).

    Works whatever computes the softmax (see the module docstring), also inside a nested
    model; for a log-softmax head it is the scores before the log-softmax. For a model whose
    output is not a softmax the result computes the same output; when that output is
    nevertheless a probability on a probe batch, a ``UserWarning`` (once per model) says so.

    The result is a new Functional model (cached per model, never ``model`` itself) that
    calls the model's own layers (shared weights) and keeps its structure: every layer below
    the softmax has the same name and ``"outer/inner"`` path as in ``model``; a fused softmax
    becomes a layer named ``"<name>_linear"``. Because the layers are shared,
    ``keras.Model(p.inputs, p.get_layer(name).output)`` cannot work on ``p =
    pre_softmax(model)`` (a layer's ``.output`` belongs to the graph of ``model``, where it was
    first called: Keras says "not connected"); ask for sub-models through the graph walk
    instead: ``zfkeras.activation_model(pre_softmax(model), [name, ...])`` returns a model
    with the logits model's input and those layers' outputs.

    Raises:
        TypeError: ``model`` is not a ``keras.Model``.
        ValueError: ``model`` has no defined inputs (build it on ``keras.Input``).
    """
    _check(model)
    nodes(model)  # the input checks, before anything is cached
    return cached(model, ("pre_softmax",), lambda: _without_softmax(model))


def logits(model: keras.Model):
    """``(inputs, logits, entries)``: the traced graph (:func:`~zfkeras.methods.graph.trace`)
    of :func:`pre_softmax`, whose layer paths are the model's. Cached per model."""
    _check(model)
    return cached(model, ("logits",), lambda: trace(pre_softmax(model)))


def _logits_fn(model):
    inputs, scores, _ = logits(model)
    net = build(inputs, scores)  # a traced copy: nothing cached may hold the model itself
    spec = [tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)]
    return net, tf.function(lambda x: net(x, training=False), input_signature=spec)


def logits_model(model: keras.Model) -> keras.Model:
    """The model's class scores before the softmax, as one flat traced copy (cached per
    model); the compiled methods call it inside their ``tf.function``."""
    return cached(model, ("logits_model",), lambda: _logits_fn(model))[0]


def resolve(model, x: np.ndarray, cls: np.ndarray, *, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """``cls`` ``(N,)`` with every -1 replaced by the predicted class of the image of ``x``
    ``(N, H, W, C)`` (one compiled forward pass per batch)."""
    if (cls >= 0).all():
        return cls
    run = cached(model, ("logits_model",), lambda: _logits_fn(model))[1]
    top = np.concatenate(
        [np.argmax(run(tf.constant(x[b])).numpy(), -1) for b in checks.batches(len(x), batch_size)]
    )
    return np.where(cls < 0, top, cls).astype(np.int32)


def probabilities(outputs, is_probability: bool):
    """The one softmax-or-not helper: ``outputs`` (a model's output, ``(N, classes)``) as
    float32 probabilities, as they are when ``is_probability`` (the model ends in a softmax:
    :func:`ends_in_softmax`, asked once outside compiled code) else their softmax over the last
    axis."""
    outputs = tf.cast(outputs, tf.float32)
    return outputs if is_probability else tf.nn.softmax(outputs, -1)
