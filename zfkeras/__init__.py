"""zfkeras: a Keras 3 course that reproduces Zeiler & Fergus (2014), "Visualizing and
Understanding Convolutional Networks" (ZFNet).

The package follows the course's layers:

* :mod:`zfkeras.models` — ZFNet, AlexNet, their custom layers and the shipped weights;
* :mod:`zfkeras.data` — CIFAR-10, the synthetic data with ground truth, the paper's crops;
* :mod:`zfkeras.training` — the recipe and the training loop (``python -m zfkeras.train``);
* :mod:`zfkeras.methods` — methods that explain any Keras CNN (activations, deconvnet,
  filters, Grad-CAM, occlusion, top-k mining, dissection);
* :mod:`zfkeras.evaluation` — how far to trust them (sanity checks, deletion/insertion,
  similarity, the pointing game);
* :mod:`zfkeras.experiments` — the paper's experiments, one module per section;
* :mod:`zfkeras.figures` — every figure (the only part that imports matplotlib; loaded on
  first use).

The public API is re-exported here.
"""

import importlib
import os
import sys
import warnings


def _started_as_command() -> bool:
    """Whether this process is ``python -m zfkeras.<module>`` (a command line of the package)."""
    argv = list(getattr(sys, "orig_argv", []))
    return "-m" in argv[:-1] and argv[argv.index("-m") + 1].startswith("zfkeras.")


if _started_as_command() and "tensorflow" not in sys.modules:
    # as quietly as the course kernels start: no TensorFlow start-up lines before the output
    from zfkeras._quiet import _zfkeras_quiet_start

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _zfkeras_quiet_start()
    # runpy's note that the package (which re-exports it) already imported the module
    warnings.filterwarnings("ignore", "'zfkeras[.].*' found in sys.modules", RuntimeWarning)

from zfkeras import config, data, evaluation, experiments, methods, models, training
from zfkeras.experiments.evolution import FeatureEvolution
from zfkeras.experiments.invariance import invariance_curves
from zfkeras.methods.activations import activation_model
from zfkeras.methods.attribution import integrated_gradients, smoothgrad
from zfkeras.methods.cache import clear_cache
from zfkeras.methods.cam import gradcam
from zfkeras.methods.cams import gradcam_plus_plus, layercam, scorecam
from zfkeras.methods.deconvnet import Deconvnet
from zfkeras.methods.dissection import Dissection, dissect
from zfkeras.methods.filters import visualize_filters
from zfkeras.methods.lucid import Visualization, visualize_classes, visualize_units
from zfkeras.methods.mining import receptive_field, top9_tiles, top_activations
from zfkeras.methods.occlusion import occlusion_sensitivity
from zfkeras.methods.random_masks import rise
from zfkeras.methods.softmax import pre_softmax
from zfkeras.models import Pretrained, alexnet, pretrained, zfnet

__version__ = config.version()

# Loaded on first use, so that ``import zfkeras`` does not import matplotlib (figures) or
# register the course's exercise checkers (exercises).
_LAZY = {
    "exercises": ("zfkeras.exercises", None),
    "figures": ("zfkeras.figures", None),
    "overlay": ("zfkeras.figures", "overlay"),
    "rules_figure": ("zfkeras.figures", "rules_figure"),
    "top9_figure": ("zfkeras.figures", "top9_figure"),
}


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        return mod if attr is None else getattr(mod, attr)
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
    "clear_cache",
    "config",
    "data",
    "dissect",
    "evaluation",
    "exercises",
    "experiments",
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
