"""Twelve explanation methods judged on data whose answer is known (chapter 11): the paper's
deconvnet and occlusion (sections 2.1 and 4.2), the gradient, guided backprop, Grad-CAM and
Guided Grad-CAM, and six published since (SmoothGrad, Integrated Gradients, Grad-CAM++,
LayerCAM, Score-CAM, RISE).

Four checks, each measured per image so that a verdict can put an interval on it
(:mod:`zfkeras.evaluation.verdict`):

* **randomization** (Adebayo et al. 2018): the Spearman rank correlation of the absolute map
  with the original one once the classifier (``fc6`` and up) is re-initialized, cascading from
  the top as :func:`zfkeras.evaluation.randomization_test` does, with its seeds;
* **pointing** (Zhang et al. 2016): the strict pointing game's score (``peaks="all"``) on the
  synthetic shapes' object masks and on the concept world's object and part masks, beside two
  references that use no network (a random map, the image centre);
* **deletion and insertion** (Petsiuk et al. 2018) on CIFAR-10 test images: the area under each
  image's curve, beside a random order.

Every value depends on its image only (the random maps are drawn in image order from one seed),
so :func:`measure` with ``first=k`` reproduces the first ``k`` values of each check of a full
run: the quick re-run a chapter shows beside the shipped record.

Command line (writes the shipped record; RISE dominates its time)::

    python -m zfkeras.experiments.method_checks --out data/method-checks.json
"""

from __future__ import annotations

from zfkeras._quiet import start_command

start_command(__name__)  # run as a command line: TensorFlow starts without its log lines

import itertools
import sys
from dataclasses import dataclass
from functools import partial

import keras
import numpy as np

from zfkeras import data, models
from zfkeras.evaluation import deletion_curve, explain, insertion_curve, pointing_scores
from zfkeras.evaluation.faithfulness import cascade_layers, reinitialize
from zfkeras.evaluation.similarity import spearman
from zfkeras.experiments import cli
from zfkeras.methods import checks
from zfkeras.methods.cache import clear_cache
from zfkeras.methods.checks import BATCH_SIZE, SEED, VERBOSE, Progress
from zfkeras.methods.random_masks import rise
from zfkeras.methods.softmax import pre_softmax

MODULE = "zfkeras.experiments.method_checks"  # its command line: python -m MODULE
CLASSIFIER = "fc6"  # the cascade re-initializes the layers from the top down to this one
REFERENCES = ("random map", "image centre")  # the pointing game's map-free references
TWELVE = tuple(  # the paper's two (deconvnet, occlusion), then the rest in order of publication
    "deconvnet guided backprop gradcam guided_gradcam occlusion smoothgrad integrated_gradients "
    "gradcam_plus_plus layercam scorecam rise".split()
)


def tiled_occlusion(
    model: keras.Model, images, class_index, *, parts: int = 8, batch_size: int = BATCH_SIZE
) -> np.ndarray:
    """Occlusion (paper Fig. 7) as a pixel map: the drop of the class score before the softmax
    when a grey square (0, the dataset mean) covers each tile of a ``parts x parts`` tiling of
    the image (stride = side), put back on the pixels the square covered. ``(N, H, W)``."""
    x = checks.images(checks.check_model(model), images)
    cls = np.asarray(class_index, np.int64).reshape(-1)
    patch = x.shape[1] // parts
    starts = range(0, x.shape[1] - patch + 1, patch)
    boxes = [(r0, c0) for r0 in starts for c0 in starts]
    scores = pre_softmax(model)
    maps = np.zeros(x.shape[:3], np.float32)
    per_pass = max(1, batch_size // (len(boxes) + 1))
    for b in range(0, len(x), per_pass):
        copies = np.repeat(x[b : b + per_pass, None], len(boxes) + 1, axis=1)
        for k, (r0, c0) in enumerate(boxes, start=1):  # copy 0 of each image stays whole
            copies[:, k, r0 : r0 + patch, c0 : c0 + patch] = 0.0
        flat = copies.reshape(-1, *x.shape[1:])
        s = keras.ops.convert_to_numpy(scores(flat, training=False)).reshape(len(copies), -1)
        s = s.reshape(len(copies), len(boxes) + 1, -1)[
            np.arange(len(copies)), :, cls[b : b + per_pass]
        ]
        for k, (r0, c0) in enumerate(boxes, start=1):
            maps[b : b + per_pass, r0 : r0 + patch, c0 : c0 + patch] = (s[:, 0] - s[:, k])[
                :, None, None
            ]
    return maps


def explainer(name: str, *, parts: int = 8, rise_samples: int = 2000):
    """One of the twelve methods (:data:`TWELVE`) as :func:`zfkeras.evaluation.explain` takes
    it: a registered name, :func:`tiled_occlusion` with ``parts``, or RISE with
    ``rise_samples`` masks."""
    if name not in TWELVE:
        raise ValueError(f"name must be one of {TWELVE}, got {name!r}")
    if name == "occlusion":
        return partial(tiled_occlusion, parts=parts)
    if name == "rise":
        return partial(rise, samples=rise_samples, verbose=0)
    return name


def classifier_random(model, images, method, class_index, *, down_to=CLASSIFIER, seed=SEED):
    """The maps of ``method`` once the layers with weights from the top down to ``down_to`` are
    re-initialized, cascading, with :func:`zfkeras.evaluation.randomization_test`'s seeds (step
    ``i`` seeded ``seed + i``); the model itself is not changed. ``(N, h, w)``."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    layers = cascade_layers(clone)
    names = [lay.name for lay in layers]
    if down_to not in names:
        raise ValueError(f"down_to must name a layer with weights {names}, got {down_to!r}")
    for step, layer in enumerate(layers[: names.index(down_to) + 1], start=1):
        reinitialize(layer, seed=seed + step)
    maps = explain(clone, images, method, class_index, verbose=0)
    clear_cache(clone)
    return maps


def reference_maps(n: int, side: int, *, seed: int = SEED) -> np.ndarray:
    """The two maps that use no network (:data:`REFERENCES`), ``(2, n, side, side)``: uniform
    noise drawn in image order from ``seed``, and a 2x2 peak at the image centre."""
    centre = np.zeros((n, side, side), np.float32)
    mid = slice(side // 2 - 1, side // 2 + 1)
    centre[:, mid, mid] = 1
    noise = np.random.default_rng(seed).random((n, side, side)).astype(np.float32)
    return np.stack([noise, centre])


def _values(a) -> list:
    return [round(float(v), 6) for v in np.asarray(a).ravel()]


@dataclass(frozen=True)
class MethodChecks(cli.Record):
    """What :func:`measure` measured, per image; its JSON record holds the same fields.

    Attributes:
        settings: counts, seeds and options of the run (``first`` is None for a full run).
        randomization: ``{"images": shape indices, "spearman": {method: values}}``.
        pointing: ``{check: {"images": indices, "scores": {method or reference: values}}}``
            for ``"shapes: object"``, ``"concepts: object"`` and ``"concepts: parts"``.
        deletion, insertion: ``{"images": CIFAR-10 test indices, "auc": {method or "random":
            values}}``.
        command, keras: as in :class:`~zfkeras.experiments.cli.Record`.
    """

    settings: dict
    randomization: dict
    pointing: dict
    deletion: dict
    insertion: dict


def _first(index, first):
    index = np.asarray(index)
    return index if first is None else index[:first]


def _shapes(methods, count, per_class, first, step):
    bundle = models.pretrained("zfnet-shapes")
    model = bundle.model
    shapes = data.shapes(count, seed=1234, image_size=128)
    x = bundle.preprocess(shapes.images)
    cls = checks.predicted_classes(model, x)
    keep = _first(np.arange(count), first)
    classes = range(len(bundle.class_names))
    sub = np.sort(np.concatenate([np.flatnonzero(cls == c)[:per_class] for c in classes]))
    sub = _first(sub, first)
    refs = dict(zip(REFERENCES, reference_maps(len(keep), x.shape[1])))
    scores = {n: pointing_scores(r, shapes.masks[keep], peaks="all") for n, r in refs.items()}
    rho = {}
    for n, m in methods.items():
        maps = explain(model, x[keep], m, cls[keep], verbose=0)
        scores[n] = pointing_scores(maps, shapes.masks[keep], peaks="all")
        # both maps of the same call positions (SmoothGrad's noise follows the position)
        ref = explain(model, x[sub], m, cls[sub], verbose=0)
        random = classifier_random(model, x[sub], m, cls[sub])
        rho[n] = _values(spearman(np.abs(ref), np.abs(random)))
        step()
    pointing = {"images": keep.tolist(), "scores": {n: _values(v) for n, v in scores.items()}}
    return {"images": sub.tolist(), "spearman": rho}, pointing


def _concepts(methods, count, first, step):
    bundle = models.pretrained("zfnet-concepts")
    side = bundle.model.input_shape[1]
    world = data.concepts(count, seed=4321, image_size=side)
    keep = _first(np.arange(count), first)
    x = bundle.preprocess(world.images[keep])
    cls = checks.predicted_classes(bundle.model, x)
    on_object = world.concept_maps["object"][keep] == (world.labels[keep] + 1)[:, None, None]
    on_parts = (world.concept_maps["part"][keep] > 0) & on_object
    has = on_parts.any(axis=(1, 2))  # the parts check: the images whose object shows a part
    refs = dict(zip(REFERENCES, reference_maps(len(keep), side)))
    checks_ = {
        "concepts: object": (on_object, np.ones(len(keep), bool)),
        "concepts: parts": (on_parts, has),
    }
    out = {c: {"images": keep[k].tolist(), "scores": {}} for c, (_, k) in checks_.items()}
    for n, m in [*refs.items(), *methods.items()]:
        maps = m if isinstance(m, np.ndarray) else explain(bundle.model, x, m, cls, verbose=0)
        for c, (truth, k) in checks_.items():
            out[c]["scores"][n] = _values(pointing_scores(maps[k], truth[k], peaks="all"))
        if not isinstance(m, np.ndarray):
            step()
    return out


def _cifar(methods, count, steps, first, cifar_dir, step):
    bundle = models.pretrained("zfnet-cifar10")
    test_images, _ = data.cifar10("test", data_dir=cifar_dir)
    pick = _first(np.random.default_rng(SEED).permutation(len(test_images))[:count], first)
    x = bundle.preprocess(test_images[pick])
    cls = checks.predicted_classes(bundle.model, x)
    heat = {n: (m, None) for n, m in methods.items()}
    heat["random"] = (None, np.random.default_rng(SEED).random(x.shape[:3]).astype(np.float32))
    curves = {"deletion": {}, "insertion": {}}
    for n, (m, given) in heat.items():
        h = given if m is None else explain(bundle.model, x, m, cls, verbose=0)
        d = deletion_curve(bundle.model, x, h, cls, steps=steps, verbose=0)
        i = insertion_curve(bundle.model, x, h, cls, steps=steps, verbose=0)
        curves["deletion"][n], curves["insertion"][n] = _values(d.auc), _values(i.auc)
        if m is not None:
            step()
    return [{"images": pick.tolist(), "auc": curves[k]} for k in ("deletion", "insertion")]


def measure(
    *,
    shapes: int = 48,
    per_class: int = 5,
    concepts: int = 54,
    cifar: int = 48,
    first: int | None = None,
    parts: int = 8,
    rise_samples: int = 2000,
    steps: int = 16,
    cifar_dir: str | None = None,
    verbose: int | str = VERBOSE,
) -> MethodChecks:
    """The four checks for the twelve methods (see the module docstring).

    Args:
        shapes: synthetic shapes (seed 1234, 128 px; the pointing game on their objects).
        per_class: shapes per class in the randomization check (their first of each class).
        concepts: concept-world images (seed 4321; object and part masks).
        cifar: CIFAR-10 test images (a permutation seeded 0), deletion and insertion.
        first: keep only the first ``first`` images of each check (a quick re-run: the same
            values as the full run's first ones); None: all.
        parts: the occluder is ``1/parts`` of the image side. rise_samples: RISE's masks.
        steps: the deletion and insertion curves' steps.
        cifar_dir: CIFAR-10's folder (None: ``ZFKERAS_CIFAR10``).
        verbose: one progress bar over the methods of the three data sets.

    Returns:
        a :class:`MethodChecks`.
    """
    counts = {"shapes": shapes, "per_class": per_class, "concepts": concepts, "cifar": cifar}
    for name, value in {**counts, "rise_samples": rise_samples, "steps": steps}.items():
        checks.number(value, name, 1, integer=True)
    checks.number(parts, "parts", 1, integer=True)
    if first is not None:
        checks.number(first, "first", 1, integer=True)
    methods = {n: explainer(n, parts=parts, rise_samples=rise_samples) for n in TWELVE}
    bar = Progress(3 * len(methods), verbose=checks.verbose(verbose), unit_name="method")
    done = itertools.count(1)

    def step():  # one bar over the methods of the three data sets
        bar.update(next(done))

    randomization, pointing = _shapes(methods, shapes, per_class, first, step)
    pointing = {"shapes: object": pointing, **_concepts(methods, concepts, first, step)}
    deletion, insertion = _cifar(methods, cifar, steps, first, cifar_dir, step)
    settings = {
        **counts,
        "first": first,
        "parts": parts,
        "rise_samples": rise_samples,
        "steps": steps,
        "randomized_down_to": CLASSIFIER,
    }
    return MethodChecks(settings, randomization, pointing, deletion, insertion)


def load_method_checks(path) -> MethodChecks:
    """A :class:`MethodChecks` read back from its JSON record (:func:`cli.read_record`)."""
    return cli.read_record(MethodChecks, path)


def main(argv=None) -> int:
    p = cli.parser(MODULE, __doc__)
    p.add_argument("--out", default="data/method-checks.json")
    for name, default in (
        ("shapes", 48),
        ("per-class", 5),
        ("concepts", 54),
        ("cifar", 48),
        ("rise-samples", 2000),
    ):
        p.add_argument(f"--{name}", type=int, default=default)
    args = vars(p.parse_args(argv))
    out = args.pop("out")
    cli.write_record(measure(**args, verbose=1), out, MODULE, argv)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
