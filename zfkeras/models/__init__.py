"""The networks: ZFNet and AlexNet (paper Fig. 3, section 4.1), their custom layers (contrast
normalization, the filter renormalization and the deconvnet's layers), and the shipped weights.
"""

from zfkeras.models import layers
from zfkeras.models.architectures import (
    alexnet,
    min_input_size,
    pre_softmax,
    spatial_sizes,
    zfnet,
)
from zfkeras.models.zoo import NAMES, Pretrained, pretrained

__all__ = [
    "NAMES",
    "Pretrained",
    "alexnet",
    "layers",
    "min_input_size",
    "pre_softmax",
    "pretrained",
    "spatial_sizes",
    "zfnet",
]
