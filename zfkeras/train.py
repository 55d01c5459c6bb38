"""Command line: ``python -m zfkeras.train --arch zfnet --dataset cifar10 --out runs/zfnet``.

Trains by :class:`zfkeras.training.Recipe` and writes a bundle that
:func:`zfkeras.pretrained` can read (copy ``model.keras``/``model.json`` into ``data/`` as
``<name>.keras``/``<name>.json``, or pass ``--install NAME``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import fields


def parse_args(argv=None) -> argparse.Namespace:
    from zfkeras.training import STRATEGIES, Recipe

    p = argparse.ArgumentParser(prog="python -m zfkeras.train", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    defaults = Recipe()
    for f in fields(Recipe):
        if f.name == "extra":
            continue
        value = getattr(defaults, f.name)
        kind = {"train_size": int, "test_size": int}.get(f.name, type(value))
        choices = {"arch": ("zfnet", "alexnet"), "dataset": ("cifar10", "shapes")}.get(f.name)
        p.add_argument("--" + f.name.replace("_", "-"), type=kind, default=value,
                       choices=choices, help=f"recipe field {f.name}")
    p.add_argument("--out", default="runs/run", help="output folder")
    p.add_argument("--data-dir", default=None, help="CIFAR-10 folder (else $ZFKERAS_CIFAR10)")
    p.add_argument("--strategy", default="default", choices=STRATEGIES,
                   help="tf.distribute strategy")
    p.add_argument("--logical-cpus", type=int, default=0,
                   help="split the CPU into N logical devices (to try 'mirrored' without GPUs)")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="cap steps per epoch")
    p.add_argument("--install", default=None, metavar="NAME",
                   help="also copy the bundle to the data folder as NAME.keras/NAME.json")
    p.add_argument("--verbose", type=int, default=1, help="Keras fit verbosity (0, 1 or 2)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    devices = None
    if args.logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus)
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    from zfkeras import config
    from zfkeras.training import Recipe, make_strategy, train

    recipe = Recipe(**{f.name: getattr(args, f.name) for f in fields(Recipe) if f.name != "extra"})
    strategy = make_strategy(args.strategy, devices)
    command = "python -m zfkeras.train " + " ".join(argv if argv is not None else sys.argv[1:])
    _, info = train(recipe, args.out, data_dir=args.data_dir, strategy=strategy,
                    steps_per_epoch=args.steps_per_epoch, verbose=args.verbose, command=command)
    print(f"test accuracy {info['test_accuracy']:.4f} (centre crop), "
          f"{info['test_accuracy_10crop']:.4f} (10 crops); "
          f"{strategy.num_replicas_in_sync} replica(s)")
    if args.install:
        dest = config.data_dir()
        dest.mkdir(parents=True, exist_ok=True)
        for ext in ("keras", "json"):
            shutil.copy(os.path.join(args.out, f"model.{ext}"), dest / f"{args.install}.{ext}")
        print(f"installed as {dest / args.install}.keras")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
