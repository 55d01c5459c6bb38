"""Course-wide settings, read in one place.

Quick mode shrinks steps, epochs and dataset sizes inside the library so that notebooks run the
same code in CI (quick) and for learners (full). It is switched on by the environment variable
``ZFKERAS_QUICK`` (``1``/``true``/``yes``); the test command sets it.
"""

from __future__ import annotations

import os
from pathlib import Path

QUICK_ENV = "ZFKERAS_QUICK"
CIFAR10_ENV = "ZFKERAS_CIFAR10"
DATA_ENV = "ZFKERAS_DATA"


def quick() -> bool:
    """Return True when quick mode (CI-sized runs) is switched on by ``ZFKERAS_QUICK``."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def pick(full, quick_value):
    """Return ``quick_value`` in quick mode and ``full`` otherwise (one switch for every size)."""
    return quick_value if quick() else full


def data_dir() -> Path:
    """Folder holding the shipped weights: ``$ZFKERAS_DATA`` or the repository's ``data/``."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "data"
