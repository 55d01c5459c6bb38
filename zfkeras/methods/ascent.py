"""Gradient ascent's shared parts: the traced model from the image to the objective
(:func:`feature_model`, a layer's output, before a fused ReLU when asked, computed from the
layer's own weights without changing the layer; used by :mod:`.filters` and :mod:`.lucid`; or
the class scores before the softmax), and the compiled step of Lucid-style feature
visualization (:mod:`.lucid`): Lucid's diversity term and one Adam step (Kingma & Ba, 2015) on
the Fourier spectrum of a batch of images through the random transforms
(:mod:`.parameterization`).
"""

from __future__ import annotations

import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.graph import build, find, pre_activation, trace
from zfkeras.methods.ops import relu_of
from zfkeras.methods.parameterization import fourier_image, fourier_scale, transforms
from zfkeras.methods.softmax import pre_softmax


def feature_model(model, layer, *, size, pre_relu: bool):
    """A traced copy of ``model`` from an image of ``size = (rows, cols)`` to ``layer``'s
    output, and the layer's full path: what filter ascent (:mod:`.filters`) and Lucid's
    objective climb. With ``pre_relu`` a ReLU fused into the layer (``activation="relu"`` or
    ``"relu6"``, :func:`zfkeras.methods.ops.relu_of`) is split off inside the walk
    (:func:`zfkeras.methods.graph.pre_activation`: the user's layer is never changed)."""
    shape = (size[0], size[1], model.inputs[0].shape[-1])
    _, path, op, _ = checks.feature_layer(model, layer, size=shape)
    split = pre_relu and (relu_of(op) or ("",))[0] == "fused"

    def hook(o, args, kwargs):
        return pre_activation(o, args, kwargs) if split and o is op else o(*args, **kwargs)

    inputs, _, entries = trace(model, shape, hook)
    return build(inputs, find(entries, path)[2]), path


def target_model(model, layer, *, size, pre_relu):
    """(a traced model image -> (the layer's output, the last 4-D output before it for the
    diversity term, or the logits for classes), the layer's full path)."""
    if layer is None:
        shape = (size[0], size[1], model.inputs[0].shape[-1])
        inputs, logits, entries = trace(pre_softmax(model), shape)
        style = [out for _, op, out in entries if len(getattr(out, "shape", ())) == 4][-1]
        return build(inputs, [logits, style]), None
    net, path = feature_model(model, layer, size=size, pre_relu=pre_relu)
    return build(net.inputs[0], [net.outputs[0], net.outputs[0]]), path


def _diversity(style, variants: int):
    """Lucid's diversity: minus the mean cosine similarity of the Gram matrices of the
    ``variants`` images of each unit (0 for one variant)."""
    if variants == 1:
        return tf.zeros(tf.shape(style)[:1])
    a = tf.reshape(style, (tf.shape(style)[0], -1, style.shape[-1]))
    gram = tf.linalg.matmul(a, a, transpose_a=True)
    gram = tf.reshape(gram, (-1, variants, style.shape[-1] ** 2))
    gram = tf.math.l2_normalize(gram, -1)
    sim = tf.linalg.matmul(gram, gram, transpose_b=True)  # (units, variants, variants)
    off = tf.reduce_sum(sim, -1) - tf.linalg.diag_part(sim)
    return -tf.reshape(off, [-1]) / variants


def step_fn(net, size, objective, variants, n_in, robust):
    """``(step, final)``: the compiled Adam step ``step(p, m, v, t, units, weight, draws, lr,
    lo, hi, mat, location)`` and ``final(p, units, lo, hi, mat, location)`` (the images and
    their objective values); the learning rate, the input range, the colour matrix ``(n_in,
    n_in)`` and the neuron's ``(row, col)`` are arguments, so one compiled step serves every
    value (nothing cached grows with them)."""
    scale = tf.constant(fourier_scale(size))

    def image(spec, mat):
        y = tf.einsum("nhwc,dc->nhwd", fourier_image(spec, scale, size), mat)
        return y  # centred on grey: sigmoid(0) = 1/2

    def to_input(y, lo, hi):
        return lo + (hi - lo) * tf.sigmoid(y)

    def values(x, units, location):
        out, style = net(x, training=False)
        if objective == "class":
            v = tf.gather(out, units, axis=1, batch_dims=1)
        elif objective == "neuron":
            v = tf.gather(out[:, location[0], location[1]], units, axis=1, batch_dims=1)
        else:
            v = tf.reduce_mean(tf.gather(out, units, axis=3, batch_dims=1), axis=(1, 2))
        return v, style

    spec_shape = (n_in, size[0], size[1] // 2 + 1, 2)
    spec = [
        tf.TensorSpec((None, *spec_shape), tf.float32),
        tf.TensorSpec((None, *spec_shape), tf.float32),
        tf.TensorSpec((None, *spec_shape), tf.float32),
        tf.TensorSpec((), tf.float32),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((), tf.float32),
        tf.TensorSpec((None, 4), tf.float32),  # random transforms, one row per image
    ]
    consts = [tf.TensorSpec((), tf.float32)] * 2 + [tf.TensorSpec((n_in, n_in), tf.float32)]
    consts += [tf.TensorSpec((2,), tf.int32)]  # the neuron's (row, col)

    @tf.function(input_signature=spec + [tf.TensorSpec((), tf.float32)] + consts)
    def step(p, m, v, t, units, weight, draws, lr, lo, hi, mat, location):
        with tf.GradientTape() as tape:
            tape.watch(p)
            y = image(p, mat)
            if robust:
                y = transforms(y, draws, min(size))
            val, style = values(to_input(y, lo, hi), units, location)
            loss = -tf.reduce_sum(val) - weight * tf.reduce_sum(_diversity(style, variants))
        g = tape.gradient(loss, p)
        m = 0.9 * m + 0.1 * g  # Adam (Kingma & Ba, 2015) with Lucid's learning rate
        v = 0.999 * v + 0.001 * tf.square(g)
        mh, vh = m / (1 - 0.9**t), v / (1 - 0.999**t)
        return p - lr * mh / (tf.sqrt(vh) + 1e-8), m, v

    @tf.function(input_signature=spec[:1] + spec[4:5] + consts)
    def final(p, units, lo, hi, mat, location):
        x = to_input(image(p, mat), lo, hi)
        return x, values(x, units, location)[0]

    return step, final
