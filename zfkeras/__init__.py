"""zfkeras: a Keras 3 course that reproduces Zeiler & Fergus (2014), "Visualizing and
Understanding Convolutional Networks" (ZFNet).

Public API (re-exported here): the models (:func:`zfnet`, :func:`alexnet`), the shipped weights
(:func:`pretrained`) and the visualization methods as they land.
"""

from zfkeras import config, data, layers, models
from zfkeras.models import alexnet, pre_softmax, zfnet
from zfkeras.zoo import Pretrained, pretrained

__version__ = "0.1.0"

__all__ = [
    "Pretrained",
    "__version__",
    "alexnet",
    "config",
    "data",
    "layers",
    "models",
    "pre_softmax",
    "pretrained",
    "zfnet",
]
