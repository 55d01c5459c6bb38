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
* :mod:`zfkeras.figures` — every figure (the only part that imports matplotlib).

The public API is re-exported here, each name imported on first use.
"""

import importlib

# The public API, imported on first use: ``import zfkeras`` imports neither TensorFlow nor
# matplotlib and changes no process state, so that a command line (``python -m
# zfkeras.train``, ``python -m zfkeras.experiments.<name>``) can start TensorFlow quietly
# (zfkeras._quiet) before anything imports it. name -> (module, attribute or None for the
# module itself).
_LAZY = {
    **{
        sub: (f"zfkeras.{sub}", None)
        for sub in (
            "config",
            "data",
            "evaluation",
            "exercises",
            "experiments",
            "figures",
            "methods",
            "models",
            "training",
        )
    },
    "FeatureEvolution": ("zfkeras.experiments.evolution", "FeatureEvolution"),
    "invariance_curves": ("zfkeras.experiments.invariance", "invariance_curves"),
    "activation_model": ("zfkeras.methods.activations", "activation_model"),
    "integrated_gradients": ("zfkeras.methods.attribution", "integrated_gradients"),
    "smoothgrad": ("zfkeras.methods.attribution", "smoothgrad"),
    "clear_cache": ("zfkeras.methods.cache", "clear_cache"),
    "gradcam": ("zfkeras.methods.cam", "gradcam"),
    "gradcam_plus_plus": ("zfkeras.methods.cams", "gradcam_plus_plus"),
    "layercam": ("zfkeras.methods.cams", "layercam"),
    "scorecam": ("zfkeras.methods.cams", "scorecam"),
    "Deconvnet": ("zfkeras.methods.deconvnet", "Deconvnet"),
    "Dissection": ("zfkeras.methods.dissection", "Dissection"),
    "dissect": ("zfkeras.methods.dissection", "dissect"),
    "visualize_filters": ("zfkeras.methods.filters", "visualize_filters"),
    "Visualization": ("zfkeras.methods.lucid", "Visualization"),
    "visualize_classes": ("zfkeras.methods.lucid", "visualize_classes"),
    "visualize_units": ("zfkeras.methods.lucid", "visualize_units"),
    "receptive_field": ("zfkeras.methods.mining", "receptive_field"),
    "top9_tiles": ("zfkeras.methods.mining", "top9_tiles"),
    "top_activations": ("zfkeras.methods.mining", "top_activations"),
    "occlusion_sensitivity": ("zfkeras.methods.occlusion", "occlusion_sensitivity"),
    "rise": ("zfkeras.methods.random_masks", "rise"),
    "pre_softmax": ("zfkeras.methods.softmax", "pre_softmax"),
    "Pretrained": ("zfkeras.models", "Pretrained"),
    "alexnet": ("zfkeras.models", "alexnet"),
    "pretrained": ("zfkeras.models", "pretrained"),
    "zfnet": ("zfkeras.models", "zfnet"),
    "overlay": ("zfkeras.figures", "overlay"),
    "rules_figure": ("zfkeras.figures", "rules_figure"),
    "top9_figure": ("zfkeras.figures", "top9_figure"),
}


def __getattr__(name: str):
    if name == "__version__":
        value = importlib.import_module("zfkeras.config").version()
    elif name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
    else:
        raise AttributeError(f"module 'zfkeras' has no attribute {name!r}")
    globals()[name] = value  # found once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
