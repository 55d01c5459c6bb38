"""Shipped weights: small ZFNets trained by this repository (``data/<name>.keras`` + ``.json``).

Every bundle records its recipe, the command that reproduces it and its test accuracy measured by
:func:`zfkeras.training.evaluate` at the end of that command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from zfkeras import config
from zfkeras import data as zdata

NAMES = ("zfnet-cifar10", "alexnet-cifar10", "zfnet-shapes")


@dataclass
class Pretrained:
    """A trained model with what it takes to feed it and to look at its inputs.

    Attributes:
        model: the ``keras.Model`` (softmax output ``predictions``).
        preprocess: uint8 images ``(N, h, w, 3)`` at the dataset's size -> model input
            ``(N, S, S, 3)`` float32 (mean subtracted, scaled, centre crop resized to S).
        deprocess: model input -> uint8 images ``(N, S, S, 3)`` for display.
        class_names: one name per output unit.
        info: recipe, reproducing command, measured accuracy, per-pixel mean.
    """

    model: keras.Model
    preprocess: Callable[[np.ndarray], np.ndarray]
    deprocess: Callable[[np.ndarray], np.ndarray]
    class_names: list[str]
    info: dict


def _paths(name: str) -> tuple[Path, Path]:
    root = config.data_dir()
    return root / f"{name}.keras", root / f"{name}.json"


def pretrained(name: str = "zfnet-cifar10") -> Pretrained:
    """Load a shipped model by name: ``"zfnet-cifar10"``, ``"alexnet-cifar10"`` or
    ``"zfnet-shapes"``.

    Raises:
        ValueError: unknown name.
        FileNotFoundError: the weight files are missing (the message gives the command that
            trains them).
    """
    if name not in NAMES:
        raise ValueError(f"name must be one of {NAMES}, got {name!r}")
    mpath, jpath = _paths(name)
    if not mpath.exists() or not jpath.exists():
        raise FileNotFoundError(
            f"weights for {name!r} not found at {mpath}; set $ZFKERAS_DATA to the folder that "
            f"holds them, or train them with `make weights` (see README)")
    info = json.loads(jpath.read_text())
    model = keras.saving.load_model(mpath, compile=False)
    mean = np.asarray(info["mean"], np.float32)
    size = int(model.input.shape[1])
    crop_scale = float(info["recipe"]["crop_scale"]) if mean.shape[0] != size else 1.0
    mean_at_size = zdata.centre_crop(mean[None], size, crop_scale).numpy()[0]

    def preprocess(images) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[1:] != mean.shape:
            raise ValueError(f"images must be (N, {mean.shape[0]}, {mean.shape[1]}, 3) uint8 for "
                             f"{name!r}, got shape {images.shape}")
        return zdata.centre_crop(zdata.normalize(images, mean), size, crop_scale).numpy()

    def deprocess(x) -> np.ndarray:
        x = np.asarray(x, np.float32)
        return np.clip(x * 64.0 + mean_at_size, 0, 255).astype(np.uint8)

    return Pretrained(model, preprocess, deprocess, list(info["class_names"]), info)


