"""zfkeras: a Keras 3 course that reproduces Zeiler & Fergus (2014), "Visualizing and
Understanding Convolutional Networks" (ZFNet).

Public API (re-exported here): the models (:func:`zfnet`, :func:`alexnet`), the shipped weights
(:func:`pretrained`) and the visualization methods as they land.
"""

from zfkeras import (
    ablation,
    activations,
    cam,
    chain,
    config,
    correspondence,
    data,
    deconvnet,
    diagnostics,
    evolution,
    filters,
    invariance,
    layers,
    mining,
    models,
    occlusion,
    plot,
    probes,
    training,
)
from zfkeras.activations import activation_model
from zfkeras.cam import gradcam, overlay
from zfkeras.deconvnet import Deconvnet, rules_figure
from zfkeras.evolution import FeatureEvolution
from zfkeras.filters import visualize_filters
from zfkeras.invariance import invariance_curves
from zfkeras.mining import receptive_field, top9_figure, top_activations
from zfkeras.models import alexnet, pre_softmax, zfnet
from zfkeras.occlusion import occlusion_sensitivity
from zfkeras.zoo import Pretrained, pretrained

__version__ = "0.1.0"

__all__ = [
    "Deconvnet",
    "FeatureEvolution",
    "Pretrained",
    "__version__",
    "ablation",
    "activation_model",
    "activations",
    "alexnet",
    "cam",
    "chain",
    "config",
    "correspondence",
    "data",
    "deconvnet",
    "diagnostics",
    "evolution",
    "filters",
    "gradcam",
    "invariance",
    "invariance_curves",
    "layers",
    "mining",
    "models",
    "occlusion",
    "occlusion_sensitivity",
    "overlay",
    "plot",
    "pre_softmax",
    "pretrained",
    "probes",
    "receptive_field",
    "rules_figure",
    "top9_figure",
    "top_activations",
    "training",
    "visualize_filters",
    "zfnet",
]
