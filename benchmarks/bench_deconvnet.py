"""Deconvnet and top-activation benchmarks (issue 4), every figure a ratio measured in one run.

    python benchmarks/bench_deconvnet.py [--images 10000] [--repeats 7]

On the CPU-size ZFNet (96x96 inputs, width 0.5, fc 512; random weights: timing does not depend
on them), 64 images, layer conv5:

1. 64 (image, unit) projections in one ``Deconvnet.project`` call against 64 single calls
   (target: at least 3x faster);
2. the batched deconvnet projection against the floor, a bare compiled ``tf.GradientTape``
   gradient of the same 64 units in one call (target: at most 1.5x its time);
3. ``top_activations`` over ``--images`` images against ``model.predict`` over the same images
   (target: at least 0.7x its throughput);
4. ResNet50 (keras.applications, weights=None, 96x96, 10 classes; the graph path, issue 11):
   ``--resnet-images`` deconvnet projections from ``conv5_block3_add`` in one call against a
   bare compiled ``tf.GradientTape`` gradient of the same units (target: at most 1.5x its time).

Timings are medians over ``--repeats`` interleaved runs after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from timing import best_times  # noqa: E402

import zfkeras  # noqa: E402


def seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=10_000, help="images for top_activations")
    p.add_argument("--repeats", type=int, default=7, help="timed runs per measurement")
    p.add_argument(
        "--resnet-images", type=int, default=64, help="images (one unit each) for the ResNet50 row"
    )
    p.add_argument("--only-resnet", action="store_true", help="measure the ResNet50 row only")
    args = p.parse_args(argv)
    resnet = resnet_ratio(args.resnet_images, args.repeats)
    if args.only_resnet:
        print(
            f"| ResNet50 batched deconvnet / GradientTape floor (time) | {resnet:.2f}x | <= 1.5x |"
        )
        return 0
    keras.utils.set_random_seed(0)
    model = zfkeras.zfnet((96, 96, 3), 10, width=0.5, fc_units=512)
    x = np.random.default_rng(0).normal(size=(64, 96, 96, 3)).astype("float32")
    d = zfkeras.Deconvnet(model)  # default switches="recompute"
    d_ix = zfkeras.Deconvnet(model, switches="indices")
    n_ch = model.get_layer("conv5").output.shape[-1]
    channel = np.arange(64) % n_ch
    u = d.units(x, "conv5", channel=channel)
    index = tf.constant(np.stack([np.arange(64), u["row"], u["col"], u["channel"]], 1))
    value = tf.constant(u["value"])
    sub = keras.Model(model.inputs, model.get_layer("conv5").output)

    @tf.function
    def floor(images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            act = tf.gather_nd(sub(images), index)
        return tape.gradient(act, images, output_gradients=value)

    xt = tf.constant(x)
    batched = lambda: d.project(x, "conv5", channel=channel)  # noqa: E731
    indices = lambda: d_ix.project(x, "conv5", channel=channel)  # noqa: E731
    bare = lambda: floor(xt).numpy()  # noqa: E731

    def singles():
        return [d.project(x[i : i + 1], "conv5", channel=int(channel[i])) for i in range(64)]

    np.testing.assert_allclose(
        d.project(x, "conv5", channel=channel, mode="backprop"),
        bare(),
        atol=1e-4 * np.abs(bare()).max(),
    )
    np.testing.assert_allclose(indices(), batched(), atol=1e-4 * np.abs(batched()).max())
    for fn in (batched, indices, bare, singles):
        fn()
    times = {"batched": [], "indices": [], "floor": [], "singles": []}
    for _ in range(args.repeats):
        times["batched"].append(seconds(batched))
        times["indices"].append(seconds(indices))
        times["floor"].append(seconds(bare))
    for _ in range(max(1, args.repeats // 3)):
        times["singles"].append(seconds(singles))
    t = {k: float(np.median(v)) for k, v in times.items()}

    pool = np.random.default_rng(1).normal(size=(500, 96, 96, 3)).astype("float32")

    def dataset(n):
        return tf.data.Dataset.from_tensor_slices(pool).repeat().take(n).batch(128)

    model.predict(dataset(256), verbose=0)
    zfkeras.top_activations(model, dataset(256), "conv5", verbose=0)
    t_predict = seconds(lambda: model.predict(dataset(args.images), verbose=0))
    t_top = seconds(
        lambda: zfkeras.top_activations(model, dataset(args.images), "conv5", verbose=0)
    )

    print(
        f"command: python benchmarks/bench_deconvnet.py --images {args.images} "
        f"--repeats {args.repeats}"
    )
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}, {os.cpu_count()} CPU cores")
    print(
        f"64 projections, conv5: one call {t['batched'] * 1e3:.0f} ms (switches='indices' "
        f"{t['indices'] * 1e3:.0f} ms), 64 calls {t['singles'] * 1e3:.0f} ms, bare "
        f"GradientTape floor {t['floor'] * 1e3:.0f} ms"
    )
    print(
        f"top_activations {args.images / t_top:.0f} images/s, model.predict "
        f"{args.images / t_predict:.0f} images/s"
    )
    print("| figure | measured | target |")
    print("|---|---|---|")
    print(
        f"| 64 units in one call vs 64 calls (speed-up) | {t['singles'] / t['batched']:.1f}x "
        "| >= 3x |"
    )
    print(
        f"| batched deconvnet / GradientTape floor (time) | {t['batched'] / t['floor']:.2f}x "
        "| <= 1.5x |"
    )
    print(f"| same with switches='indices' (time) | {t['indices'] / t['floor']:.2f}x | (none) |")
    print(f"| top_activations / model.predict (throughput) | {t_predict / t_top:.2f}x | >= 0.7x |")
    print(f"| ResNet50 batched deconvnet / GradientTape floor (time) | {resnet:.2f}x | <= 1.5x |")
    return 0


def resnet_ratio(n: int, repeats: int) -> float:
    """Time of ``n`` ResNet50 projections in one call over the bare gradient's (row 4)."""
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None, input_shape=(96, 96, 3), classes=10)
    layer = "conv5_block3_add"
    x = np.random.default_rng(0).normal(size=(n, 96, 96, 3)).astype("float32")
    d = zfkeras.Deconvnet(model)
    u = d.units(x, layer)
    index = tf.constant(np.stack([np.arange(n), u["row"], u["col"], u["channel"]], 1))
    value = tf.constant(u["value"])
    sub = keras.Model(model.inputs, model.get_layer(layer).output)

    @tf.function
    def floor(images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            act = tf.gather_nd(sub(images, training=False), index)
        return tape.gradient(act, images, output_gradients=value)

    xt = tf.constant(x)
    np.testing.assert_allclose(
        d.project(x, layer, mode="backprop"),
        floor(xt).numpy(),
        atol=1e-4 * np.abs(floor(xt).numpy()).max(),
    )
    t = best_times(
        {"batched": lambda: d.project(x, layer), "floor": lambda: floor(xt).numpy()}, repeats
    )
    print(
        f"ResNet50 {layer}, {n} projections: one call {t['batched'] * 1e3:.0f} ms, bare "
        f"GradientTape floor {t['floor'] * 1e3:.0f} ms"
    )
    return t["batched"] / t["floor"]


if __name__ == "__main__":
    raise SystemExit(main())
