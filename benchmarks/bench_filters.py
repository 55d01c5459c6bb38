"""Batched filter visualization against one filter at a time and against a bare loop.

    .venv/bin/python benchmarks/bench_filters.py [--filters 32] [--steps 20] [--rounds 3]

On the CPU-size ZFNet (96x96 input, width 0.5): ``conv3`` filters x steps with
``recipe="plain"`` in one :func:`zfkeras.visualize_filters` call, against one call per filter,
and against the floor: a bare compiled batched ascent (a ``tf.function`` step on a
``keras.Model`` cut at conv3, the same steps). Everything is warmed up, then timed in alternating
rounds in one run, so load on the machine hits all alike; the same bare ascent one filter at a
time shows what batching can gain on the machine at hand. Issue 5 targets: batching >= 2x, and
the library <= 1.5x the floor.
"""

from __future__ import annotations

import argparse
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from timing import best_times  # noqa: E402

import zfkeras  # noqa: E402

warnings.simplefilter("ignore", RuntimeWarning)  # dead filters of a random network


def bare(model, layer, n, steps, lr=0.04, one_at_a_time=False):
    feats = keras.Model(model.input, model.get_layer(layer).output)

    @tf.function(reduce_retracing=True)
    def step(x, idx):
        with tf.GradientTape() as tape:
            tape.watch(x)
            a = tf.gather(feats(x, training=False), idx, axis=-1, batch_dims=1)
            total = tf.reduce_sum(tf.reduce_mean(a, axis=(1, 2)))
        g = tape.gradient(total, x)
        rms = tf.sqrt(tf.reduce_mean(tf.square(g), axis=(1, 2, 3), keepdims=True))
        return x + lr * g / (rms + 1e-12)

    def run_batch(idx):
        x = tf.random.normal((len(idx), *model.input.shape[1:]), stddev=0.04, seed=0)
        for _ in range(steps):
            x = step(x, tf.constant(idx))
        return x.numpy()

    if one_at_a_time:
        return lambda: [run_batch([f]) for f in range(n)]
    return lambda: run_batch(list(range(n)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--layer", default="conv3")
    args = p.parse_args()
    keras.utils.set_random_seed(0)
    model = zfkeras.zfnet((96, 96, 3), 10, width=0.5, fc_units=512)
    fs = list(range(args.filters))
    kw = dict(steps=args.steps, recipe="plain", progress=False)
    runs = {
        "one batched call": lambda: zfkeras.visualize_filters(model, args.layer, channels=fs, **kw),
        "one call per filter": lambda: [
            zfkeras.visualize_filters(model, args.layer, channels=[f], **kw) for f in fs
        ],
        "bare batched tf.function": bare(model, args.layer, args.filters, args.steps),
        "bare, one filter at a time": bare(
            model, args.layer, args.filters, args.steps, one_at_a_time=True
        ),
    }
    best = best_times(runs, args.rounds)
    print(
        f"{args.filters} {args.layer} filters x {args.steps} steps, plain recipe, CPU-size "
        f"ZFNet, best of {args.rounds} rounds"
    )
    for name, t in best.items():
        print(f"  {name:26s} {t:7.3f} s")
    gain = best["one call per filter"] / best["one batched call"]
    floor = best["one batched call"] / best["bare batched tf.function"]
    print(f"batching gain: {gain:.2f}x (target >= 2x)")
    print(f"library / bare floor: {floor:.2f}x (target <= 1.5x)")
    bare_gain = best["bare, one filter at a time"] / best["bare batched tf.function"]
    print(f"(bare TensorFlow batching gain on this machine now: {bare_gain:.2f}x)")


if __name__ == "__main__":
    main()
