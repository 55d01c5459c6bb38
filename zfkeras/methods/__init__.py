"""Methods that explain any Keras CNN: one walk over the model's graph (:mod:`.graph`),
intermediate activations, the deconvnet and its two siblings (backprop, guided backprop),
filter patterns by gradient ascent, Grad-CAM, occlusion sensitivity, and top-k mining with
receptive fields."""

from zfkeras.methods import (
    activations,
    cam,
    chain,
    deconvnet,
    fields,
    filters,
    graph,
    mining,
    occlusion,
    pointing,
    rules,
    units,
)

__all__ = [
    "activations",
    "cam",
    "chain",
    "deconvnet",
    "fields",
    "filters",
    "graph",
    "mining",
    "occlusion",
    "pointing",
    "rules",
    "units",
]
