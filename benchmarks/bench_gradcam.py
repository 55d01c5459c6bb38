"""Batched Grad-CAM against a per-image loop, a bare implementation and tf-keras-vis.

    .venv/bin/python benchmarks/bench_gradcam.py [--images 64] [--rounds 3]

On the CPU-size ZFNet (96x96 input, width 0.5; conv5 maps): :func:`zfkeras.gradcam` on a batch
in one call, against one call per image, against the floor (a bare compiled batched Grad-CAM: one
``tf.function`` with one forward and one backward pass, resize and normalization included), and,
when the optional package ``tf-keras-vis`` is installed, against its ``Gradcam`` on the same
functional model. Warmed up, then timed in alternating rounds in one run. Issue 5 targets:
batching >= 3x, the library <= 1.5x the floor, >= 3x faster than tf-keras-vis.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from timing import best_times  # noqa: E402

import zfkeras  # noqa: E402


def bare(model, layer="conv5"):
    last = model.get_layer("predictions")
    sub = keras.Model(model.input, [model.get_layer(layer).output, last.input])
    # ZFNet at 96 px: conv5 cell i sees a field centred on input pixel 20 + 16 i (worked by hand
    # in tests/test_cam.py); linear interpolation between centres, falling to 0 a stride beyond.
    u = (np.arange(96) - 20) / 16
    up = tf.constant(np.maximum(0, 1 - np.abs(u[:, None] - np.arange(5))).astype(np.float32))

    @tf.function
    def run(x):
        with tf.GradientTape() as tape:
            a, f = sub(x, training=False)
            z = f @ last.kernel + last.bias
            score = tf.reduce_sum(tf.reduce_max(z, axis=-1))
        w = tf.reduce_mean(tape.gradient(score, a), axis=(1, 2), keepdims=True)
        m = tf.nn.relu(tf.reduce_sum(w * a, -1))
        m = tf.einsum("hi,nij,wj->nhw", up, m, up)
        return tf.math.divide_no_nan(m, tf.reduce_max(m, axis=(1, 2), keepdims=True))

    return lambda x: run(tf.constant(x)).numpy()


def tf_keras_vis(model):
    try:
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        return None
    gc = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)

    def run(x):
        cls = np.argmax(model.predict(x, verbose=0), -1)
        return gc(CategoricalScore(list(cls)), x, penultimate_layer="conv5")

    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    keras.utils.set_random_seed(0)
    model = zfkeras.zfnet((96, 96, 3), 10, width=0.5, fc_units=512)
    x = np.random.default_rng(0).normal(size=(args.images, 96, 96, 3)).astype(np.float32)
    floor = bare(model)
    runs = {
        "one batched call": lambda: zfkeras.gradcam(model, x),
        "one call per image": lambda: [zfkeras.gradcam(model, x[i : i + 1]) for i in range(len(x))],
        "bare batched tf.function": lambda: floor(x),
    }
    vis = tf_keras_vis(model)
    if vis is not None:
        runs["tf-keras-vis Gradcam"] = lambda: vis(x)
    np.testing.assert_allclose(
        runs["one batched call"](), runs["bare batched tf.function"](), atol=1e-4
    )
    best = best_times(runs, args.rounds)
    print(f"Grad-CAM of {args.images} images, CPU-size ZFNet (conv5), best of {args.rounds} rounds")
    for name, t in best.items():
        print(f"  {name:26s} {t:7.3f} s")
    print(
        f"batching gain: {best['one call per image'] / best['one batched call']:.2f}x "
        f"(target >= 3x)"
    )
    lib = best["one batched call"]
    print(f"library / bare floor: {lib / best['bare batched tf.function']:.2f}x (target <= 1.5x)")
    if vis is not None:
        print(f"tf-keras-vis / library: {best['tf-keras-vis Gradcam'] / lib:.2f}x (target >= 3x)")
    else:
        print("tf-keras-vis not installed: comparison skipped (optional; pip install tf-keras-vis)")


if __name__ == "__main__":
    main()
