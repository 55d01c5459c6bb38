"""Methods that explain any Keras CNN: one walk over the model's graph (:mod:`.graph`), one
table of op kinds (:mod:`.ops`), one cache (:mod:`.cache`), one set of argument checks
(:mod:`.checks`) and one batch-and-progress loop (:mod:`.progress`), one registry of the
explanation methods (:mod:`.registry`), one bilinear upsampling (:mod:`.upsampling`), the
class score before the softmax (:mod:`.softmax`), intermediate activations, the deconvnet and
its two siblings (:mod:`.deconvnet`: backprop, guided backprop), receptive fields, filter
patterns by gradient ascent and in Lucid's style (:mod:`.lucid`), Grad-CAM and its successors
(:mod:`.cams`: Grad-CAM++, LayerCAM, Score-CAM), SmoothGrad and Integrated Gradients
(:mod:`.attribution`), RISE (:mod:`.random_masks`), occlusion sensitivity, top-k mining
(Fig. 2) and network dissection. How far to trust them: :mod:`zfkeras.evaluation`."""

from zfkeras.methods import (
    activations,
    arguments,
    ascent,
    attribution,
    cache,
    cam,
    cam_engine,
    cams,
    checks,
    deconvnet,
    dissection,
    dissection_passes,
    fields,
    filters,
    graph,
    linear,
    lucid,
    mining,
    occlusion,
    ops,
    parameterization,
    progress,
    random_masks,
    registry,
    softmax,
    upsampling,
    walk,
)
from zfkeras.methods.attribution import integrated_gradients, smoothgrad
from zfkeras.methods.cache import clear_cache
from zfkeras.methods.cams import gradcam_plus_plus, layercam, scorecam
from zfkeras.methods.lucid import Visualization, visualize_classes, visualize_units
from zfkeras.methods.random_masks import rise, rise_masks
from zfkeras.methods.softmax import pre_softmax

__all__ = [
    "Visualization",
    "activations",
    "arguments",
    "ascent",
    "attribution",
    "cache",
    "cam",
    "cam_engine",
    "cams",
    "checks",
    "clear_cache",
    "deconvnet",
    "dissection",
    "dissection_passes",
    "fields",
    "filters",
    "gradcam_plus_plus",
    "graph",
    "integrated_gradients",
    "layercam",
    "linear",
    "lucid",
    "mining",
    "occlusion",
    "ops",
    "parameterization",
    "pre_softmax",
    "progress",
    "random_masks",
    "registry",
    "rise",
    "rise_masks",
    "scorecam",
    "smoothgrad",
    "softmax",
    "upsampling",
    "visualize_classes",
    "visualize_units",
    "walk",
]
