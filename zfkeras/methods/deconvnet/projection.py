"""The deconvnet of paper section 2.1 (Fig. 1) on any Keras CNN, and its two relatives:
backpropagation (the gradient) and guided backpropagation.

``Deconvnet(model).project(images, "conv5")`` keeps one activation of ``conv5`` per image, sets
every other activation of that layer to zero and sends the signal down to pixel space. The three
modes differ only at the ReLUs (:mod:`.rules`): ``"deconvnet"`` rectifies the signal,
``"backprop"`` masks it with the forward input, ``"guided"`` does both. There are two ways down,
with the same result wherever both apply (tested to float tolerance):

**The chain path** (the course's Fig. 1 walk-through) for models whose layers, from the input
to the chosen layer, form a chain of these kinds; each step is one of the custom layers of
:mod:`zfkeras.methods.deconvnet.layers`:

==========================  =======================================================
forward layer               top-down step
==========================  =======================================================
``Conv2D`` (relu or none)   :class:`.layers.Rectification` (if relu), then
                            :class:`.layers.TiedConv2DTranspose`
``ReLU`` / ``Activation``   :class:`.layers.Rectification` (linear: nothing)
``MaxPooling2D``            unpool: each value back at its window's maximum (with
                            ``switches="indices"``: :class:`.layers.Unpooling2D`
                            and :class:`.layers.MaxPoolingWithSwitches`)
``ZeroPadding2D``           crop the padding
``ContrastNormalization``   the normalization's own gradient (see below)
``BatchNormalization``      times ``gamma / sqrt(var + eps)`` (its inference-time slope)
``Dropout``, ``InputLayer`` nothing (identity at inference)
==========================  =======================================================

**The graph path** for any other single-input CNN (residual ``Add``, ``Concatenate``,
squeeze-and-excitation ``Multiply``, depthwise/separable convolutions, ReLU6, swish, ...): the
model runs with the one graph walk of :mod:`zfkeras.methods.graph`, every ReLU replaced by a
``tf.custom_gradient`` ReLU whose backward pass is the mode's rule (a fused
``activation="relu"`` is split off its layer), and the projection is the ``tf.GradientTape``
gradient of the kept activation with respect to the input. So max pooling routes the signal
through its switches (its gradient does exactly that), and every linear or elementwise layer
passes it by its own gradient at the forward point. Non-ReLU nonlinearities (swish, gelu,
sigmoid, hard-swish, layer normalization) have no deconvnet rule in the paper: they too pass
the signal by their gradient, in every mode; :meth:`Deconvnet.describe` lists which layers were
crossed which way. ReLU6 / ``max_value`` ReLUs: see :mod:`zfkeras.methods.deconvnet.rules`.

Contrast normalization: the paper's deconvnet has no step for it; both paths send the signal
through its gradient (its exact linearization at the forward input) in every mode, so that
``"backprop"`` is the true gradient. With ZFNet's constants (k=2, alpha=1e-4) that gradient is
almost a plain scaling by ``2**-0.75``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import checks, ops
from zfkeras.methods.deconvnet.chain import Step
from zfkeras.methods.deconvnet.passes import Route, compiled, forward, route
from zfkeras.methods.deconvnet.rules import MODES, STEP_TEXT, Crossing, crossing
from zfkeras.methods.deconvnet.units import Units, unit_arrays

__all__ = ["MODES", "WAYS", "Deconvnet"]

WAYS = ("auto", "chain", "graph")


class Deconvnet:
    """Top-down projections of single activations of a Keras CNN (paper section 2.1, Fig. 1).

    Args:
        model: a single-input ``keras.Model`` (Sequential, Functional, nested models) built
            from convolutions, pooling, normalization, activations and merges (every
            ``keras.applications`` CNN). Layers above the chosen layer are never visited. The
            model is not changed: its weights and predictions are the same before and after.
        switches: how max pooling records its switches on the chain path. ``"recompute"``
            (default): each value goes back to its window's maximum, located again by
            TensorFlow's max-pooling gradient kernel. ``"indices"``: as index tensors, with
            :class:`.layers.MaxPoolingWithSwitches` on the way up and
            :class:`.layers.Unpooling2D` on the way down, exactly as drawn in
            paper Fig. 1 (chain path only; about 1.4x slower on CPU). Both put every value at
            the same location (they can differ only where a window holds equal maxima).
        way: the way down, one of :data:`WAYS`: ``"auto"`` (default: the chain path where the
            layers up to the chosen one form a chain of the module docstring's kinds, else the
            graph path), ``"chain"`` or ``"graph"``.

    The routes, shapes and compiled passes live in the one cache of the model
    (:mod:`zfkeras.methods.cache`): shared by every ``Deconvnet`` of the model with the same
    ``switches`` and ``way``, rebuilt when the model changes, dropped by
    ``zfkeras.clear_cache(model)``.

    Raises:
        TypeError: ``model`` is not a ``keras.Model``.
        ValueError: bad ``switches`` or ``way``; several inputs. When a layer is chosen: an
            unknown layer, ``channels_first`` layers, or (``way="chain"`` or
            ``switches="indices"``) a layer the chain path does not support, named.
    """

    def __init__(self, model: keras.Model, switches: str = "recompute", way: str = "auto"):
        checks.check_model(model)
        if switches not in ("indices", "recompute"):
            raise ValueError(f"switches must be 'indices' or 'recompute', got {switches!r}")
        if way not in WAYS:
            raise ValueError(f"way must be one of {WAYS}, got {way!r}")
        self.model, self.switches, self.way = model, switches, way

    # ------------------------------------------------------------------ the way down
    def _cached(self, key: tuple, make):
        """The one cache (:mod:`zfkeras.methods.cache`), per model: routes, shapes and
        compiled passes are shared by every ``Deconvnet`` of the model with the same
        ``switches`` and ``way``, and dropped when the model changes or by
        ``zfkeras.clear_cache(model)``. ``make`` must not reference ``self``."""
        return checks.cached(self.model, ("deconvnet", self.switches, self.way, *key), make)

    def _route(self, layer) -> Route:
        name = layer.name if isinstance(layer, keras.layers.Layer) else layer
        model, switches, way = self.model, self.switches, self.way

        def make():
            return route(model, layer, switches=switches, way=way)

        return self._cached(("route", name), make)

    def steps(self, layer: str | keras.layers.Layer) -> list[Step]:
        """The chain path's steps from the input up to ``layer`` (inclusive). Raises
        ``ValueError`` where the projection takes the graph path (see :meth:`describe`)."""
        route = self._route(layer)
        if route.steps is None:
            raise ValueError(
                f"layer {route.found.path!r} is projected on the graph path, "
                f"which has no steps: see describe()"
            )
        return route.steps

    def way_down(self, layer: str | keras.layers.Layer) -> list[tuple[str, str, str]]:
        """``(layer name, layer type, top-down step)`` from the chosen layer down to the input,
        in the order the signal goes (on the graph path, names are paths into nested
        models)."""
        route = self._route(layer)
        if route.steps is not None:
            return [
                (s.layer.name, type(s.layer).__name__, s.describe()) for s in reversed(route.steps)
            ]
        return [
            (n.path, type(n.op).__name__, STEP_TEXT[ops.kind(n.op)])
            for n in reversed(route.found.nodes)
        ]

    def describe(self, layer: str | keras.layers.Layer) -> Crossing:
        """Which layers below ``layer`` a projection crosses with a ReLU rule, through
        switches, and by gradient (linear or non-ReLU nonlinearity): a :class:`Crossing`."""
        route = self._route(layer)
        return crossing(route.found, "graph" if route.steps is None else "chain")

    def _out_shape(self, route: Route, image_shape: tuple) -> tuple[int, int, int]:
        forward_of = forward(route, None)

        def make():
            x, _ = forward_of(tf.zeros((1, *image_shape), tf.float32))
            if x.shape.rank != 4:
                raise ValueError(
                    f"layer {route.found.path!r} must output (batch, rows, cols, "
                    f"channels), got shape {tuple(x.shape)}"
                )
            return tuple(int(d) for d in x.shape[1:])

        return self._cached(("shape", route.found.path, tuple(image_shape)), make)

    # ------------------------------------------------------------------ compiled passes
    def _function(self, route: Route, mode: str, kind: str, image_shape: tuple):
        out = self._out_shape(route, image_shape) if kind == "down" else None
        key = ("function", route.found.path, mode, kind, tuple(image_shape))
        return self._cached(key, lambda: compiled(route, mode, kind, image_shape, out))

    # ------------------------------------------------------------------ checks
    def _images(self, images) -> np.ndarray:
        return checks.images(self.model, images)

    def _units(self, route, n, channels, location, image_shape):
        return unit_arrays(
            self._out_shape(route, image_shape), route.found.path, n, channels, location
        )

    @staticmethod
    def _mode(mode):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")

    # ------------------------------------------------------------------ public API
    def project(
        self,
        images,
        layer: str | keras.layers.Layer,
        *,
        channels: int | Sequence[int] | None = None,
        location: Sequence[int] | None = None,
        mode: str = "deconvnet",
        batch_size: int = checks.BATCH_SIZE,
        verbose: int | str = checks.VERBOSE,
    ) -> np.ndarray:
        """Project one activation of ``layer`` per image down to pixel space.

        For each image, the selected activation keeps its value, every other activation of
        ``layer`` is set to zero, and the result is sent down through the layers below.

        Args:
            images: model inputs ``(N, rows, cols, channels)``.
            layer: a layer name, an ``"outer/inner"`` path into nested models, or the layer.
            channels: ``None`` (per image, the channel holding the layer's strongest
                activation), an int, or one int per image.
            location: ``None`` (that channel's strongest position), a ``(row, col)`` pair, or
                an ``(N, 2)`` array of pairs.
            mode: ``"deconvnet"`` (paper: ReLU on the downward signal; the default here and
                in :func:`zfkeras.methods.cam.class_projection`), ``"backprop"`` (the
                gradient: ``value * d activation / d images``) or ``"guided"`` (both masks).
            batch_size: images per compiled pass (memory bound; all units of a batch go down
                together).
            verbose: ``"auto"`` (one progress bar when the run looks longer than a few
                seconds, none under CI), 0 or 1.

        Returns:
            float32 array shaped like ``images``. Linear in the selected activation's value.

        Raises:
            ValueError: bad ``images`` (rank, size, NaN), ``mode``, ``channels`` or ``location``
                (out of range, wrong length), or an unsupported ``layer``.
        """
        self._mode(mode)
        x = self._images(images)
        batch_size = checks.batch_size(batch_size)
        verbose = checks.verbose(verbose)
        route = self._route(layer)
        ch, row, col = self._units(route, len(x), channels, location, x.shape[1:])
        fn = self._function(route, mode, "project", x.shape[1:])
        out = [
            fn(x[b], ch[b], row[b], col[b]).numpy()
            for b in checks.each(checks.batches(len(x), batch_size), verbose=verbose)
        ]
        return np.concatenate(out)

    def units(
        self,
        images,
        layer: str | keras.layers.Layer,
        *,
        channels: int | Sequence[int] | None = None,
        location: Sequence[int] | None = None,
    ) -> Units:
        """The activations :meth:`project` selects, without projecting them: a
        :class:`~zfkeras.methods.deconvnet.units.Units` (``channel``, ``row``, ``col``: int
        arrays ``(N,)``; ``value``: float32 ``(N,)``)."""
        x = self._images(images)
        route = self._route(layer)
        ch, row, col = self._units(route, len(x), channels, location, x.shape[1:])
        out = self._function(route, "deconvnet", "units", x.shape[1:])(x, ch, row, col)
        c, r, k, v = (np.asarray(t) for t in out)
        return Units(c, r, k, v.astype(np.float32))

    def down(
        self, images, layer: str | keras.layers.Layer, *, signal, mode: str = "deconvnet"
    ) -> np.ndarray:
        """Send any top signal down from ``layer``: ``signal`` has the layer's output shape
        ``(N, rows', cols', channels')`` (for instance a whole feature map); the switches and
        ReLU masks come from the forward pass of ``images``. Returns an array shaped like
        ``images``; linear in ``signal`` for ``"backprop"``, positively homogeneous for the
        other modes."""
        self._mode(mode)
        x = self._images(images)
        route = self._route(layer)
        want = (len(x), *self._out_shape(route, x.shape[1:]))
        s = np.asarray(signal, np.float32)
        if s.shape != want:
            raise ValueError(
                f"signal must have shape {want} for layer {route.found.path!r}, got {s.shape}"
            )
        return self._function(route, mode, "down", x.shape[1:])(x, s).numpy()
