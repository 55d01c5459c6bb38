"""The networks: ZFNet and AlexNet (paper Fig. 3, section 4.1), their custom layers (contrast
normalization and the filter renormalization), and the shipped weights.
"""

from zfkeras.models import imagenet, layers
from zfkeras.models.architectures import (
    alexnet,
    min_input_size,
    spatial_sizes,
    zfnet,
)
from zfkeras.models.zoo import NAMES, Pretrained, pretrained

__all__ = [
    "NAMES",
    "Pretrained",
    "alexnet",
    "imagenet",
    "layers",
    "min_input_size",
    "pretrained",
    "spatial_sizes",
    "zfnet",
]
