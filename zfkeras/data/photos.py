"""Real photographs shipped inside installed packages, for the ImageNet network of chapter 17:
nothing is downloaded.

* scikit-image (``skimage.data``): astronaut, chelsea (a cat), coffee (a cup of espresso),
  rocket, motorcycle (the left view of the stereo pair);
* scikit-learn (``sklearn.datasets.load_sample_images``): china (a temple), flower;
* matplotlib (``matplotlib.cbook.get_sample_data``): grace_hopper.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["PHOTOS", "Photo", "photos"]


@dataclass(frozen=True)
class Photo:
    """One photograph.

    Attributes:
        name: its name in :data:`PHOTOS`.
        image: uint8 ``(H, W, 3)``.
        source: the package and function it comes from.
    """

    name: str
    image: np.ndarray
    source: str


def _skimage(name: str) -> tuple[np.ndarray, str]:
    from skimage import data

    if name == "motorcycle":
        return data.stereo_motorcycle()[0], "scikit-image: skimage.data.stereo_motorcycle()[0]"
    return getattr(data, name)(), f"scikit-image: skimage.data.{name}()"


def _sklearn(name: str) -> tuple[np.ndarray, str]:
    from sklearn.datasets import load_sample_images

    found = load_sample_images()
    index = [f.rsplit("/", 1)[-1] for f in found.filenames].index(f"{name}.jpg")
    return found.images[index], f"scikit-learn: load_sample_images() {name}.jpg"


def _matplotlib(name: str) -> tuple[np.ndarray, str]:
    # the file of matplotlib.cbook.get_sample_data, found without importing matplotlib (only
    # zfkeras.figures imports it) and decoded with OpenCV
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("matplotlib")
    path = Path(spec.submodule_search_locations[0]) / "mpl-data" / "sample_data" / f"{name}.jpg"
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"matplotlib's sample photo {path} is missing")
    return cv2.cvtColor(
        image, cv2.COLOR_BGR2RGB
    ), f"matplotlib: cbook.get_sample_data('{name}.jpg')"


_READERS = {
    "astronaut": ("scikit-image", _skimage),
    "chelsea": ("scikit-image", _skimage),
    "coffee": ("scikit-image", _skimage),
    "rocket": ("scikit-image", _skimage),
    "motorcycle": ("scikit-image", _skimage),
    "china": ("scikit-learn", _sklearn),
    "flower": ("scikit-learn", _sklearn),
    "grace_hopper": ("matplotlib", _matplotlib),
}
PHOTOS = tuple(_READERS)


def photos(names=None) -> tuple[Photo, ...]:
    """The photographs ``names`` (default: all of :data:`PHOTOS`), in that order.

    Args:
        names: a name or a sequence of names from :data:`PHOTOS`, or None for all.

    Returns:
        One :class:`Photo` per name, each image uint8 ``(H, W, 3)`` at its own size.

    Raises:
        TypeError: ``names`` is not None, a str or a sequence of str.
        ValueError: an unknown name.
        ModuleNotFoundError: the package holding a photo is not installed (it is named).
    """
    if names is None:
        names = PHOTOS
    elif isinstance(names, str):
        names = (names,)
    elif not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"names must be None, a str or a sequence of str, got {names!r}")
    unknown = [n for n in names if n not in _READERS]
    if unknown:
        raise ValueError(f"names must be among {PHOTOS}, got {unknown}")
    out = []
    for name in names:
        package, reader = _READERS[name]
        try:
            image, source = reader(name)
        except ImportError as e:
            raise ModuleNotFoundError(
                f"the photo {name!r} ships with {package}, which is not installed: "
                f"pip install {package}"
            ) from e
        image = np.ascontiguousarray(np.asarray(image)[..., :3], dtype=np.uint8)
        out.append(Photo(name, image, source))
    return tuple(out)
