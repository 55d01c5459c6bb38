"""zfkeras: a Keras 3 course that reproduces Zeiler & Fergus (2014), "Visualizing and
Understanding Convolutional Networks" (ZFNet).

The package follows the course's layers:

* :mod:`zfkeras.models` — ZFNet, AlexNet, their custom layers and the shipped weights;
* :mod:`zfkeras.data` — CIFAR-10, the synthetic data with ground truth, the paper's crops;
* :mod:`zfkeras.training` — the recipe and the training loop (``python -m zfkeras.train``);
* :mod:`zfkeras.methods` — methods that explain any Keras CNN (activations, deconvnet,
  filters, Grad-CAM, occlusion, top-k mining);
* :mod:`zfkeras.experiments` — the paper's experiments, one module per section;
* :mod:`zfkeras.figures` — every figure (the only part that imports matplotlib; loaded on
  first use).

The public API is re-exported here.
"""

import importlib
import sys
import warnings

from zfkeras import config, data, experiments, methods, models, training
from zfkeras.experiments.evolution import FeatureEvolution
from zfkeras.experiments.invariance import invariance_curves
from zfkeras.methods import faithfulness
from zfkeras.methods.activations import activation_model
from zfkeras.methods.attribution import integrated_gradients, smoothgrad
from zfkeras.methods.cam import gradcam
from zfkeras.methods.cams import gradcam_plus_plus, layercam, scorecam
from zfkeras.methods.deconvnet import Deconvnet
from zfkeras.methods.dissection import Dissection, dissect
from zfkeras.methods.filters import visualize_filters
from zfkeras.methods.lucid import Visualization, visualize_classes, visualize_units
from zfkeras.methods.mining import receptive_field, top9_tiles, top_activations
from zfkeras.methods.occlusion import occlusion_sensitivity
from zfkeras.methods.random_masks import rise
from zfkeras.models import Pretrained, alexnet, pre_softmax, pretrained, zfnet

__version__ = config.version()

# ``import zfkeras.faithfulness`` / ``from zfkeras.faithfulness import ...`` name the module in
# zfkeras.methods (the sanity checks are part of the public face, issue 10).
sys.modules.setdefault("zfkeras.faithfulness", faithfulness)

# Loaded on first use, so that ``import zfkeras`` does not import matplotlib.
_LAZY = {
    "figures": ("zfkeras.figures", None),
    "overlay": ("zfkeras.figures", "overlay"),
    "rules_figure": ("zfkeras.figures", "rules_figure"),
    "top9_figure": ("zfkeras.figures", "top9_figure"),
}
# The flat module names of zfkeras 0.1, kept for one release.
_MOVED = {
    "activations": "zfkeras.methods.activations",
    "cam": "zfkeras.methods.cam",
    "chain": "zfkeras.methods.chain",
    "deconvnet": "zfkeras.methods.deconvnet",
    "filters": "zfkeras.methods.filters",
    "mining": "zfkeras.methods.mining",
    "occlusion": "zfkeras.methods.occlusion",
    "layers": "zfkeras.models.layers",
    "zoo": "zfkeras.models.zoo",
    "plot": "zfkeras.figures",
    "ablation": "zfkeras.experiments.ablation",
    "correspondence": "zfkeras.experiments.correspondence",
    "diagnostics": "zfkeras.experiments.diagnostics",
    "evolution": "zfkeras.experiments.evolution",
    "invariance": "zfkeras.experiments.invariance",
    "probes": "zfkeras.experiments.probes",
}


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        return mod if attr is None else getattr(mod, attr)
    if name in _MOVED:
        warnings.warn(
            f"zfkeras.{name} moved to {_MOVED[name]}; the old name goes in zfkeras 0.3",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(_MOVED[name])
    raise AttributeError(f"module 'zfkeras' has no attribute {name!r}")


__all__ = [
    "Deconvnet",
    "Dissection",
    "FeatureEvolution",
    "Pretrained",
    "Visualization",
    "__version__",
    "activation_model",
    "alexnet",
    "config",
    "data",
    "dissect",
    "experiments",
    "faithfulness",
    "figures",
    "gradcam",
    "gradcam_plus_plus",
    "integrated_gradients",
    "invariance_curves",
    "layercam",
    "methods",
    "models",
    "occlusion_sensitivity",
    "overlay",
    "pre_softmax",
    "pretrained",
    "receptive_field",
    "rise",
    "rules_figure",
    "scorecam",
    "smoothgrad",
    "top9_figure",
    "top9_tiles",
    "top_activations",
    "training",
    "visualize_classes",
    "visualize_filters",
    "visualize_units",
    "zfnet",
]
