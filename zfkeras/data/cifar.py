"""CIFAR-10 from a one-folder-per-class tree (offline) or ``keras.datasets.cifar10`` (online).

Why not ``keras.utils.image_dataset_from_directory`` (measured): the folder reader
below is ~40 lines, reads the 10,000 test JPEGs in about 4 s on a shared 2-core machine, keeps
them in memory per process (``functools.lru_cache``), checks every file and supports a
per-class ``limit``. TensorFlow's JPEG decoder gives different pixels than OpenCV's on the
same files (every one of 200 test images differed, by up to 5 grey levels), and the shipped
weights, means and accuracies were made with OpenCV's: switching would change them. The Keras
loader would also need the whole ``tf.data`` pipeline collected back into arrays.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import cv2
import numpy as np

from zfkeras.config import CIFAR10_ENV

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


_LAYOUT = "<dir>/{train,test}/<class name>/<image>.jpg|png, class names " + ", ".join(
    CIFAR10_CLASSES
)


class DatasetFolderError(FileNotFoundError, ValueError):
    """A dataset folder is missing or not laid out as expected (both a ``FileNotFoundError``
    and a ``ValueError``)."""


def cifar10(
    split: str = "test", data_dir: str | os.PathLike | None = None, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load a CIFAR-10 split as ``(images, labels)``.

    Args:
        split: ``"train"`` (50,000 images) or ``"test"`` (10,000).
        data_dir: folder laid out ``data_dir/<split>/<class>/<file>.jpg``; if None, the
            environment variable ``ZFKERAS_CIFAR10``; if that is unset too,
            ``keras.datasets.cifar10``, which downloads (a ``UserWarning`` says so first).
        limit: keep only the first ``limit`` images of every class (a fast subset).

    Returns:
        ``images`` uint8 ``(N, 32, 32, 3)`` RGB and ``labels`` int32 ``(N,)`` indexing
        :data:`CIFAR10_CLASSES`, in class order.

    Raises:
        ValueError: for a bad ``split`` or ``limit``.
        DatasetFolderError: the folder is missing or malformed; the message names the path,
            the environment variable and the expected layout.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    source = data_dir if data_dir is not None else os.environ.get(CIFAR10_ENV)
    if source is None:
        warnings.warn(
            f"zfkeras.data.cifar10: neither data_dir nor ${CIFAR10_ENV} is set, so CIFAR-10 "
            "comes from keras.datasets.cifar10, which downloads it (about 170 MB, into "
            "~/.keras/datasets) unless it is already there; pass data_dir= or set "
            f"${CIFAR10_ENV} to read a local copy",
            UserWarning,
            stacklevel=2,
        )
        (xtr, ytr), (xte, yte) = __import__("keras").datasets.cifar10.load_data()
        x, y = (xtr, ytr) if split == "train" else (xte, yte)
        y = y.reshape(-1).astype(np.int32)
        order = np.argsort(y, kind="stable")
        x, y = x[order], y[order]
        if limit is not None:
            keep = np.concatenate([np.flatnonzero(y == c)[:limit] for c in range(10)])
            x, y = x[keep], y[keep]
        return x, y
    origin = "data_dir" if data_dir is not None else f"${CIFAR10_ENV}"
    images, labels = _read_folder(str(Path(source).expanduser().resolve()), split, limit, origin)
    return images.copy(), labels.copy()


@functools.lru_cache(maxsize=4)
def _read_folder(root: str, split: str, limit: int | None, origin: str):
    where = f"(given by {origin})"
    folder = Path(root) / split
    if not folder.is_dir():
        raise DatasetFolderError(
            f"CIFAR-10 folder {folder} does not exist {where}. Pass data_dir= or set "
            f"${CIFAR10_ENV} to a folder laid out as {_LAYOUT}"
        )
    found = sorted(p.name for p in folder.iterdir() if p.is_dir())
    missing = [c for c in CIFAR10_CLASSES if c not in found]
    if missing:
        raise DatasetFolderError(
            f"CIFAR-10 folder {folder} is malformed: class folders {missing} are missing "
            f"(found {found}). Expected layout {_LAYOUT}; set ${CIFAR10_ENV} or data_dir."
        )
    images, labels = [], []
    for c, name in enumerate(CIFAR10_CLASSES):
        files = sorted(
            p for p in (folder / name).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")
        )[:limit]
        if not files:
            raise DatasetFolderError(
                f"CIFAR-10 class folder {folder / name} holds no .jpg/.png images. "
                f"Expected layout {_LAYOUT}; set ${CIFAR10_ENV} or data_dir."
            )
        for f in files:
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is None or img.shape != (32, 32, 3):
                raise DatasetFolderError(
                    f"{f} is not a readable 32x32 colour image. Expected layout {_LAYOUT}."
                )
            images.append(img[:, :, ::-1])
        labels += [c] * len(files)
    return np.stack(images), np.asarray(labels, np.int32)
