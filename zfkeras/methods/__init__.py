"""Methods that explain any Keras CNN: one walk over the model's graph (:mod:`.graph`), one
cache (:mod:`.cache`), one set of argument checks and progress bars (:mod:`.checks`), the
class score before the softmax (:mod:`.softmax`), intermediate activations, the deconvnet and
its two siblings (:mod:`.deconvnet`: backprop, guided backprop), receptive fields, filter
patterns by gradient ascent, Grad-CAM, occlusion sensitivity, top-k mining (Fig. 2) and network
dissection. How far to trust them: :mod:`zfkeras.evaluation`."""

from zfkeras.methods import (
    activations,
    cache,
    cam,
    checks,
    deconvnet,
    dissection,
    fields,
    filters,
    graph,
    mining,
    occlusion,
    softmax,
)
from zfkeras.methods.cache import clear_cache
from zfkeras.methods.softmax import pre_softmax

__all__ = [
    "activations",
    "cache",
    "cam",
    "checks",
    "clear_cache",
    "deconvnet",
    "dissection",
    "fields",
    "filters",
    "graph",
    "mining",
    "occlusion",
    "pre_softmax",
    "softmax",
]
