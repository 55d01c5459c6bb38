"""Repository-wide pytest settings.

nbval compares the outputs of cells marked ``# NBVAL_CHECK_OUTPUT``; TensorFlow and Keras write
log noise to stderr that depends on the machine, so stderr (and rich HTML) is never compared.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collectstart(collector):
    if getattr(collector, "path", None) is not None and collector.path.suffix == ".ipynb":
        collector.skip_compare += ("stderr", "text/html", "application/javascript",
                                   "image/png", "image/svg+xml")
