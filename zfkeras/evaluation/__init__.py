"""How far to trust an explanation: measures that consume the methods of
:mod:`zfkeras.methods` (as ``captum.metrics`` sits beside ``captum.attr``).

* :mod:`.faithfulness`: the model-randomization sanity check (Adebayo et al., 2018) and
  :func:`~.faithfulness.explain`, one 2-D map per image for every method;
* :mod:`.deletion`: deletion and insertion curves (Petsiuk et al., 2018);
* :mod:`.similarity`: Spearman rank correlation and SSIM of two maps;
* :mod:`.pointing`: the pointing game (Zhang et al., 2016) for maps and occlusion results;
* :mod:`.robustness`: how much of a picture's effect on its unit survives transforms;
* :mod:`.verdict`: the one rule for a printed verdict (decide only when the difference exceeds
  its interval).
"""

from zfkeras.evaluation import deletion, faithfulness, pointing, robustness, similarity, verdict
from zfkeras.evaluation.deletion import Curve, deletion_curve, insertion_curve
from zfkeras.evaluation.faithfulness import Randomization, explain, randomization_test
from zfkeras.evaluation.pointing import (
    occlusion_chance,
    occlusion_hits,
    pointing_game,
    pointing_scores,
)

__all__ = [
    "Curve",
    "Randomization",
    "deletion",
    "deletion_curve",
    "explain",
    "faithfulness",
    "insertion_curve",
    "occlusion_chance",
    "occlusion_hits",
    "pointing",
    "pointing_game",
    "pointing_scores",
    "randomization_test",
    "robustness",
    "similarity",
    "verdict",
]
