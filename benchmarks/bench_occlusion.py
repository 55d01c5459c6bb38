"""Occlusion sensitivity: our batched implementation against its floor and against tf-explain.

    .venv/bin/python benchmarks/bench_occlusion.py [--images 8] [--patch 16] [--shipped]

The model is the CPU-size ZFNet of the other benchmarks (96x96 input, width 0.5, fc 512, 5
classes; timing does not depend on the weights), or with ``--shipped`` the shipped
``zfnet-shapes`` (128x128 input). Measured in one run, alternating, best of ``--rounds``:

* ours: :func:`zfkeras.occlusion_sensitivity` (patch ``--patch``, stride ``--stride``), one
  call per image, everything included (building the occluded copies, tracing, the softmax);
* floor: a bare ``model.predict(copies, batch_size=128)`` over the same occluded copies built
  beforehand with NumPy (building them is not timed). Target: ours at most 1.3x the floor;
* tf-explain's ``OcclusionSensitivity.get_sensitivity_map`` (stride = patch size, its only
  mode) against ours at the same patch and stride, only when ``tf_explain`` can be imported
  (an optional extra, not in requirements.txt). Target: ours at least 2.5x faster. tf-explain
  runs one ``model.predict`` per image; its overhead is what batching saves, so the gain shrinks
  as the model's own compute per copy grows (larger images).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import zfkeras  # noqa: E402
from zfkeras import occlusion  # noqa: E402


def load_model(shipped: bool):
    if shipped:
        bundle = zfkeras.pretrained("zfnet-shapes")
        return bundle.model, bundle.preprocess, "zfnet-shapes (128x128)"
    model = zfkeras.zfnet((96, 96, 3), 5, width=0.5, fc_units=512)
    return model, lambda x: (np.asarray(x, np.float32) - 127.0) / 64, "CPU-size zfnet (96x96)"


def copies(image, patch, stride, fill=0.0):
    rows = occlusion.positions(image.shape[0], patch, stride)
    cols = occlusion.positions(image.shape[1], patch, stride)
    out = np.repeat(image[None], len(rows) * len(cols), 0)
    k = 0
    for r in rows:
        for c in cols:
            out[k, r : r + patch, c : c + patch] = fill
            k += 1
    return out


def best(fn, rounds):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--patch", type=int, default=16)
    p.add_argument("--stride", type=int, default=4)
    p.add_argument("--shipped", action="store_true", help="time the shipped zfnet-shapes")
    args = p.parse_args()
    model, preprocess, name = load_model(args.shipped)
    size = int(model.input.shape[1])
    x = preprocess(zfkeras.data.shapes(args.images, seed=11, image_size=size).images)
    built = [copies(img, args.patch, args.stride) for img in x]
    n = sum(len(c) for c in built)

    def ours(stride):
        for img in x:
            zfkeras.occlusion_sensitivity(
                model, img, patch_size=args.patch, stride=stride, batch_size=128
            )

    def floor():
        for c in built:
            model.predict(c, batch_size=128, verbose=0)

    ours(args.stride)
    floor()  # warm-up (tracing)
    t_ours, t_floor = best(lambda: ours(args.stride), args.rounds), best(floor, args.rounds)
    print(
        f"model: {name}; {args.images} images, patch {args.patch}, stride {args.stride}: "
        f"{n} occluded copies"
    )
    print(f"ours   {t_ours:7.2f} s  ({n / t_ours:6.0f} copies/s)")
    print(f"floor  {t_floor:7.2f} s  ({n / t_floor:6.0f} copies/s)  bare model.predict")
    print(f"ours / floor = {t_ours / t_floor:.2f} (target <= 1.3)")
    try:
        from tf_explain.core.occlusion_sensitivity import OcclusionSensitivity
    except ImportError:
        print("tf-explain not installed: comparison skipped (pip install tf-explain)")
        return
    explainer = OcclusionSensitivity(batch_size=128)

    def theirs():
        for img in x:
            explainer.get_sensitivity_map(model, img, 0, args.patch)

    ours(args.patch)
    theirs()
    t_same, t_theirs = best(lambda: ours(args.patch), args.rounds), best(theirs, args.rounds)
    print(
        f"stride = patch = {args.patch}: ours {t_same:.2f} s, tf-explain {t_theirs:.2f} s, "
        f"speed-up {t_theirs / t_same:.1f}x (target >= 2.5x)"
    )


if __name__ == "__main__":
    main()
