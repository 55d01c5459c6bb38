"""The two ways down of the deconvnet and their compiled passes (used by
:class:`zfkeras.methods.deconvnet.projection.Deconvnet`, which caches them per model).

:func:`route` finds the way down from a layer: the chain path's steps
(:mod:`zfkeras.methods.deconvnet.chain`) where the layers allow it, else the graph path (the
model cut at the layer, run by the one graph walk with the ReLU rules of
:mod:`zfkeras.methods.deconvnet.rules` and differentiated by ``tf.GradientTape``).
:func:`forward` runs the way up; :func:`compiled` makes the ``tf.function`` that sends one unit
per image, or any signal, down.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import tensorflow as tf

from zfkeras.methods.deconvnet.chain import Step, steps_from
from zfkeras.methods.deconvnet.rules import relu_hook
from zfkeras.methods.deconvnet.units import select
from zfkeras.methods.graph import Located, build, locate, walk

__all__ = ["Route", "compiled", "forward", "route"]


class Route(NamedTuple):
    found: Located
    steps: list[Step] | None  # the chain path's steps, None on the graph path
    sub: keras.Model  # the model cut at the layer (the graph path runs it)


def route(model: keras.Model, layer, *, switches: str, way: str) -> Route:
    """The way down from ``layer``: the chain path's steps where ``way`` allows, else the
    graph path (``steps=None``), and the model cut at the layer."""
    found = locate(model, layer)
    steps = None
    if way != "graph":
        try:
            steps = steps_from(found, switches)
        except ValueError as err:
            if way == "chain":
                raise
            if switches == "indices":
                raise ValueError(
                    f"{err} (switches='indices' needs the chain path; "
                    f"switches='recompute' works on any graph)"
                ) from err
    elif switches == "indices":
        raise ValueError(
            "switches='indices' needs the chain path; use switches='recompute' with way='graph'"
        )
    return Route(found, steps, build(found.input, found.output, name=f"{model.name}_upto"))


def forward(route: Route, mode: str | None):
    """``images -> (the layer's activations, the chain's records or None)`` on the route's
    path, every ReLU crossed with ``mode``'s rule on the graph path (``None``: plain). Holds
    no reference to the model: it is part of cached passes."""
    if route.steps is None:
        hook = None if mode is None else relu_hook(mode)
        return lambda images: (walk(route.sub, images, hook), None)

    def up(images):
        records, x = [], images
        for step in route.steps:
            x, rec = step.forward(x)
            records.append(rec)
        return x, records

    return up


def compiled(route: Route, mode: str, kind: str, image_shape: tuple, out_shape=None):
    """The ``tf.function`` of one projection: ``kind="project"``: ``(images, channel, row,
    col) -> float32 images``, the selected unit of each image sent down; ``"units"``: the same
    arguments -> the selected units ``(channel, row, col, value)``; ``"down"``: ``(images,
    signal) -> float32 images``, any ``signal`` of the layer's ``out_shape`` ``(rows, cols,
    channels)`` sent down. ``image_shape``: ``(H, W, C)``."""
    forward_of = forward(route, None if kind == "units" else mode)

    def down(images, signal_of):
        if route.steps is None:  # the graph path: the gradient with the ReLU rules
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(images)
                act, _ = forward_of(images)
            return tape.gradient(
                act,
                images,
                output_gradients=signal_of(act),
                unconnected_gradients=tf.UnconnectedGradients.ZERO,
            )
        act, records = forward_of(images)
        signal = signal_of(act)
        for step, rec in zip(reversed(route.steps), reversed(records)):
            signal = step.down(signal, rec, mode)
        return signal

    def project(images, channel, row, col):
        if kind == "units":
            return select(tf.cast(forward_of(images)[0], tf.float32), channel, row, col)[0]
        signal = down(images, lambda act: select(act, channel, row, col)[1])
        return tf.cast(signal, tf.float32)  # float32 under mixed precision too

    def down_signal(images, signal):
        return tf.cast(down(images, lambda act: tf.cast(signal, act.dtype)), tf.float32)

    x_spec = tf.TensorSpec((None, *image_shape), tf.float32)
    if kind == "down":
        fn, spec = down_signal, [x_spec, tf.TensorSpec((None, *out_shape), tf.float32)]
    else:
        fn, spec = project, [x_spec] + [tf.TensorSpec((None,), tf.int32)] * 3
    # one trace per signature; Python-only control flow: no AutoGraph needed
    return tf.function(fn, input_signature=spec, autograph=False)
