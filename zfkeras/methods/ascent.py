"""The compiled step of Lucid-style feature visualization (:mod:`.lucid`): the traced model
from the image to the objective (a layer's output, before a fused ReLU when asked, computed
from the layer's own weights without changing the layer; or the class scores before the
softmax), Lucid's diversity term, and one Adam step (Kingma & Ba, 2015) on the Fourier
spectrum of a batch of images through the random transforms (:mod:`.parameterization`).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from zfkeras.methods import checks
from zfkeras.methods.graph import build, find, trace
from zfkeras.methods.parameterization import fourier_image, fourier_scale, transforms
from zfkeras.methods.softmax import pre_softmax


def _pre_activation(op, args, kwargs):
    """``op``'s output before its fused ReLU, computed from its own weights (the layer is
    not changed): convolutions and Dense layers."""
    x = args[0] if args else kwargs["inputs"]
    if isinstance(op, keras.layers.Dense):
        z = keras.ops.matmul(x, op.kernel)
    elif isinstance(op, keras.layers.Conv2D) and type(op).convolution_op is not None:
        z = op.convolution_op(x, op.kernel)
    else:
        raise ValueError(
            f"pre_relu=True needs the ReLU fused into a Conv2D or Dense layer, got "
            f"{type(op).__name__} {op.name!r}: pass pre_relu=False"
        )
    return z + op.bias if op.use_bias else z


def target_model(model, layer, *, size, pre_relu):
    """(a traced model image -> (the layer's output, the last 4-D output before it for the
    diversity term, or the logits for classes), the layer's full path)."""
    channels = model.inputs[0].shape[-1]
    shape = (size[0], size[1], channels)
    if layer is None:
        inputs, logits, entries = trace(pre_softmax(model), shape)
        style = [out for _, op, out in entries if len(getattr(out, "shape", ())) == 4][-1]
        return build(inputs, [logits, style]), None
    op = checks.feature_layer(model, layer, size=shape)[2]
    split = pre_relu and getattr(getattr(op, "activation", None), "__name__", "") == "relu"

    def hook(o, args, kwargs):
        return _pre_activation(o, args, kwargs) if split and o is op else o(*args, **kwargs)

    inputs, _, entries = trace(model, shape, hook=hook)
    path, _, out = find(entries, layer)
    return build(inputs, [out, out]), path


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


def step_fn(net, size, objective, location, variants, lr, lo, hi, mat, robust):
    scale = tf.constant(fourier_scale(size))
    mat = tf.constant(mat)

    def image(spec):
        y = tf.einsum("nhwc,dc->nhwd", fourier_image(spec, scale, size), mat)
        return y  # centred on grey: sigmoid(0) = 1/2

    def to_input(y):
        return lo + (hi - lo) * tf.sigmoid(y)

    def values(x, units):
        out, style = net(x, training=False)
        if objective == "class":
            v = tf.gather(out, units, axis=1, batch_dims=1)
        elif objective == "neuron":
            v = tf.gather(out[:, location[0], location[1]], units, axis=1, batch_dims=1)
        else:
            v = tf.reduce_mean(tf.gather(out, units, axis=3, batch_dims=1), axis=(1, 2))
        return v, style

    n_in = mat.shape[0]
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

    @tf.function(input_signature=spec)
    def step(p, m, v, t, units, weight, draws):
        with tf.GradientTape() as tape:
            tape.watch(p)
            y = image(p)
            if robust:
                y = transforms(y, draws, min(size))
            val, style = values(to_input(y), units)
            loss = -tf.reduce_sum(val) - weight * tf.reduce_sum(_diversity(style, variants))
        g = tape.gradient(loss, p)
        m = 0.9 * m + 0.1 * g  # Adam (Kingma & Ba, 2015) with Lucid's learning rate
        v = 0.999 * v + 0.001 * tf.square(g)
        mh, vh = m / (1 - 0.9**t), v / (1 - 0.999**t)
        return p - lr * mh / (tf.sqrt(vh) + 1e-8), m, v

    @tf.function(input_signature=spec[:1] + spec[4:5])
    def final(p, units):
        x = to_input(image(p))
        return x, values(x, units)[0]

    return step, final
