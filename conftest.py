"""Repository-wide pytest settings.

The nbval kernels of ``make test`` inherit this process's environment; they get the same quiet
start-up as the kernels of tools/render.py (see ``kernel_env`` there): TF_CPP_MIN_LOG_LEVEL=3,
and PYTHONSTARTUP=zfkeras/_quiet.py, which IPython runs before the first cell and which imports
TensorFlow with its absl/oneDNN/CUDA start-up log lines filtered out (no environment variable
reaches those). PYTHONSTARTUP affects interactive interpreters only, not this process.

nbval compares the outputs of cells marked ``# NBVAL_CHECK_OUTPUT``; stderr (Keras progress,
warnings) and rich HTML/images depend on the machine, so they are never compared.
"""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["PYTHONSTARTUP"] = str(Path(__file__).resolve().parent / "zfkeras" / "_quiet.py")


def pytest_collectstart(collector):
    if getattr(collector, "path", None) is not None and collector.path.suffix == ".ipynb":
        collector.skip_compare += ("stderr", "text/html", "application/javascript",
                                   "image/png", "image/svg+xml")
