"""Training throughput of the CPU-size ZFNet with and without the paper's custom pieces.

    .venv/bin/python benchmarks/bench_training.py [--steps 30] [--rounds 3]

Both variants (contrast normalization + filter renormalization, and neither) are compiled, warmed
up, then timed in alternating rounds in one run, so load on the machine hits both alike. Prints
images/s for each and the ratio; the issue's target is a cost of the custom pieces under 15%.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from zfkeras import models  # noqa: E402


def build(custom: bool) -> keras.Model:
    m = models.zfnet(
        (96, 96, 3),
        10,
        width=0.5,
        fc_units=512,
        contrast_norm=custom,
        renorm_radius=0.1 if custom else None,
    )
    m.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
    return m


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=128)
    args = p.parse_args()
    keras.utils.set_random_seed(0)
    x = tf.random.normal((args.batch, 96, 96, 3))
    y = tf.constant(np.arange(args.batch) % 10)
    variants = {"with custom pieces": build(True), "plain": build(False)}
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    times = {name: 0.0 for name in variants}
    for m in variants.values():  # warm-up: trace and compile
        m.fit(data, steps_per_epoch=3, epochs=1, verbose=0)
    for _ in range(args.rounds):
        for name, m in variants.items():
            t0 = time.perf_counter()
            m.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0)
            times[name] += time.perf_counter() - t0
    n = args.rounds * args.steps * args.batch
    rate = {name: n / t for name, t in times.items()}
    for name, r in rate.items():
        print(f"{name:20s} {r:7.1f} images/s")
    cost = rate["plain"] / rate["with custom pieces"] - 1
    print(f"cost of contrast normalization + filter renormalization: {cost:+.1%} (target < 15%)")


if __name__ == "__main__":
    main()
