"""Every figure of the course, and the only part of zfkeras that imports matplotlib.

Computation lives in the other subpackages and returns arrays or small dataclasses; the
functions here take those and return a matplotlib ``Figure``. ``import zfkeras`` does not load
this subpackage: it is imported on first use (``zfkeras.figures``).

Every figure follows one standard, set in :mod:`zfkeras.figures.style` (sizes at 100 dpi,
fonts, integer zoom with nearest-neighbour sampling, colour bars that state their scale)
without changing matplotlib's global settings.
"""

from zfkeras.figures import dissection, faithfulness
from zfkeras.figures.common import (
    as_image,
    confusion_matrix,
    filters_grid,
    findings,
    image_grid,
    learning_curves,
    table,
    tile_mosaic,
    to_display,
)
from zfkeras.figures.experiments import (
    bands_figure,
    compare_figure,
    evolution_figure,
    generalization_figure,
    invariance_figure,
    probe_figure,
    table_markdown,
    weight_change_figure,
)
from zfkeras.figures.methods import (
    channel_grids,
    gradcam_figure,
    overlay,
    patterns_figure,
    rules_figure,
)
from zfkeras.figures.occlusion import occlusion_figure
from zfkeras.figures.patches import top9_figure
from zfkeras.figures.patterns import units_figure

__all__ = [
    "as_image",
    "bands_figure",
    "dissection",
    "faithfulness",
    "channel_grids",
    "compare_figure",
    "confusion_matrix",
    "evolution_figure",
    "filters_grid",
    "findings",
    "table",
    "generalization_figure",
    "gradcam_figure",
    "image_grid",
    "invariance_figure",
    "learning_curves",
    "occlusion_figure",
    "overlay",
    "patterns_figure",
    "probe_figure",
    "rules_figure",
    "table_markdown",
    "tile_mosaic",
    "to_display",
    "top9_figure",
    "units_figure",
    "weight_change_figure",
]
