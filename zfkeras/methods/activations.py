"""Intermediate activations: a multi-output model over any Keras CNN.

Course material beside the paper ("intermediate activations"):
a model whose outputs are the outputs of several layers; every channel of each is drawn as an
image ("what each filter sees") by :func:`zfkeras.figures.channel_grids`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from zfkeras.methods import checks
from zfkeras.methods.graph import build, find, short_names, trace
from zfkeras.methods.ops import CONV, POOL


def activation_model(model: keras.Model, layers: Sequence[str] | str | None = None) -> keras.Model:
    """A multi-output model returning the outputs of the named layers.

    Args:
        model: a built Sequential, Functional or nested Keras model.
        layers: layer names (or paths ``"outer/inner"`` into nested models); default: every
            convolution and pooling layer with a 4-D output, in order.

    Returns:
        A ``keras.Model`` with the model's input(s) and a dict output ``{name: (N, ...)}``
        (keys in the order given); it shares the model's weights.

    Raises:
        TypeError: ``model`` is not a Keras model or ``layers`` is not names.
        ValueError: a name is unknown or ambiguous, or no layer was selected.
    """
    inputs, _, entries = trace(checks.check_model(model, for_images=False))
    if layers is None:
        layers = default_layers(model)
        if not layers:
            raise ValueError(
                f"model {model.name!r} has no convolution or pooling layer with a "
                f"4-D output: pass layers=[...] explicitly"
            )
    elif isinstance(layers, str):
        layers = [layers]
    elif not isinstance(layers, Sequence) or not layers:
        raise TypeError(f"layers must be a non-empty list of layer names or None, got {layers!r}")
    outputs = {name: find(entries, name, "layers")[2] for name in layers}
    return build(inputs, outputs, name=f"{model.name}_activations")


def default_layers(model: keras.Model) -> list[str]:
    """Names of every convolution and pooling layer with an image-shaped (4-D) output, in the
    order they run (nested models included)."""
    _, _, entries = trace(checks.check_model(model, for_images=False))
    return [
        short
        for short, (_, op, out) in zip(short_names(entries), entries)
        if isinstance(op, CONV + POOL) and len(out.shape) == 4
    ]
