"""Command line: ``python -m zfkeras.train --arch zfnet --dataset cifar10 --out runs/zfnet``.

Trains by :class:`zfkeras.training.Recipe` and writes a bundle that
:func:`zfkeras.pretrained` can read once installed: ``--install NAME`` writes it as
``NAME.keras``, ``NAME.json`` and ``NAME.mean.npy`` into ``$ZFKERAS_DATA`` when set, else into
the user folder (``~/.local/share/zfkeras`` on Linux); ``zfkeras.pretrained(NAME)`` searches both.
Rerunning an interrupted command with the same ``--out`` resumes from its last completed epoch,
and rerunning a finished one only installs its bundle again (``--fresh`` starts over).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

HELP = {
    "arch": "Network to train: 'zfnet' (paper Fig. 3: conv1 7x7 stride 2) or 'alexnet' (conv1 "
    "11x11 stride 4 and conv2 stride 1, the baseline of paper section 4.1).",
    "dataset": "Training and test images: 'cifar10' (read from --data-dir or $ZFKERAS_CIFAR10) "
    "'shapes' (the synthetic set of zfkeras.data.shapes) or 'concepts' (the concept "
    "world of zfkeras.data.concepts), both generated at --image-size.",
    "epochs": "Number of passes over the training set; the paper trained 70 epochs on ImageNet.",
    "batch_size": "Images per SGD step (the mini-batch); the paper used 128.",
    "lr": "Peak SGD learning rate, reached at the end of the warm-up and then decayed to 0 by a "
    "cosine over the remaining steps; the paper started at 1e-2 and lowered it by hand.",
    "momentum": "SGD momentum coefficient; the paper used 0.9.",
    "weight_decay": "Decoupled weight decay: every step multiplies each weight by "
    "1 - weight_decay * lr (0 switches it off); the paper states none.",
    "warmup_epochs": "Length of the linear learning-rate warm-up from 0 to --lr, in epochs "
    "(fractions allowed, 0 for none); not in the paper.",
    "width": "Multiplier on every conv layer's number of filters (1.0 is the paper's "
    "96-256-384-384-256; 0.5 halves them to train on a CPU).",
    "fc_units": "Number of units in each of fc6 and fc7; the paper used 4096.",
    "dropout": "Dropout rate after fc6 and fc7, as a fraction (0 removes the dropout layers); "
    "the paper used 0.5.",
    "image_size": "Side of the square network input in pixels: training uses random crops of this "
    "size, testing the centre crop; the paper used 224.",
    "crop_scale": "Ratio of the resized image side to --image-size before cropping (the paper "
    "cropped 224 from 256, a ratio of about 1.14).",
    "train_size": "Number of training images: a random subset of CIFAR-10's 50000, or the number "
    "of shapes generated (20000 when not given).",
    "test_size": "Number of test images: a random subset of CIFAR-10's 10000, or the number of "
    "shapes generated (2000 when not given).",
    "seed": "Random seed for the data subset, the shapes images, weight initialization, "
    "dropout and shuffling.",
    "renorm": "Keep the paper's filter renormalization (any conv filter whose RMS exceeds 0.1 is "
    "scaled back to 0.1 after every step, paper section 3); --no-renorm trains "
    "without it.",
    "conv1_init": "Scale of conv1's initial weights relative to He-normal; a small start leaves "
    "the first layer's filters to what the data teaches (the paper initialized every weight at "
    "1e-2).",
    "conv1_lr": "Multiplier on conv1's learning rate (Caffe's lr_mult), so that the first layer "
    "learns within a short run.",
    "colour_jitter": "Per-image colour gain and offset spread in normalized units (0 for none); "
    "not in the paper.",
    "noise": "Largest standard deviation of per-pixel Gaussian noise in normalized units (0 for "
    "none); not in the paper.",
    "blur": "Probability of blurring a training image with a 5-tap binomial filter; not in the "
    "paper.",
    "blur_passes": "Times the blur filter is applied to an image chosen by --blur (2 is a 9-tap "
    "binomial): a softer image leaves the first layer fewer pixel-sharp edges to fit.",
    "hide": "Hide-and-Seek (Singh & Lee 2017): the probability with which each --hide-patch square "
    "of a training image is set to the mean (0 for none), so that the network learns to use the "
    "whole object rather than its single most telling part; not in the paper.",
    "hide_patch": "Side in pixels of the squares --hide hides (a grid from the top-left corner).",
    "label_smoothing": "Label smoothing e (Szegedy et al. 2016): the training target gives the "
    "true class 1 - e + e/C and every class e/C, so that probabilities stay below 1 and a "
    "change of the evidence shows in them (0 for none); not in the paper.",
    "init_from": "Path of a finished run's model.keras to start from instead of a random "
    "initialization: a warm restart with a fresh optimizer and learning-rate schedule (Loshchilov "
    "& Hutter 2017); the bundle lists the commands of both runs. Not in the paper.",
    "reinit": "Comma-separated layers that do not take --init-from's weights but start from a "
    "fresh initialization (conv1 at --conv1-init), e.g. 'conv1': a trained network learns a new "
    "first layer. Not in the paper.",
}


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser: one option per :class:`zfkeras.training.Recipe` field plus
    the run options (output folder, resuming, distribution, installing)."""
    from zfkeras.training import DATASETS, STRATEGIES, Recipe

    p = argparse.ArgumentParser(
        prog="python -m zfkeras.train",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    defaults = Recipe()
    for f in fields(Recipe):
        if f.name == "extra":
            continue
        value = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            p.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=value, help=HELP[f.name]
            )
            continue
        kind = {"train_size": int, "test_size": int, "init_from": str}.get(f.name, type(value))
        choices = {"arch": ("zfnet", "alexnet"), "dataset": DATASETS}.get(f.name)
        p.add_argument(flag, type=kind, default=value, choices=choices, help=HELP[f.name])
    p.add_argument(
        "--out",
        default="runs/run",
        help="Output folder for history.json, checkpoint.keras and the bundle "
        "model.keras/model.json; while training it also holds backup/, from "
        "which rerunning the same command resumes after an interruption.",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="Delete the backup in --out and train from epoch 0 instead of resuming, or "
        "instead of returning the finished run already in --out.",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="CIFAR-10 folder (train/ and test/, one folder per class); when not "
        "given, $ZFKERAS_CIFAR10 is used.",
    )
    p.add_argument(
        "--strategy",
        default="default",
        choices=STRATEGIES,
        help="The tf.distribute strategy that replicates training over devices.",
    )
    p.add_argument(
        "--logical-cpus",
        type=int,
        default=0,
        help="Split the CPU into this many logical devices (to try 'mirrored' "
        "without GPUs); 0 or 1 leaves it whole.",
    )
    p.add_argument(
        "--steps-per-epoch",
        type=int,
        default=None,
        help="Optimizer steps per epoch, repeating the training set as needed; "
        "when not given, one pass over the training set (incomplete last "
        "batch dropped).",
    )
    p.add_argument(
        "--install",
        default=None,
        metavar="NAME",
        help="Also install the finished bundle as NAME.keras, NAME.json and "
        "NAME.mean.npy (the per-pixel mean) into $ZFKERAS_DATA when set, else "
        "into the user folder (~/.local/share/zfkeras on Linux), where "
        "zfkeras.pretrained(NAME) finds it.",
    )
    p.add_argument(
        "--verbose",
        type=int,
        default=1,
        help="Keras fit verbosity: 0 silent, 1 a progress bar, 2 one line per epoch.",
    )
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (``argv`` or ``sys.argv[1:]``)."""
    return build_parser().parse_args(argv)


def main(argv=None) -> int:
    """The command line (``python -m zfkeras.train`` and the ``zfkeras-train`` script): it
    starts TensorFlow quietly (:mod:`zfkeras._quiet`), trains and installs."""
    from zfkeras._quiet import start_command

    start_command()  # before anything imports TensorFlow (the parser reads the Recipe)
    args = parse_args(argv)
    if args.install is not None:
        from zfkeras.models.zoo import check_name

        try:
            check_name(args.install)
        except ValueError as e:  # before hours of training, not after
            build_parser().error(f"--install: {e}")
    import tensorflow as tf

    devices = None
    if args.logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus
        )
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    from zfkeras.models.zoo import install
    from zfkeras.training import Recipe, make_strategy, train

    recipe = Recipe(**{f.name: getattr(args, f.name) for f in fields(Recipe) if f.name != "extra"})
    strategy = make_strategy(args.strategy, devices)
    command = "python -m zfkeras.train " + " ".join(argv if argv is not None else sys.argv[1:])
    info = train(
        recipe,
        args.out,
        data_dir=args.data_dir,
        strategy=strategy,
        steps_per_epoch=args.steps_per_epoch,
        verbose=args.verbose,
        command=command,
        fresh=args.fresh,
    ).info
    print(
        f"test accuracy {info['test_accuracy']:.4f} (centre crop), "
        f"{info['test_accuracy_10crop']:.4f} (10 crops); "
        f"{strategy.num_replicas_in_sync} replica(s)"
    )
    if args.install:
        print(f"installed as {install(args.out, args.install)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
