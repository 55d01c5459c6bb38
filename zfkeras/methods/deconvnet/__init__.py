"""The deconvnet of paper section 2.1 (Fig. 1) and its two relatives, backpropagation and
guided backpropagation, on any Keras CNN.

* :mod:`.projection`: :class:`Deconvnet`, the projections down to pixel space;
* :mod:`.rules`: the one implementation of the three ways down through a ReLU;
* :mod:`.chain`: the chain path, one top-down step per layer as Fig. 1 draws it;
* :mod:`.units`: which activation a projection keeps;
* :mod:`.layers`: the deconvnet's own Keras layers (switches, unpooling, rectification,
  transposed filtering).
"""

from zfkeras.methods.deconvnet import chain, layers, rules, units
from zfkeras.methods.deconvnet.projection import WAYS, Deconvnet
from zfkeras.methods.deconvnet.rules import MODES, Crossing, ReluRules, relu_rules
from zfkeras.methods.deconvnet.units import Units

__all__ = [
    "MODES",
    "WAYS",
    "Crossing",
    "Deconvnet",
    "ReluRules",
    "Units",
    "chain",
    "layers",
    "relu_rules",
    "rules",
    "units",
]
