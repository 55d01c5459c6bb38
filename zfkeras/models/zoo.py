"""Shipped weights: the four small networks trained by this repository (:data:`NAMES`), and the
models a learner installs.

A bundle is ``<name>.keras`` (the model), ``<name>.json`` (recipe, command, measured accuracy,
class names) and ``<name>.mean.npy`` (the per-pixel mean, float32 ``(H, W, 3)``; bundles of
zfkeras 0.1 kept it as a list inside the JSON, which is still read). The shipped bundles are the
repository's ``data/`` folder, installed with the package (see :mod:`zfkeras.config` for the
folders searched and their order). Every bundle records its recipe, the command that
reproduces it and its test accuracy measured by :func:`zfkeras.training.evaluate` at the end of
that command.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from zfkeras import config
from zfkeras import data as zdata

NAMES = ("zfnet-cifar10", "alexnet-cifar10", "zfnet-shapes", "zfnet-concepts")
# Networks converted from an installed package's weights (zfkeras.models.efficientnet), not bundles
CONVERTED = ("efficientnet-lite0-imagenet",)


@dataclass(frozen=True)
class Pretrained:
    """A trained model with what it takes to feed it and to look at its inputs.

    Attributes:
        model: the ``keras.Model`` (softmax output ``predictions``).
        preprocess: uint8 images ``(N, h, w, 3)`` at the dataset's size -> model input
            ``(N, S, S, 3)`` float32 (mean subtracted, scaled, centre crop resized to S).
        deprocess: model input -> uint8 images ``(N, S, S, 3)`` for display.
        class_names: one name per output unit.
        info: recipe, reproducing command, measured accuracy; ``info["mean"]`` is the
            per-pixel mean, float32 ``(H, W, 3)``, at the dataset's size.
    """

    model: keras.Model
    preprocess: Callable[[np.ndarray], np.ndarray]
    deprocess: Callable[[np.ndarray], np.ndarray]
    class_names: list[str]
    info: dict


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_name(name) -> str:
    """Return ``name`` if it can name a bundle, else raise TypeError/ValueError."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"name must be letters, digits, '.', '_' or '-' (like 'zfnet-shapes'), got {name!r}"
        )
    return name


def _folder(name: str) -> Path | None:
    """The first folder of :func:`zfkeras.config.search_path` holding ``<name>.keras``."""
    return next((d for d in config.search_path() if (d / f"{name}.keras").is_file()), None)


def available() -> tuple[str, ...]:
    """Names of the bundles :func:`pretrained` can load (shipped or installed), sorted."""
    found = {
        p.name[: -len(".keras")]
        for d in config.search_path()
        if d.is_dir()
        for p in d.glob("*.keras")
        if (d / f"{p.stem}.json").is_file()
    }
    return tuple(sorted(found))


def read_mean(folder: Path, name: str, info: dict) -> np.ndarray:
    """The bundle's per-pixel mean, float32 ``(H, W, 3)``: ``<name>.mean.npy`` beside the bundle,
    else the ``"mean"`` list inside ``<name>.json`` (the form of zfkeras 0.1 and of the run
    folders written by :func:`zfkeras.training.train`).

    Raises:
        FileNotFoundError: neither is there.
        ValueError: the mean is not an ``(H, W, 3)`` array of finite numbers.
    """
    path = Path(folder) / f"{name}.mean.npy"
    if path.is_file():
        mean = np.load(path, allow_pickle=False)
    elif "mean" in info:
        mean = np.asarray(info["mean"], np.float32)
    else:
        raise FileNotFoundError(
            f"the per-pixel mean of {name!r} is missing: expected {path} "
            f"or a 'mean' entry in {name}.json"
        )
    if mean.ndim != 3 or mean.shape[-1] != 3 or not np.all(np.isfinite(mean)):
        raise ValueError(
            f"the per-pixel mean of {name!r} must be a finite (H, W, 3) array, got "
            f"shape {mean.shape}"
        )
    return mean.astype(np.float32, copy=False)


def install(run_dir: str | Path, name: str, dest: str | Path | None = None) -> Path:
    """Install the bundle written by :func:`zfkeras.training.train` in ``run_dir``
    (``model.keras`` + ``model.json``) as ``dest/<name>.keras``, ``<name>.json`` (without the
    mean) and ``<name>.mean.npy`` (the per-pixel mean, float32), where :func:`pretrained`
    finds it. What ``python -m zfkeras.train --install NAME`` runs.

    Args:
        run_dir: the training command's ``--out`` folder.
        name: the bundle's name, e.g. ``"zfnet-shapes"``.
        dest: target folder; by default :func:`zfkeras.config.install_dir` (``$ZFKERAS_DATA``,
            else the user folder), searched by :func:`pretrained` before the shipped files.

    Returns:
        The path of the installed ``<name>.keras``.

    Raises:
        TypeError, ValueError: a bad ``name``.
        FileNotFoundError: ``run_dir`` lacks ``model.keras`` or ``model.json``.
    """
    check_name(name)
    run = Path(run_dir)
    missing = [f for f in ("model.keras", "model.json") if not (run / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"run_dir {run} lacks {' and '.join(missing)}: train first with "
            f"python -m zfkeras.train --out {run}"
        )
    info = json.loads((run / "model.json").read_text())
    mean = read_mean(run, "model", info)
    info.pop("mean", None)
    out = Path(dest) if dest is not None else config.install_dir()
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / "model.keras", out / f"{name}.keras")
    np.save(out / f"{name}.mean.npy", mean)
    (out / f"{name}.json").write_text(json.dumps(info))
    return out / f"{name}.keras"


def pretrained(name: str = "zfnet-cifar10") -> Pretrained:
    """Load a trained model by name: a shipped one (:data:`NAMES`: ``"zfnet-cifar10"``,
    ``"alexnet-cifar10"``, ``"zfnet-shapes"``, ``"zfnet-concepts"``), one installed by
    ``python -m zfkeras.train --install NAME``, or ``"efficientnet-lite0-imagenet"`` (ImageNet
    weights converted from an installed package: :mod:`zfkeras.models.efficientnet`).

    The bundle ``<name>.keras`` + ``<name>.json`` (+ ``<name>.mean.npy``) is read from the first
    folder that holds it among ``$ZFKERAS_DATA``, the user folder
    (:func:`zfkeras.config.user_data_dir`) and the files shipped inside the package
    (:func:`zfkeras.config.shipped_dir`).

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: unknown name (neither shipped nor installed).
        ModuleNotFoundError: ``"efficientnet-lite0-imagenet"`` without its weights package.
        FileNotFoundError: the files of a shipped model are missing, or a bundle is incomplete
            (the message says where it looked and how to get them).
    """
    check_name(name)
    if name in CONVERTED:
        from zfkeras.models import efficientnet

        return Pretrained(
            model=efficientnet.load_model(),
            preprocess=efficientnet.preprocess,
            deprocess=efficientnet.deprocess,
            class_names=efficientnet.class_names(),
            info=dict(efficientnet.INFO),
        )
    folder = _folder(name)
    if folder is None:
        where = ", ".join(map(str, config.search_path()))
        if name not in NAMES:
            known = set(NAMES) | set(CONVERTED) | set(available())
            raise ValueError(
                f"name must be one of {tuple(sorted(known))}, got {name!r} (searched {where})"
            )
        raise FileNotFoundError(
            f"weights for {name!r} not found in {where}; set $ZFKERAS_DATA to the folder that "
            f"holds them, or train them with `make weights` (see README)"
        )
    mpath, jpath = folder / f"{name}.keras", folder / f"{name}.json"
    if not jpath.is_file():
        raise FileNotFoundError(
            f"{mpath} has no {jpath.name} beside it; reinstall it with "
            f"python -m zfkeras.train --install {name}"
        )
    info = json.loads(jpath.read_text())
    mean = read_mean(folder, name, info)
    info["mean"] = mean
    model = keras.saving.load_model(mpath, compile=False)
    size = int(model.input.shape[1])
    crop_scale = float(info["recipe"]["crop_scale"]) if mean.shape[0] != size else 1.0
    mean_at_size = zdata.centre_crop(mean[None], size, crop_scale).numpy()[0]

    def preprocess(images) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[1:] != mean.shape:
            raise ValueError(
                f"images must be (N, {mean.shape[0]}, {mean.shape[1]}, 3) uint8 for "
                f"{name!r}, got shape {images.shape}"
            )
        return zdata.centre_crop(zdata.normalize(images, mean), size, crop_scale).numpy()

    def deprocess(x) -> np.ndarray:
        x = np.asarray(x, np.float32)
        return np.clip(x * 64.0 + mean_at_size, 0, 255).astype(np.uint8)

    return Pretrained(model, preprocess, deprocess, list(info["class_names"]), info)
