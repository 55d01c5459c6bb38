"""Methods that explain any Keras CNN: one walk over the model's graph (:mod:`.graph`),
intermediate activations, the deconvnet and its two siblings (backprop, guided backprop),
filter patterns by gradient ascent, Grad-CAM, occlusion sensitivity, and top-k mining with
receptive fields."""

from zfkeras.methods import (
    activations,
    ascent,
    attribution,
    cam,
    cams,
    chain,
    deconvnet,
    fields,
    filters,
    graph,
    lucid,
    mining,
    occlusion,
    parameterization,
    pointing,
    random_masks,
    rules,
    units,
)
from zfkeras.methods.attribution import integrated_gradients, smoothgrad
from zfkeras.methods.cams import gradcam_plus_plus, layercam, scorecam
from zfkeras.methods.lucid import Visualization, visualize_classes, visualize_units
from zfkeras.methods.random_masks import rise, rise_masks

__all__ = [
    "activations",
    "ascent",
    "attribution",
    "cam",
    "cams",
    "chain",
    "deconvnet",
    "fields",
    "filters",
    "graph",
    "lucid",
    "mining",
    "occlusion",
    "parameterization",
    "pointing",
    "random_masks",
    "rules",
    "units",
    "gradcam_plus_plus",
    "integrated_gradients",
    "layercam",
    "rise",
    "rise_masks",
    "scorecam",
    "smoothgrad",
    "Visualization",
    "visualize_classes",
    "visualize_units",
]
