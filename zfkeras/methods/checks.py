"""One set of argument checks and one progress display for every method.

The same words mean the same things across :mod:`zfkeras.methods`, :mod:`zfkeras.evaluation`
and :mod:`zfkeras.experiments` (CONTRIBUTING.md has the table, checked by
``tests/test_vocabulary.py``): ``model`` (a built, single-input, channels-last ``keras.Model``),
``images`` (always a batch ``(N, H, W, C)`` of model inputs; one image is a batch of one),
``layer`` (a unique layer name or an ``"outer/inner"`` path into nested models), ``channels``
(an int or a sequence of ints), ``location``, ``class_index`` (``None`` = the predicted class,
an int, or one int per image), ``mode`` (``"deconvnet"``, ``"guided"`` or ``"backprop"``),
``input_shape``, and the keyword-only ``batch_size`` (:data:`BATCH_SIZE`), ``verbose``
(:data:`VERBOSE`) and ``seed`` (:data:`SEED`).

Every check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (wrong value) with a
message that starts with the argument's name and says what was expected and what was given;
each argument has one check here (``model``, ``images``, ``layer``, ``class_index``,
``channels``, ``batch_size``, ``verbose``, ``seed``, any other number), so the same mistake
reads the same from every method. The checks of single values (``class_index``, ``channels``,
``batch_size``, ``verbose``, ``seed``, numbers) live in :mod:`zfkeras.methods.arguments`; they,
the batching and the progress bar (:mod:`zfkeras.methods.progress`) are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods.arguments import (
    SEED,
    SEED_MAX,
    batch_size,
    channels,
    class_index,
    number,
    seed,
    verbose,
)
from zfkeras.methods.cache import all_layers, cached
from zfkeras.methods.graph import find, trace
from zfkeras.methods.progress import BATCH_SIZE, VERBOSE, Progress, batches, each, plan, warn_once

__all__ = [
    "BATCH_SIZE",
    "SEED",
    "SEED_MAX",
    "VERBOSE",
    "Progress",
    "batch_size",
    "batches",
    "cached",
    "channels",
    "check_model",
    "class_index",
    "each",
    "feature_layer",
    "images",
    "layer",
    "layer_model",
    "layer_names",
    "number",
    "plan",
    "predicted_classes",
    "prepare",
    "seed",
    "top_level_layer",
    "verbose",
    "warn_once",
]


def check_model(model, argument: str = "model", *, for_images: bool = True) -> keras.Model:
    """A built, single-input ``keras.Model`` taking channels-last images ``(N, H, W, C)``
    (``for_images=False``: any built ``keras.Model``, for the graph tools that take several inputs
    or non-image models). The one check of ``model``."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"{argument} must be a keras.Model, got {type(model).__name__}")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"{argument} must be built on a keras.Input (have defined inputs), got "
            f"an unbuilt {type(model).__name__} {model.name!r}"
        )
    if not for_images:
        return model
    if len(inputs) != 1:
        raise ValueError(f"{argument} must have a single input, got {len(inputs)} inputs")
    if len(inputs[0].shape) != 4:
        raise ValueError(
            f"{argument} must take images (N, H, W, C), got input shape {tuple(inputs[0].shape)}"
        )
    for lay in all_layers(model):
        if getattr(lay, "data_format", "channels_last") == "channels_first":
            raise ValueError(
                f"{argument} must be channels_last, got layer {lay.name!r} with "
                f"data_format='channels_first'"
            )
    return model


def _array(value, argument: str) -> np.ndarray:
    try:
        return (
            value.numpy().astype(np.float32)
            if tf.is_tensor(value)
            else np.asarray(value, np.float32)
        )
    except (TypeError, ValueError):
        raise TypeError(
            f"{argument} must be an array of numbers, got {type(value).__name__}"
        ) from None


def _finite(x: np.ndarray, argument: str) -> np.ndarray:
    bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
    if bad:
        raise ValueError(f"{argument} must be finite, got {bad} NaN or inf values")
    return x


def _dims(model) -> tuple:
    return tuple(model.inputs[0].shape[1:])


def _fits(want: tuple, got: tuple) -> bool:
    return len(want) == len(got) and all(w is None or w == g for w, g in zip(want, got))


def images(model: keras.Model, value, argument: str = "images") -> np.ndarray:
    """``value`` as a float32 batch ``(N, H, W, C)`` matching ``model``'s input (one image is a
    batch of one, ``(1, H, W, C)``). Raises ``ValueError`` for a wrong shape, an empty batch
    or NaN/inf values, ``TypeError`` for something that is not numbers."""
    x = _array(value, argument)
    want = _dims(model)
    dims = ", ".join(map(str, want))
    if x.ndim != len(want) + 1 or not _fits(want, x.shape[1:]):
        hint = " (one image is a batch of one: images[None])" if x.ndim == len(want) else ""
        raise ValueError(
            f"{argument} must have shape (N, {dims}), got shape {np.shape(value)}{hint}"
        )
    if len(x) == 0:
        raise ValueError(f"{argument} must hold at least one image, got shape {x.shape}")
    return _finite(x, argument)


def _traced(model, size=None):
    key = ("trace", None if size is None else tuple(size))
    return cached(model, key, lambda: trace(model, size))


def layer(model: keras.Model, name, argument: str = "layer", size=None):
    """Look up a layer by a unique name or an ``"outer/inner"`` path (nested models too).

    Returns ``(inputs, path, layer, output)``: the traced model's input (at ``size`` =
    ``(rows, cols, channels)`` when given), the layer's full path, the layer and its output on
    those inputs. Raises ``TypeError`` for a non-str name, ``ValueError`` for an unknown or
    ambiguous one (the message lists the layers)."""
    inputs, _, entries = _traced(model, size)
    path, op, out = find(entries, name, argument)
    return inputs, path, op, out


def feature_layer(model: keras.Model, name, argument: str = "layer", size=None):
    """:func:`layer` for a layer that must output feature maps ``(N, H, W, C)``."""
    inputs, path, op, out = layer(model, name, argument, size)
    if len(out.shape) != 4:
        raise ValueError(
            f"{argument} must have a 4-D (N, H, W, C) output, got {name!r} with "
            f"output shape {tuple(out.shape)}"
        )
    return inputs, path, op, out


def layer_model(
    model: keras.Model, names: Sequence[str], argument: str = "layers", output: bool = False
) -> keras.Model:
    """A model (cached, sharing ``model``'s weights) whose outputs are the named layers'
    outputs, in order, followed by the model's output when ``output``. Names are checked as in
    :func:`layer` (nested paths allowed)."""
    names = tuple(names)

    def make():
        inputs, out, entries = _traced(model)
        outs = [find(entries, n, argument)[2] for n in names] + ([out] if output else [])
        return keras.Model(inputs, outs)

    for n in names:
        layer(model, n, argument)
    return cached(model, ("layer_model", names, bool(output)), make)


def layer_names(model: keras.Model, names, argument: str = "layers") -> list[str]:
    """A non-empty sequence of layer names (or paths), each found in ``model``."""
    if isinstance(names, str) or not isinstance(names, (Sequence, np.ndarray)):
        raise TypeError(
            f"{argument} must be a sequence of layer names, got {type(names).__name__} {names!r}"
        )
    if len(names) == 0:
        raise ValueError(f"{argument} must name at least one layer, got {names!r}")
    for n in names:
        layer(model, n, argument)
    return list(names)


def top_level_layer(model: keras.Model, name, argument: str = "layer") -> str:
    """A layer of ``model`` itself (not inside a nested model), for functions that copy or
    rebuild the model; same errors as :func:`layer`."""
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a layer name (str), got {type(name).__name__}")
    names = [lay.name for lay in model.layers]
    if name not in names:
        raise ValueError(
            f"{argument} must name a layer of the model, got {name!r}; layers: "
            f"{', '.join(names[:40])}{' ...' if len(names) > 40 else ''}"
        )
    return name


# the checks under other names, for functions whose parameters carry the checks' names
_images, _batch_size, _class_index, _verbose = images, batch_size, class_index, verbose


def predicted_classes(
    model: keras.Model, images, class_index=None, *, batch_size: int = BATCH_SIZE
) -> np.ndarray:
    """``(N,)`` int32: ``class_index`` broadcast to the images, or the model's top class per
    image when it is ``None``. Errors as :func:`class_index`."""
    x = _images(model, images)
    batch_size = _batch_size(batch_size)
    c = _class_index(class_index, len(x), int(model.outputs[0].shape[-1]))
    if class_index is None:
        c = np.argmax(model.predict(x, batch_size=batch_size, verbose=0), -1).astype(np.int32)
    return c


def prepare(
    model, images, class_index, *, layer=None, batch_size: int = BATCH_SIZE, verbose=VERBOSE
):
    """The checks every attribution method starts with: ``model``, ``batch_size``,
    ``verbose``, ``images``, ``layer`` (a feature layer, when given) and ``class_index``.
    Returns ``(x, cls)``: a float32 batch ``(N, H, W, C)`` and ``(N,)`` int32 classes (-1 =
    the predicted class, resolved later)."""
    check_model(model)
    _batch_size(batch_size)
    _verbose(verbose)
    x = _images(model, images)
    if layer is not None:
        feature_layer(model, layer)
    return x, _class_index(class_index, len(x), int(model.outputs[0].shape[-1]))
