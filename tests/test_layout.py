"""The package layout: subpackages that follow the course, figures apart, imports one way."""

import ast
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "zfkeras"
# exercises sits at the top beside figures: it may import what is below, nothing imports it.
ORDER = ["config", "data", "models", "training", "methods", "experiments", "figures", "exercises"]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "zfkeras" and parts[1] in ORDER else None


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_point_one_way(path):
    rel = path.relative_to(PKG).parts
    own = rel[0] if rel[0] in ORDER else None
    mods = _imports(path)
    if own != "figures":
        assert not any(m.split(".")[0] in {"matplotlib", "IPython"} for m in mods), (
            "only zfkeras.figures imports matplotlib"
        )
    if own is None:
        return
    for m in mods:
        layer = _layer(m)
        if layer is not None and layer != own:
            assert ORDER.index(layer) < ORDER.index(own), f"{own} must not import {m}"


def test_import_zfkeras_does_not_load_figures():
    code = (
        "import sys, zfkeras; print('zfkeras.figures' in sys.modules); "
        "zfkeras.figures; print('zfkeras.figures' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_old_module_names_warn_and_resolve():
    import zfkeras

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cam = zfkeras.cam
    assert cam is importlib.import_module("zfkeras.methods.cam")
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    with pytest.raises(AttributeError):
        zfkeras.no_such_name  # noqa: B018
