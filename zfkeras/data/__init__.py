"""Datasets and the paper's preprocessing (section 3), at CPU size.

* :func:`cifar10` reads CIFAR-10 from a one-folder-per-class tree (offline) or falls back to
  ``keras.datasets.cifar10`` (online).
* :func:`concepts` generates the concept world (a :class:`ConceptWorld`; its design is in
  :mod:`zfkeras.data.concept_design`): objects built from parts that recur across
  classes, with colour, texture, part and object masks at every pixel (network dissection).
* :func:`photos`: real photographs shipped inside scikit-image, scikit-learn and matplotlib.
* :func:`shapes` generates the synthetic dataset (a :class:`Shapes`): objects with
  ground-truth masks and, for the face-like class, part positions.
* :func:`crop_resize`, :func:`augment_batch`, :func:`ten_crops` implement the paper's
  pipeline: per-pixel mean subtraction, random crops with horizontal flips for training, the
  centre crop for single-crop evaluation, and the 10-crop evaluation (4 corners + centre, each
  with its mirror image).
"""

from zfkeras.data.cifar import CIFAR10_CLASSES, DatasetFolderError, cifar10
from zfkeras.data.concepts import CONCEPT_CLASSES, ConceptWorld, concepts
from zfkeras.data.photos import PHOTOS, Photo, photos
from zfkeras.data.shapes import FACE_PARTS, SHAPES_CLASSES, Shapes, shapes
from zfkeras.data.transforms import (
    augment_batch,
    centre_crop,
    crop_boxes,
    crop_resize,
    hide_patches,
    normalize,
    per_pixel_mean,
    photometric_batch,
    ten_crops,
)

__all__ = [
    "CIFAR10_CLASSES",
    "CONCEPT_CLASSES",
    "FACE_PARTS",
    "PHOTOS",
    "Photo",
    "SHAPES_CLASSES",
    "ConceptWorld",
    "DatasetFolderError",
    "Shapes",
    "augment_batch",
    "photometric_batch",
    "centre_crop",
    "cifar10",
    "concepts",
    "crop_boxes",
    "crop_resize",
    "hide_patches",
    "normalize",
    "per_pixel_mean",
    "photos",
    "shapes",
    "ten_crops",
]
