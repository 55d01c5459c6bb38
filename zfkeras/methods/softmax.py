"""The class score before the softmax, for any Keras classifier, and the one softmax test.

Grad-CAM, the class-score projections and class-score ascent need the score *before* the
softmax (the logits); occlusion, deletion/insertion and invariance need probabilities. The
softmax is found with the one graph walk (:mod:`zfkeras.methods.graph`): the op that computes
the model's output, also inside nested models, is a softmax when it is a ``Softmax`` layer, an
``Activation("softmax")``, ``keras.ops.softmax`` or a layer with ``activation="softmax"`` (a
``Dense`` or a convolution, whose linear part :func:`~zfkeras.methods.graph.pre_activation`
computes without changing the layer).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.cache import cached
from zfkeras.methods.graph import build, nodes, pre_activation

__all__ = ["ends_in_softmax", "logits", "pre_softmax", "probabilities", "softmax_op"]


def _is_softmax(op) -> bool:
    if type(op).__name__ == "Softmax":
        return True
    return getattr(getattr(op, "activation", None), "__name__", "") == "softmax"


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
    """The layer (or ``keras.ops.softmax`` operation) whose softmax produces the model's output,
    or ``None`` when the output is not a softmax."""
    _check(model)
    node = _output_node(model)
    return node.op if node is not None and _is_softmax(node.op) else None


def ends_in_softmax(model: keras.Model) -> bool:
    """True when the model's output is already a probability (see :func:`softmax_op`)."""
    return softmax_op(model) is not None


def logits(model: keras.Model):
    """``(inputs, logits, entries)``: the traced graph of ``model`` (:func:`~zfkeras.methods.
    graph.trace`, layer paths as in the model) and the class score before its softmax in it
    (the output itself when the model does not end in a softmax). Cached per model."""
    _check(model)

    def make():
        inputs, output, entries, _ = nodes(model)
        node = _output_node(model)
        if node is None or not _is_softmax(node.op):
            return inputs, output, entries
        x = node.inputs[0]
        if isinstance(node.op, keras.layers.Activation) or not hasattr(node.op, "activation"):
            return inputs, x, entries  # Activation("softmax"), Softmax or keras.ops.softmax
        return inputs, pre_activation(node.op, (x,), {}), entries

    return cached(model, ("logits",), make)


def pre_softmax(model: keras.Model) -> keras.Model:
    """A model with the same inputs and weights whose output is the class score before the
    softmax (the logits).

    Works whatever computes the softmax (see :func:`softmax_op`), also inside a nested model.
    For a model whose output is not a softmax the result computes the same output. The result
    is a new model (a traced copy sharing the layers and weights), never ``model`` itself.

    Raises:
        TypeError: ``model`` is not a ``keras.Model``.
        ValueError: ``model`` has no defined inputs (build it on ``keras.Input``).
    """
    inputs, scores, _ = logits(model)
    return build(inputs, scores, name=f"{model.name}_logits")


def probabilities(outputs, is_probability: bool):
    """The one softmax-or-not helper: ``outputs`` (a model's output, ``(N, classes)``) as
    float32 probabilities, as they are when ``is_probability`` (the model ends in a softmax:
    :func:`ends_in_softmax`, asked once outside compiled code) else their softmax over the last
    axis."""
    outputs = tf.cast(outputs, tf.float32)
    return outputs if is_probability else tf.nn.softmax(outputs, -1)
