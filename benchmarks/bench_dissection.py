"""Network dissection of every conv5 unit against a bare batched predict plus numpy counting.

    .venv/bin/python benchmarks/bench_dissection.py [--images 2000] [--rounds 2]

On the CPU-size ZFNet (96x96 input, width 0.5: 128 conv5 units on a 5x5 grid) over the
synthetic shapes images with three concept categories (the object's class inside its mask, the
pixel's quantized colour, random 8x8 blocks of 6 labels): :func:`zfkeras.methods.dissection.dissect`
(two streaming passes, compiled) against the floor: one bare batched ``predict`` of conv5 kept
in memory, the thresholds by ``np.partition`` and the IoU counting in numpy (the same
upsampling matrices, masks times one-hot labels as one matrix product per chunk). Warmed up,
then timed in alternating rounds in one run. Issue 10 target: dissect <= 1.5x the floor.
"""

from __future__ import annotations

import argparse
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from timing import best_times  # noqa: E402

import zfkeras  # noqa: E402
from zfkeras.methods.dissection import dissect, upsampling  # noqa: E402


def concepts(data, rng):
    n, s = data.masks.shape[:2]
    obj = np.where(data.masks, data.labels[:, None, None] + 1, 0).astype(np.int32)
    bits = (data.images > 127).astype(np.int32)
    colour = 1 + bits[..., 0] * 4 + bits[..., 1] * 2 + bits[..., 2]
    blocks = rng.integers(0, 6, (n, s // 8, s // 8)).repeat(8, 1).repeat(8, 2).astype(np.int32)
    return {"object": obj, "colour": colour, "random": blocks}


def floor(model, layer, x, maps, quantile=0.005, batch_size=64):
    sub = keras.Model(model.inputs[0], model.get_layer(layer).output)
    rows, cols = upsampling(model, layer, sub.output.shape[1:3], x.shape[1:3])
    cats = list(maps)
    depth = [int(maps[c].max()) + 1 for c in cats]
    offsets = np.concatenate([[0], np.cumsum(depth)[:-1]])

    def run():
        a = sub.predict(x, batch_size=batch_size, verbose=0)
        n, h, w, units = a.shape
        m = math.ceil(quantile * n * h * w)
        flat = a.reshape(-1, units)
        t = np.partition(flat, len(flat) - m, axis=0)[len(flat) - m]
        inter = np.zeros((units, sum(depth)))
        msum, lsum = np.zeros(units), np.zeros(sum(depth))
        eye = np.eye(sum(depth), dtype=np.float32)
        for i in range(0, n, 16):
            up = np.einsum("Hi,nijk->nHjk", rows, a[i : i + 16])
            mask = (np.einsum("Wj,nHjk->nHWk", cols, up) > t).reshape(-1, units)
            mask = mask.astype(np.float32)
            onehot = sum(eye[maps[c][i : i + 16].reshape(-1) + o] for c, o in zip(cats, offsets))
            inter += mask.T @ onehot
            msum += mask.sum(0)
            lsum += onehot.sum(0)
        union = msum[:, None] + lsum[None] - inter
        return t, np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)

    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    keras.utils.set_random_seed(0)
    model = zfkeras.zfnet((96, 96, 3), 10, width=0.5, fc_units=512)
    data = zfkeras.data.shapes(args.images, seed=0, image_size=96)
    x = (data.images.astype(np.float32) - 128.0) / 64.0
    maps = concepts(data, np.random.default_rng(0))
    bare = floor(model, "conv5", x, maps)
    runs = {
        "dissect (2 streaming passes)": lambda: dissect(
            model, x, "conv5", concept_maps=maps, verbose=0
        ),
        "bare predict + numpy counts": bare,
    }
    d, (t, iou) = runs["dissect (2 streaming passes)"](), bare()
    np.testing.assert_allclose(d.thresholds, t, rtol=1e-5)
    col = 0
    for cat in maps:
        ref = iou[:, col : col + d.iou[cat].shape[1]].copy()
        ref[:, 0] = 0
        np.testing.assert_allclose(d.iou[cat], ref, atol=1e-3)
        col += d.iou[cat].shape[1]
    best = best_times(runs, args.rounds)
    print(
        f"Dissection of conv5 (128 units, 5x5) over {args.images} images 96x96, 3 categories "
        f"({sum(v.shape[1] for v in d.iou.values())} concepts), best of {args.rounds} rounds"
    )
    for name, sec in best.items():
        print(f"  {name:30s} {sec:7.3f} s")
    ratio = best["dissect (2 streaming passes)"] / best["bare predict + numpy counts"]
    print(f"dissect / floor: {ratio:.2f}x (target <= 1.5x)")
    print(f"unique detectors (untrained net): {d.summary()}")


if __name__ == "__main__":
    main()
