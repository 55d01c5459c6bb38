"""The deconvnet of paper section 2.1 (Fig. 1) on any chain-shaped Keras CNN, and its two
relatives: backpropagation (the gradient) and guided backpropagation.

``Deconvnet(model).project(images, "conv5")`` keeps one activation of ``conv5`` per image, sets
every other activation of that layer to zero and sends the signal down to pixel space through
the model's own layers, in reverse, with the custom layers of :mod:`zfkeras.layers`:

==========================  =======================================================
forward layer               top-down step
==========================  =======================================================
``Conv2D`` (relu or none)   :class:`~zfkeras.layers.Rectification` (if relu), then
                            :class:`~zfkeras.layers.TiedConv2DTranspose`
``ReLU`` / ``Activation``   :class:`~zfkeras.layers.Rectification` (``linear``: nothing)
``MaxPooling2D``            unpool: each value back at its window's maximum (with
                            ``switches="indices"``: :class:`~zfkeras.layers.Unpooling2D`
                            and :class:`~zfkeras.layers.MaxPoolingWithSwitches`)
``ZeroPadding2D``           crop the padding
``ContrastNormalization``   the normalization's own gradient (see below)
``BatchNormalization``      times ``gamma / sqrt(var + eps)`` (its inference-time slope)
``Dropout``, ``InputLayer`` nothing (identity at inference)
==========================  =======================================================

The three modes differ only in the :class:`~zfkeras.layers.Rectification` rule. Contrast
normalization: the paper's deconvnet has no step for it; we send the signal through the
normalization's gradient (its exact linearization at the forward input) in every mode, so that
``"backprop"`` is the true gradient and the three modes share everything but the ReLU rule, as
the course text says. With ZFNet's constants (k=2, alpha=1e-4) that gradient is almost a plain
scaling by ``2**-0.75``, so for display it is the same as skipping the layer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods.chain import Step, path_to
from zfkeras.models.layers import RULES

MODES = RULES


@contextlib.contextmanager
def _quiet_retracing():
    """Every (layer, mode, batch shape) compiles once by design; TensorFlow's "frequent
    retracing" warning would count those first traces as retraces."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


class Deconvnet:
    """Top-down projections of single activations of a Keras CNN (paper section 2.1, Fig. 1).

    Args:
        model: a ``keras.Model`` (Sequential, functional, or with models nested inside) whose
            layers, from its input to the layer you project, form a chain of the kinds listed
            in the module docstring. Layers above the chosen layer (``Flatten``, ``Dense``, ...)
            are never visited. The model is not changed: its weights and predictions are the
            same before and after.
        switches: how max pooling records its switches. ``"recompute"`` (default): the
            pooling input is recorded and each value goes back to its window's maximum,
            located again by TensorFlow's max-pooling gradient kernel on the way down.
            ``"indices"``: as index tensors, with
            :class:`~zfkeras.layers.MaxPoolingWithSwitches` on the way up and
            :class:`~zfkeras.layers.Unpooling2D` on the way down, exactly as drawn in paper
            Fig. 1. Both put every value at the same location (tested; they can differ only
            where a window holds several equal maxima); ``"indices"`` is about 1.4x slower on
            CPU, where TensorFlow's argmax pooling kernel is slow.

    Raises:
        TypeError: ``model`` is not a ``keras.Model``.
        ValueError: the model has several inputs (checked here); a layer of another kind lies
            between the input and the chosen layer (checked when a layer is chosen, with the
            layer's name and type in the message).
    """

    def __init__(self, model: keras.Model, switches: str = "recompute"):
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
        if switches not in ("indices", "recompute"):
            raise ValueError(f"switches must be 'indices' or 'recompute', got {switches!r}")
        self.switches = switches
        if len(model.inputs) != 1:
            raise ValueError(f"model must have one input, got {len(model.inputs)}")
        self.model = model
        self._steps: dict[str, list[Step]] = {}
        self._fns: dict[tuple, tf.types.experimental.PolymorphicFunction] = {}
        self._shapes: dict[tuple, tuple[int, int, int]] = {}

    # ------------------------------------------------------------------ the path
    def steps(self, layer: str | keras.layers.Layer) -> list[Step]:
        """The forward layers from the input up to ``layer`` (inclusive), each with its top-down
        step (see :meth:`path`). Raises ``ValueError`` for an unknown or unsupported layer."""
        name = layer.name if isinstance(layer, keras.layers.Layer) else layer
        if not isinstance(name, str):
            raise TypeError(f"layer must be a layer name or a keras layer, got {layer!r}")
        if name not in self._steps:
            self._steps[name] = path_to(self.model, name, self.switches)
        return self._steps[name]

    def path(self, layer: str | keras.layers.Layer) -> list[tuple[str, str, str]]:
        """``(layer name, layer type, top-down step)`` from the chosen layer down to the input,
        in the order the signal goes."""
        return [(s.layer.name, type(s.layer).__name__, s.describe())
                for s in reversed(self.steps(layer))]

    def _out_shape(self, layer: str, image_shape: tuple) -> tuple[int, int, int]:
        key = (layer, image_shape)
        if key not in self._shapes:
            x = tf.zeros((1, *image_shape), tf.float32)
            for step in self.steps(layer):
                x, _ = step.forward(x)
            if x.shape.rank != 4:
                raise ValueError(f"layer {layer!r} must output (batch, rows, cols, channels), "
                                 f"got shape {tuple(x.shape)}")
            self._shapes[key] = tuple(int(d) for d in x.shape[1:])
        return self._shapes[key]

    # ------------------------------------------------------------------ compiled passes
    def _function(self, layer: str, mode: str, kind: str):
        key = (layer, mode, kind)
        if key not in self._fns:
            steps = self.steps(layer)

            def forward(images):
                records = []
                x = images
                for step in steps:
                    x, rec = step.forward(x)
                    records.append(rec)
                return x, records

            def down(signal, records):
                for step, rec in zip(reversed(steps), reversed(records)):
                    signal = step.down(signal, rec, mode)
                return signal

            def project(images, channel, row, col):
                act, records = forward(images)
                n = tf.shape(act)[0]
                best = tf.argmax(tf.reduce_max(act, axis=(1, 2)), -1, output_type=tf.int32)
                channel = tf.where(channel >= 0, channel, best)
                fmap = tf.gather(act, channel, axis=3, batch_dims=1)  # (n, rows, cols)
                width = tf.shape(fmap)[2]
                pos = tf.argmax(tf.reshape(fmap, [n, -1]), -1, output_type=tf.int32)
                row = tf.where(row >= 0, row, pos // width)
                col = tf.where(col >= 0, col, pos % width)
                index = tf.stack([tf.range(n), row, col, channel], axis=1)
                value = tf.gather_nd(act, index)
                signal = tf.scatter_nd(index, value, tf.shape(act))
                if kind == "units":
                    return channel, row, col, value
                return down(signal, records)

            def down_signal(images, signal):
                _, records = forward(images)
                return down(signal, records)

            fn = down_signal if kind == "down" else project
            # Python-only control flow (static loops over layers): no AutoGraph needed
            self._fns[key] = tf.function(fn, reduce_retracing=True, autograph=False)
        return self._fns[key]

    # ------------------------------------------------------------------ checks
    def _images(self, images) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        if x.ndim != 4:
            raise ValueError(f"images must be (batch, rows, cols, channels), got shape "
                             f"{x.shape}")
        want = tuple(self.model.inputs[0].shape[1:])
        if any(w is not None and w != g for w, g in zip(want, x.shape[1:])):
            raise ValueError(f"images must be (batch, {', '.join(map(str, want))}) for this "
                             f"model, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("images must be finite, got NaN or inf values")
        return x

    def _units(self, layer, n, channel, location, image_shape):
        rows, cols, chans = self._out_shape(layer, image_shape)
        if channel is None:
            ch = np.full(n, -1, np.int32)
        else:
            ch = np.asarray(channel)
            if ch.ndim == 0:
                ch = np.full(n, ch)
            if ch.shape != (n,) or not np.issubdtype(ch.dtype, np.integer):
                raise ValueError(f"channel must be None, an int or one int per image ({n}), got "
                                 f"{channel!r}")
            if ch.min() < 0 or ch.max() >= chans:
                raise ValueError(f"channel must be in [0, {chans}) for layer {layer!r}, got "
                                 f"{channel!r}")
        if location is None:
            loc = np.full((n, 2), -1, np.int32)
        else:
            loc = np.asarray(location)
            if loc.shape == (2,):
                loc = np.broadcast_to(loc, (n, 2))
            if loc.shape != (n, 2) or not np.issubdtype(loc.dtype, np.integer):
                raise ValueError(f"location must be None, a (row, col) pair or one pair per "
                                 f"image ({n}), got {location!r}")
            if loc.min() < 0 or (loc[:, 0] >= rows).any() or (loc[:, 1] >= cols).any():
                raise ValueError(f"location must be inside the {rows}x{cols} map of layer "
                                 f"{layer!r}, got {location!r}")
        return ch.astype(np.int32), loc[:, 0].astype(np.int32), loc[:, 1].astype(np.int32)

    @staticmethod
    def _mode(mode):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")

    # ------------------------------------------------------------------ public API
    def project(self, images, layer: str | keras.layers.Layer,
                channel: int | Sequence[int] | None = None,
                location: Sequence[int] | None = None, mode: str = "deconvnet",
                batch_size: int = 64) -> np.ndarray:
        """Project one activation of ``layer`` per image down to pixel space.

        For each image, the selected activation keeps its value, every other activation of
        ``layer`` is set to zero, and the result is sent down through the layers below.

        Args:
            images: model inputs ``(N, rows, cols, channels)``.
            layer: name (searched inside nested models too) or layer object.
            channel: ``None`` (per image, the channel holding the layer's strongest
                activation), an int, or one int per image.
            location: ``None`` (that channel's strongest position), a ``(row, col)`` pair, or
                an ``(N, 2)`` array of pairs.
            mode: ``"deconvnet"`` (paper: ReLU on the downward signal), ``"backprop"`` (the
                gradient: ``value * d activation / d images``) or ``"guided"`` (both masks).
            batch_size: images per compiled pass (memory bound; all units of a batch go down
                together).

        Returns:
            float32 array shaped like ``images``. Linear in the selected activation's value.

        Raises:
            ValueError: bad ``images`` (rank, size, NaN), ``mode``, ``channel`` or ``location``
                (out of range, wrong length), or an unsupported ``layer``.
        """
        self._mode(mode)
        x = self._images(images)
        name = self.steps(layer)[-1].layer.name
        ch, row, col = self._units(name, len(x), channel, location, x.shape[1:])
        fn = self._function(name, mode, "project")
        with _quiet_retracing():
            out = [fn(x[i:i + batch_size], ch[i:i + batch_size], row[i:i + batch_size],
                      col[i:i + batch_size]).numpy() for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros_like(x)

    def units(self, images, layer: str | keras.layers.Layer,
              channel: int | Sequence[int] | None = None,
              location: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """The activations :meth:`project` selects, without projecting them: a dict of
        ``channel``, ``row``, ``col`` (int arrays ``(N,)``) and ``value`` (float32 ``(N,)``)."""
        x = self._images(images)
        name = self.steps(layer)[-1].layer.name
        ch, row, col = self._units(name, len(x), channel, location, x.shape[1:])
        with _quiet_retracing():
            out = self._function(name, "deconvnet", "units")(x, ch, row, col)
        return dict(zip(("channel", "row", "col", "value"), (np.asarray(t) for t in out)))

    def down(self, images, layer: str | keras.layers.Layer, signal,
             mode: str = "deconvnet") -> np.ndarray:
        """Send any top signal down from ``layer``: ``signal`` has the layer's output shape
        ``(N, rows', cols', channels')`` (for instance a whole feature map); the switches and
        ReLU masks come from the forward pass of ``images``. Returns an array shaped like
        ``images``; linear in ``signal`` for ``"backprop"``, positively homogeneous for the
        other modes."""
        self._mode(mode)
        x = self._images(images)
        name = self.steps(layer)[-1].layer.name
        want = (len(x), *self._out_shape(name, x.shape[1:]))
        s = np.asarray(signal, np.float32)
        if s.shape != want:
            raise ValueError(f"signal must have shape {want} for layer {name!r}, got {s.shape}")
        with _quiet_retracing():
            return self._function(name, mode, "down")(x, s).numpy()


def relu_rules(forward, signal) -> dict[str, np.ndarray]:
    """The three ways down through a ReLU on one 2-D example (chapter 07's table).

    Args:
        forward: the ReLU's forward input ``f``, a 2-D array.
        signal: the signal ``r`` arriving from above, the same shape.

    Returns:
        ``{"deconvnet": relu(r), "backprop": r * (f > 0), "guided": relu(r) * (f > 0)}`` as
        computed by :class:`~zfkeras.models.layers.Rectification`.

    Raises:
        ValueError: the arrays are not 2-D of one shape.
    """
    from zfkeras.models.layers import Rectification

    f, r = np.asarray(forward, np.float32), np.asarray(signal, np.float32)
    if f.ndim != 2 or f.shape != r.shape:
        raise ValueError(f"forward and signal must be 2-D arrays of one shape, got {f.shape} "
                         f"and {r.shape}")
    return {rule: np.asarray(Rectification(rule)(r, f)) for rule in MODES}
