"""The six attribution methods against bare compiled equivalents, and Score-CAM against
tf-keras-vis.

    .venv/bin/python benchmarks/bench_attribution.py [--images 4] [--rounds 2]

On the CPU-size ZFNet (96x96 input, width 0.5; conv5 maps): each method of
:mod:`zfkeras.methods` (SmoothGrad, Integrated Gradients, Grad-CAM++, LayerCAM, Score-CAM, RISE)
against the floor, a bare ``tf.function`` doing the same arithmetic on all rows in one call
(no argument checks, no batching loop, RISE's masks made beforehand). When the optional package
``tf-keras-vis`` is importable (it is not a dependency: install it for this run only, e.g.
``pip install --no-deps --target /tmp/tfkv tf-keras-vis deprecated wrapt`` and
``PYTHONPATH=/tmp/tfkv``), also its ``Scorecam`` on the same model, in the normal mode and in its
``max_N`` fast mode, against :func:`zfkeras.scorecam` with and without ``top_channels``. Warmed
up, then timed in alternating rounds in one run. Targets: each method <= 1.5x its floor;
Score-CAM >= 3x faster than tf-keras-vis, and its fast mode (``top_channels=N``) no slower than
tf-keras-vis's (``max_N=N``). All maps against ``max_N`` is printed beside it, with the bare
floor of all maps: a full Score-CAM runs every map's masked image, so it cannot beat a mode that
runs a few unless the floor does.
"""

from __future__ import annotations

import argparse
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from timing import best_times  # noqa: E402

import zfkeras  # noqa: E402
from zfkeras.methods.random_masks import rise_masks  # noqa: E402

SAMPLES, STEPS, MASKS, TOP = 16, 16, 128, 16
QUICK = ("gradcam_plus_plus", "layercam")


def floors(model, x, cls, masks):
    """Bare compiled equivalents: one tf.function each, every row in one call."""
    last = model.get_layer("predictions")
    sub = keras.Model(model.input, [model.get_layer("conv5").output, last.input])
    shape = x.shape[1:]

    def logits(v):
        return sub(v, training=False)[1] @ last.kernel + last.bias

    def grad(v, c):
        with tf.GradientTape() as tape:
            tape.watch(v)
            score = tf.reduce_sum(tf.gather(logits(v), c, axis=1, batch_dims=1))
        return tape.gradient(score, v)

    @tf.function
    def smooth(v, c):
        sigma = 0.15 * (tf.reduce_max(v, (1, 2, 3)) - tf.reduce_min(v, (1, 2, 3)))
        rows = v[:, None] + sigma[:, None, None, None, None] * tf.random.normal(
            (len(x), SAMPLES, *shape)
        )
        g = grad(tf.reshape(rows, (-1, *shape)), tf.repeat(c, SAMPLES))
        return tf.reduce_mean(tf.reshape(g, (-1, SAMPLES, *shape)), 1)

    @tf.function
    def ig(v, c):
        alpha = (tf.range(STEPS, dtype=tf.float32) + 0.5) / STEPS
        rows = alpha[None, :, None, None, None] * v[:, None]
        g = grad(tf.reshape(rows, (-1, *shape)), tf.repeat(c, STEPS))
        return v * tf.reduce_mean(tf.reshape(g, (-1, STEPS, *shape)), 1)

    def cam(weigh):
        @tf.function
        def run(v, c):
            with tf.GradientTape() as tape:
                a, f = sub(v, training=False)
                z = f @ last.kernel + last.bias
                score = tf.reduce_sum(tf.gather(z, c, axis=1, batch_dims=1))
            m = tf.nn.relu(weigh(a, tape.gradient(score, a)))
            m = tf.image.resize(m[..., None], shape[:2])[..., 0]
            return tf.math.divide_no_nan(m, tf.reduce_max(m, (1, 2), keepdims=True))

        return run

    def plus(a, g):
        g2 = tf.square(g)
        den = 2 * g2 + tf.reduce_sum(a, (1, 2), keepdims=True) * g2 * g
        w = tf.reduce_sum(tf.math.divide_no_nan(g2, den) * tf.nn.relu(g), (1, 2), keepdims=True)
        return tf.reduce_sum(w * a, -1)

    @tf.function
    def score(v, c):
        a = sub(v, training=False)[0]
        k = a.shape[-1]
        up = tf.image.resize(
            tf.reshape(tf.transpose(a, (0, 3, 1, 2)), (-1, *a.shape[1:3], 1)), shape[:2]
        )
        lo = tf.reduce_min(up, (1, 2, 3), keepdims=True)
        m = tf.math.divide_no_nan(up - lo, tf.reduce_max(up, (1, 2, 3), keepdims=True) - lo)
        p = tf.nn.softmax(logits(tf.repeat(v, k, axis=0) * m), -1)
        w = tf.reshape(tf.gather(p, tf.repeat(c, k), axis=1, batch_dims=1), (-1, k))
        cams = tf.nn.relu(tf.einsum("nhwk,nk->nhw", a, w))
        cams = tf.image.resize(cams[..., None], shape[:2])[..., 0]
        return tf.math.divide_no_nan(cams, tf.reduce_max(cams, (1, 2), keepdims=True))

    tm = tf.constant(masks)

    @tf.function
    def rise(v, c):
        rows = tf.reshape(v[:, None] * tm[None, :, :, :, None], (-1, *shape))
        p = tf.nn.softmax(logits(rows), -1)
        p = tf.reshape(tf.gather(p, tf.repeat(c, len(masks)), axis=1, batch_dims=1), (len(x), -1))
        return tf.einsum("km,mhw->khw", p, tm) / tf.reduce_sum(tf.reduce_mean(tm, (1, 2)))

    bare = {
        "smoothgrad": smooth,
        "integrated_gradients": ig,
        "gradcam_plus_plus": cam(plus),
        "layercam": cam(lambda a, g: tf.reduce_sum(tf.nn.relu(g) * a, -1)),
        "scorecam": score,
        "rise": rise,
    }
    tx, tc = tf.constant(x), tf.constant(cls)
    return {name: (lambda f=f: f(tx, tc).numpy()) for name, f in bare.items()}


def tf_keras_vis(model, x, cls):
    try:
        from tf_keras_vis.scorecam import Scorecam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        return None
    keras.config.disable_interactive_logging()  # no progress bars from its model.predict
    warnings.filterwarnings("ignore", "The structure of `inputs`", UserWarning)
    sc = Scorecam(model, model_modifier=ReplaceToLinear(), clone=True)
    score = CategoricalScore(list(cls))
    return {
        "tf-keras-vis Scorecam": lambda: sc(score, x, penultimate_layer="conv5"),
        f"tf-keras-vis Scorecam max_N={TOP}": lambda: sc(
            score, x, penultimate_layer="conv5", max_N=TOP
        ),
    }


def fast_rows(model, x) -> tuple[int, int]:
    """Masked images of the fast modes: tf-keras-vis's ``max_N`` takes the union of the images'
    top channels (by spatial standard deviation) for every image; ``top_channels``, each
    image's own."""
    a = keras.Model(model.input, model.get_layer("conv5").output)(x).numpy()
    top = np.argsort(-a.std(axis=(1, 2)), axis=1)[:, :TOP]
    return len(x) * len(np.unique(top)), top.size


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    keras.utils.set_random_seed(0)
    model = zfkeras.zfnet((96, 96, 3), 10, width=0.5, fc_units=512)
    x = np.random.default_rng(0).normal(size=(args.images, 96, 96, 3)).astype(np.float32)
    cls = np.argmax(model.predict(x, verbose=0), -1).astype(np.int32)
    masks = rise_masks(MASKS, (96, 96), seed=0)
    k = int(model.get_layer("conv5").output.shape[-1])
    rows = len(x) * max(SAMPLES, STEPS, MASKS, k)  # every method's rows in one pass, as the floor
    opts = {"batch_size": rows, "verbose": 0}
    lib = {
        "smoothgrad": lambda: zfkeras.smoothgrad(model, x, cls, samples=SAMPLES, **opts),
        "integrated_gradients": lambda: zfkeras.integrated_gradients(
            model, x, cls, steps=STEPS, **opts
        ),
        "gradcam_plus_plus": lambda: zfkeras.gradcam_plus_plus(
            model, x, cls, layer="conv5", **opts
        ),
        "layercam": lambda: zfkeras.layercam(model, x, cls, layer="conv5", **opts),
        "scorecam": lambda: zfkeras.scorecam(model, x, cls, layer="conv5", **opts),
        "rise": lambda: zfkeras.rise(model, x, cls, masks=masks, **opts),
    }
    bare = floors(model, x, cls, masks)
    np.testing.assert_allclose(
        lib["integrated_gradients"](), bare["integrated_gradients"](), atol=1e-4
    )
    np.testing.assert_allclose(lib["rise"](), bare["rise"](), rtol=1e-4, atol=1e-6)
    runs = {f"{n} (zfkeras)": f for n, f in lib.items()}
    runs.update({f"{n} (bare)": f for n, f in bare.items()})
    runs["scorecam batch_size=128 (zfkeras)"] = lambda: zfkeras.scorecam(
        model, x, cls, layer="conv5", verbose=0
    )
    runs[f"scorecam top_channels={TOP} (zfkeras)"] = lambda: zfkeras.scorecam(
        model, x, cls, layer="conv5", top_channels=TOP, **opts
    )
    vis = tf_keras_vis(model, x, cls)
    runs.update(vis or {})
    # the gradient CAMs take milliseconds: ten times the rounds, so that the machine's load
    # does not decide their ratios (zfkeras and bare still alternate in one loop)
    quick = {n: runs.pop(n) for n in list(runs) if n.split()[0] in QUICK}
    best = best_times(runs, args.rounds)
    best.update(best_times(quick, 10 * args.rounds))
    print(
        f"{args.images} images, CPU-size ZFNet (96 px, conv5: {k} maps), best of "
        f"{args.rounds} rounds ({10 * args.rounds} for {' and '.join(QUICK)}); SmoothGrad "
        f"{SAMPLES} samples, IG {STEPS} steps, RISE {MASKS} masks"
    )
    for name, t in best.items():
        print(f"  {name:42s} {t:8.3f} s")
    for n in lib:
        ratio = best[f"{n} (zfkeras)"] / best[f"{n} (bare)"]
        print(f"{n:22s} zfkeras / bare floor: {ratio:5.2f}x (target <= 1.5x)")
    if vis is None:
        print("tf-keras-vis not importable: Score-CAM comparison skipped (optional, see docstring)")
        return
    full, fast = best["tf-keras-vis Scorecam"], best[f"tf-keras-vis Scorecam max_N={TOP}"]
    ours, ours_top = best["scorecam (zfkeras)"], best[f"scorecam top_channels={TOP} (zfkeras)"]
    theirs_rows, our_rows = fast_rows(model, x)
    print(f"tf-keras-vis Scorecam / zfkeras scorecam: {full / ours:.2f}x (target >= 3x)")
    print(
        f"tf-keras-vis max_N={TOP} / zfkeras top_channels={TOP}: {fast / ours_top:.2f}x "
        f"(target >= 1x; {theirs_rows} vs at most {our_rows} masked images)"
    )
    print(
        f"tf-keras-vis max_N={TOP} / zfkeras scorecam (all {k} maps): {fast / ours:.2f}x "
        f"(the bare floor of all maps: {fast / best['scorecam (bare)']:.2f}x)"
    )


if __name__ == "__main__":
    main()
