"""Transfer to new classes within one domain (paper Tables 4-7, Fig. 9).

The paper trained on ImageNet and then, with layers 1-7 frozen, trained only a new softmax on
Caltech-101/256 (photographs of other classes) with few labelled images per class, against the
same network trained from scratch on those images. The analog here stays inside CIFAR-10: the
network is pretrained on the *source* classes only, and the *target* classes (never seen in
pretraining) are learned from 1, 5, 10, 25, 50 or 100 labelled images per class:

* ``frozen``: a new softmax (multinomial logistic regression) on each layer's frozen features
  (Table 7 per layer; fc7 is the paper's Tables 4-6 setting);
* ``scratch``: the same architecture from random weights, trained on the same images.

Python: :func:`source_target_split`, :func:`pretrain`, :func:`transfer_curves`,
:func:`run_transfer`. Command line (the shipped ``data/transfer-cifar10.json``)::

    python -m zfkeras.experiments.transfer --out data/transfer-cifar10.json
"""

from __future__ import annotations

from zfkeras._quiet import start_command

start_command(__name__)  # run as a command line: TensorFlow starts without its log lines

import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import keras
import numpy as np
import tensorflow as tf

from zfkeras import config, training
from zfkeras import data as zdata
from zfkeras.experiments import cli
from zfkeras.experiments.few_shot import few_shot_indices, seeded_weights
from zfkeras.experiments.probes import layer_features, linear_probe
from zfkeras.experiments.source_target import Split as Split
from zfkeras.experiments.source_target import source_target_split as source_target_split
from zfkeras.methods.checks import VERBOSE

MODULE = "zfkeras.experiments.transfer"  # its command line: python -m MODULE

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")
TARGET_CLASSES = ("frog", "horse", "ship", "truck")  # held out of pretraining


def transfer_recipe(**overrides) -> training.Recipe:
    """Pretraining recipe of the shipped run: CIFAR-10 source classes at 64x64, 1,000 images
    per source class, 8 epochs of batches of 64 (tiny in quick mode)."""
    base = training.Recipe(
        dataset="cifar10",
        image_size=64,
        epochs=config.pick(8, 1),
        train_size=config.pick(6000, 60),
        batch_size=config.pick(64, 32),
        seed=0,
    )
    return replace(base, **overrides)


def pretrain(recipe: training.Recipe, x, y, num_classes: int, *, verbose: int | str = VERBOSE):
    """Train ``recipe``'s model on uint8 images ``x`` (labels ``0..num_classes-1``) with the
    recipe's SGD schedule and augmentation; return ``(model, mean, history)``."""
    fitted = training.fit(recipe, x, y, num_classes=num_classes, verbose=verbose)
    model, mean, hist = fitted.model, fitted.mean, fitted.history
    rows = [
        {k: round(float(v[e]), 4) for k, v in hist.history.items()}
        for e in range(len(hist.history["loss"]))
    ]
    return model, mean, rows


def eval_view(images, mean, recipe: training.Recipe) -> tf.Tensor:
    """The centre-crop evaluation view of uint8 images (model inputs)."""
    return zdata.centre_crop(
        zdata.normalize(np.asarray(images), mean), recipe.image_size, recipe.crop_scale
    )


def train_scratch(recipe: training.Recipe, x, y, num_classes: int, steps: int) -> tuple:
    """The same network from random weights, trained on the few images ``x`` (uint8) for
    ``steps`` Adam (1e-3) steps of augmented batches; returns ``(model, mean)`` (the mean of
    ``x`` itself: nothing from the source is used)."""
    mean = zdata.per_pixel_mean(x)
    batch = min(32, len(x))
    batches = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=recipe.seed)
        .repeat()
        .batch(batch)
    )
    size, scale = recipe.image_size, recipe.crop_scale
    ds = (
        tf.data.Dataset.zip((batches, training.batch_seeds(seed=recipe.seed)))
        .map(lambda ab, s: (zdata.augment_batch(ab[0], mean, size, scale, seed=s), ab[1]))
        .prefetch(2)
    )
    model = training.build_model(recipe, num_classes)
    seeded_weights(model, seed=recipe.seed)  # no global reseeding: each layer drawn from its seed
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    return model, mean


def transfer_curves(
    model: keras.Model,
    mean,
    recipe: training.Recipe,
    pool_images,
    pool_labels,
    x_test,
    y_test,
    per_class: Sequence[int] = (1, 5, 10, 25, 50, 100),
    layers: Sequence[str] = LAYERS,
    repeats: int = 2,
    scratch_steps: int = 120,
) -> list[dict]:
    """For each number of labelled target images per class and each of ``repeats`` random
    draws: the test accuracy of a new softmax on each layer's frozen features of ``model``
    (pretrained, normalized with its ``mean``), and of the network trained from scratch.

    Args:
        pool_images, pool_labels: uint8 target-class images and labels ``0..k-1`` to draw from;
        x_test, y_test: the target test set.

    Returns:
        one dict per ``per_class``: ``per_class``, ``frozen`` (dict layer -> mean accuracy over
        the draws), ``scratch`` (mean), ``frozen_runs`` / ``scratch_runs`` (each draw).
    """
    classes = int(np.max(pool_labels)) + 1
    test_feats = layer_features(model, eval_view(x_test, mean, recipe), layers).features
    rows = []
    bar = keras.utils.Progbar(len(per_class) * repeats)
    for n in per_class:
        frozen_runs, scratch_runs = [], []
        for r in range(repeats):
            idx = few_shot_indices(pool_labels, int(n), seed=r)
            x, y = pool_images[idx], np.asarray(pool_labels)[idx]
            feats = layer_features(model, eval_view(x, mean, recipe), layers).features
            frozen_runs.append(
                {
                    lay: round(linear_probe(feats[lay], y, test_feats[lay], y_test), 4)
                    for lay in layers
                }
            )
            scratch, s_mean = train_scratch(replace(recipe, seed=r), x, y, classes, scratch_steps)
            scratch_runs.append(
                round(training.evaluate(scratch, x_test, y_test, s_mean, recipe.crop_scale), 4)
            )
            bar.add(1)
        rows.append(
            {
                "per_class": int(n),
                "frozen": {
                    lay: round(float(np.mean([f[lay] for f in frozen_runs])), 4) for lay in layers
                },
                "scratch": round(float(np.mean(scratch_runs)), 4),
                "frozen_runs": frozen_runs,
                "scratch_runs": scratch_runs,
            }
        )
    return rows


@dataclass(frozen=True)
class Transfer(cli.Record):
    """One transfer run (:func:`run_transfer`); ``dataclasses.asdict`` of it is the JSON record.

    Attributes:
        recipe: the pretraining recipe, as a dict of its fields.
        source_classes, target_classes: the CIFAR-10 class names of each side.
        source_images: the pretraining images used.
        source_test_accuracy: the pretrained model's accuracy on the source classes' test images.
        pretrain_history: one dict per pretraining epoch.
        pretrain_seconds, seconds: the pretraining's and the whole run's wall time.
        test_images: the target test images.
        repeats, scratch_steps: as passed.
        rows: :func:`transfer_curves`' rows.
        command, keras: as in :class:`~zfkeras.experiments.cli.Record`.
    """

    recipe: dict
    source_classes: list
    target_classes: list
    source_images: int
    source_test_accuracy: float
    pretrain_history: list
    pretrain_seconds: float
    test_images: int
    repeats: int
    scratch_steps: int
    seconds: float
    rows: list


def run_transfer(
    recipe: training.Recipe | None = None,
    target_names: Sequence[str] = TARGET_CLASSES,
    per_class: Sequence[int] | None = None,
    test_per_class: int | None = None,
    repeats: int | None = None,
    scratch_steps: int | None = None,
    data_dir: str | None = None,
) -> Transfer:
    """Pretrain on CIFAR-10's source classes, then :func:`transfer_curves` on the held-out
    ``target_names`` (test images from CIFAR-10's test split)."""
    recipe = recipe or transfer_recipe()
    per_class = per_class or config.pick((1, 5, 10, 25, 50, 100), (1, 2))
    repeats = repeats or config.pick(2, 1)
    scratch_steps = scratch_steps or config.pick(120, 2)
    test_per_class = test_per_class or config.pick(500, 5)
    names = list(zdata.CIFAR10_CLASSES)
    unknown = [t for t in target_names if t not in names]
    if unknown:
        raise ValueError(f"target_names must be CIFAR-10 classes ({names}), got {unknown}")
    limit = config.pick(None, 30)  # images per class read (quick mode: a few)
    xtr, ytr = zdata.cifar10("train", data_dir, limit)
    xte, yte = zdata.cifar10("test", data_dir, limit)
    targets = [names.index(t) for t in target_names]
    split, test_split = source_target_split(ytr, targets), source_target_split(yte, targets)
    rng = np.random.default_rng(recipe.seed)
    keep = np.sort(rng.permutation(len(split.source))[: recipe.train_size or len(split.source)])
    x_src, y_src = xtr[split.source[keep]], split.source_labels[keep]
    t0 = time.time()
    model, mean, history = pretrain(recipe, x_src, y_src, len(split.source_classes))
    pretrain_seconds = round(time.time() - t0, 1)
    s_test = test_split.source[:]
    source_acc = training.evaluate(
        model, xte[s_test], test_split.source_labels, mean, recipe.crop_scale
    )
    test_idx = np.concatenate(
        [
            test_split.target[test_split.target_labels == k][:test_per_class]
            for k in range(len(targets))
        ]
    )
    t_test = np.isin(test_split.target, test_idx)
    x_test, y_test = xte[test_split.target[t_test]], test_split.target_labels[t_test]
    rows = transfer_curves(
        model,
        mean,
        recipe,
        xtr[split.target],
        split.target_labels,
        x_test,
        y_test,
        per_class,
        LAYERS,
        repeats,
        scratch_steps,
    )
    return Transfer(
        recipe=asdict(recipe),
        source_classes=[names[c] for c in split.source_classes],
        target_classes=list(target_names),
        source_images=int(len(x_src)),
        source_test_accuracy=round(source_acc, 4),
        pretrain_history=history,
        pretrain_seconds=pretrain_seconds,
        test_images=int(len(y_test)),
        repeats=repeats,
        scratch_steps=scratch_steps,
        seconds=round(time.time() - t0, 1),
        rows=rows,
    )


def load_transfer(path) -> Transfer:
    """A :class:`Transfer` from its JSON record (the shipped ``data/transfer-cifar10.json``)."""
    return cli.read_record(Transfer, path)


def main(argv=None) -> int:
    p = cli.parser(MODULE, __doc__)
    p.add_argument("--out", default="data/transfer-cifar10.json")
    p.add_argument("--epochs", type=int, default=None, help="pretraining epochs")
    p.add_argument("--train-size", type=int, default=None, help="source images")
    p.add_argument("--repeats", type=int, default=None, help="random draws per size")
    p.add_argument("--scratch-steps", type=int, default=None)
    args = p.parse_args(argv)
    over = {
        k: v for k, v in (("epochs", args.epochs), ("train_size", args.train_size)) if v is not None
    }
    result = run_transfer(
        transfer_recipe(**over), repeats=args.repeats, scratch_steps=args.scratch_steps
    )
    cli.write_record(result, args.out, MODULE, argv)
    print(f"source accuracy {result.source_test_accuracy:.3f}")
    for r in result.rows:
        print(
            f"{r['per_class']:4d}/class  fc7 {r['frozen']['fc7']:.3f}  "
            f"best {max(r['frozen'].values()):.3f}  scratch {r['scratch']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
