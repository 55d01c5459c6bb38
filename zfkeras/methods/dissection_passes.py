"""The compiled passes of network dissection and the placement of a unit's map on the image
(:mod:`zfkeras.methods.dissection` runs them).

:func:`holding_weights` brings a map of a layer to image size with each cell at the centre of
its receptive field (:func:`zfkeras.receptive_field`), the outer cells' values held up to the
border; :func:`compiled` gives the ``tf.function`` passes (the forward pass, the streaming
top values of every unit, the counting of mask-label intersections), cached per model, layer
and image size.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.activations import activation_model
from zfkeras.methods.mining import receptive_field
from zfkeras.methods.upsampling import cell_weights

__all__ = ["compiled", "holding_weights"]


def holding_weights(model: keras.Model, layer: str, *, grid, size):
    """The ``(H, h)`` and ``(W, w)`` matrices that bring a ``(h, w)`` map of ``layer`` to the
    ``(H, W)`` image (``up = R @ map @ C.T``), cells at their receptive-field centres, the
    outer cells' values held up to the border (compare
    :func:`zfkeras.methods.cam.fading_weights`, which fades to zero). Returns ``(R, C,
    placement)``.

    When the receptive-field walk does not support a layer on the way (for instance a
    residual block), the cells are spread evenly instead (cell ``i`` at
    ``(i + 0.5) * H / h - 0.5``, as an image resize does): ``placement`` is then ``"even"``
    and a warning is given once per layer."""
    try:
        rf = receptive_field(model, layer, (*size, int(model.inputs[0].shape[-1])))
        ok = tuple(rf.output_size) == tuple(grid)
        why = f"its receptive-field grid {tuple(rf.output_size)} is not the map's {tuple(grid)}"
    except ValueError as err:
        ok, why = False, str(err)
    if not ok:
        checks.warn_once(
            ("dissect", id(model), layer),
            f"layer {layer!r}: no receptive-field placement ({why}); its maps are spread "
            f"evenly over the image instead (Dissection.placement == 'even')",
        )
    mats = []
    for axis in (0, 1):
        if ok:
            c0, s = float(rf.centres(axis)[0]), float(rf.stride[axis])
        else:
            s = size[axis] / grid[axis]
            c0 = s / 2 - 0.5
        mats.append(cell_weights(c0, s, grid[axis], size[axis], hold=True))
    return mats[0], mats[1], ("receptive field" if ok else "even")


def compiled(model, layer: str, *, size):
    """The compiled passes of :func:`zfkeras.methods.dissection.dissect` for ``layer`` at image
    size ``size`` ``(H, W)``, cached per model, layer and size: ``(forward, top, count, grid,
    units, placement)``. ``forward(x)``: the layer's float32 maps ``(n, h, w, units)``;
    ``top(kept, a)``: the ``kept.shape[1]`` largest values of each unit over ``kept``
    ``(units, m)`` and the maps ``a``; ``count(a, labels, thresholds, depth)``: the
    intersections ``(units, depth)`` of the units' masks (maps placed at image size by
    :func:`holding_weights`, above ``thresholds``) with the one-hot ``labels`` ``(n, H, W,
    categories)``, and both sizes."""
    return checks.cached(
        model, ("dissect", layer, tuple(size)), lambda: _compile(model, layer, size=size)
    )


def _compile(model, layer, *, size):
    sub = activation_model(model, [layer])
    out = sub.outputs[0]  # 4-D: checked by checks.feature_layer
    grid, units = tuple(out.shape[1:3]), int(out.shape[3])
    rows, cols, placement = holding_weights(model, layer, grid=grid, size=size)
    rows, cols = tf.constant(rows), tf.constant(cols)
    xspec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), model.inputs[0].dtype)

    @tf.function(input_signature=[xspec])
    def forward(x):
        a = sub(x, training=False)
        return tf.cast(a[layer] if isinstance(a, dict) else a, tf.float32)

    @tf.function(
        input_signature=[
            tf.TensorSpec((units, None), tf.float32),
            tf.TensorSpec((None, *grid, units), tf.float32),
        ]
    )
    def top(kept, a):
        flat = tf.transpose(tf.reshape(a, [-1, units]))
        return tf.math.top_k(tf.concat([kept, flat], 1), tf.shape(kept)[1], sorted=False).values

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, *grid, units), tf.float32),
            tf.TensorSpec((None, *size, None), tf.int32),
            tf.TensorSpec((units,), tf.float32),
            tf.TensorSpec((), tf.int32),
        ]
    )
    def count(a, labels, thresholds, depth):
        up = tf.einsum("Hi,nijk->nHjk", rows, a)
        up = tf.einsum("Wj,nHjk->nHWk", cols, up)
        mask = tf.cast(tf.reshape(up, [-1, units]) > thresholds, tf.float32)
        labels = tf.reshape(labels, [-1, tf.shape(labels)[-1]])  # (pixels, categories)
        onehot = tf.reduce_sum(tf.one_hot(labels, depth, dtype=tf.float32), axis=1)
        return (
            tf.matmul(mask, onehot, transpose_a=True),
            tf.reduce_sum(mask, 0),
            tf.reduce_sum(onehot, 0),
        )

    return forward, top, count, grid, units, placement
