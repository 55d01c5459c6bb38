"""Course-wide settings, read in one place: quick mode, the folders, the package's version.

Quick mode shrinks steps, epochs and dataset sizes inside the library so that notebooks run the
same code in CI (quick) and for learners (full). It is switched on by the environment variable
``ZFKERAS_QUICK`` (``1``/``true``/``yes``); the test command sets it.

Data files (weights bundles ``<name>.keras`` + ``<name>.json`` + ``<name>.mean.npy``, and the
chapters' experiment files) are searched, in this order, in

1. ``$ZFKERAS_DATA``, when set;
2. the user folder :func:`user_data_dir` (``~/.local/share/zfkeras`` on Linux), where
   ``python -m zfkeras.train --install NAME`` writes when ``$ZFKERAS_DATA`` is not set;
3. the files shipped with the package (:func:`shipped_dir`): the repository's ``data/`` folder,
   installed as the package ``zfkeras.shipped`` and read with :mod:`importlib.resources`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import os
import re
import sys
from pathlib import Path

QUICK_ENV = "ZFKERAS_QUICK"
CIFAR10_ENV = "ZFKERAS_CIFAR10"
DATA_ENV = "ZFKERAS_DATA"
SHIPPED_PACKAGE = "zfkeras.shipped"
_ROOT = Path(__file__).resolve().parent.parent  # the checkout, or site-packages when installed


def quick() -> bool:
    """Return True when quick mode (CI-sized runs) is switched on by ``ZFKERAS_QUICK``."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def pick(full, quick_value):
    """Return ``quick_value`` in quick mode and ``full`` otherwise (one switch for every size)."""
    return quick_value if quick() else full


def _checkout() -> Path | None:
    """The source checkout zfkeras is imported from (``pyproject.toml`` + ``data/__init__.py``
    beside the package), or None for an installed wheel."""
    if (_ROOT / "pyproject.toml").is_file() and (_ROOT / "data" / "__init__.py").is_file():
        return _ROOT
    return None


def shipped_dir() -> Path:
    """Folder of the files shipped with zfkeras: the checkout's ``data/`` when zfkeras is imported
    from a source checkout (editable install or ``PYTHONPATH``), else the installed package
    ``zfkeras.shipped`` (found with :func:`importlib.resources.files`).

    Raises:
        FileNotFoundError: neither is there (a broken installation).
    """
    checkout = _checkout()
    if checkout is not None:
        return checkout / "data"
    try:
        root = importlib.resources.files(SHIPPED_PACKAGE)
    except ModuleNotFoundError as e:
        raise FileNotFoundError(
            f"the package {SHIPPED_PACKAGE} (zfkeras's shipped files) is not "
            f"installed beside {_ROOT / 'zfkeras'}; reinstall zfkeras"
        ) from e
    return Path(str(root))  # pip installs wheels unzipped: a real folder


def user_data_dir() -> Path:
    """The per-user data folder: ``%LOCALAPPDATA%\\zfkeras`` on Windows,
    ``~/Library/Application Support/zfkeras`` on macOS, ``$XDG_DATA_HOME/zfkeras`` (default
    ``~/.local/share/zfkeras``) elsewhere. It may not exist yet."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Application Support")
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "zfkeras"


def install_dir() -> Path:
    """Where ``python -m zfkeras.train --install`` writes: ``$ZFKERAS_DATA`` when set, else
    :func:`user_data_dir`."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else user_data_dir()


def search_path() -> list[Path]:
    """The folders searched for data files, first match wins: ``$ZFKERAS_DATA`` (when set),
    :func:`user_data_dir`, :func:`shipped_dir`."""
    env = os.environ.get(DATA_ENV)
    return ([Path(env)] if env else []) + [user_data_dir(), shipped_dir()]


def shipped_file(name: str) -> Path:
    """Resolve a data file by its name (e.g. ``"evolution-shapes.npz"``) along
    :func:`search_path`.

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: ``name`` is not a plain file name (empty, or holds a path separator).
        FileNotFoundError: no searched folder holds it (the message lists them).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (a file name), got {type(name).__name__}")
    if not name or name in {".", ".."} or "/" in name or "\\" in name:
        raise ValueError(
            f"name must be a plain file name like 'evolution-shapes.npz', got {name!r}"
        )
    folders = search_path()
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name!r} not found in {', '.join(map(str, folders))}")


def data_dir() -> Path:
    """``$ZFKERAS_DATA`` when set, else the shipped folder (the checkout's ``data/``).

    Kept for code that builds paths by hand; to find a file, use :func:`shipped_file`, which
    also searches the user folder."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else shipped_dir()


def version() -> str:
    """zfkeras's version, whose one source is ``pyproject.toml``: read from it in a source
    checkout, else from the installed package's metadata."""
    checkout = _checkout()
    if checkout is not None:
        text = (checkout / "pyproject.toml").read_text()
        project = text.split("[project]", 1)[-1].split("\n[", 1)[0]
        found = re.search(r'^version\s*=\s*"([^"]+)"', project, re.MULTILINE)
        if found:
            return found.group(1)
    try:
        return importlib.metadata.version("zfkeras")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"
