"""No global side effects: no library function reseeds the global random generators (only
``training.fit``, whose recipe names its seed), changes a logger's level, or reads a default
from the environment (only ``zfkeras.config`` and the data folder lookup read it)."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "zfkeras"
RESEED = {"set_random_seed", "set_seed"}


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            owner = ast.unparse(f.value) if isinstance(f, ast.Attribute) else ""
            yield owner, name


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_no_global_reseeding_or_logger_change(path):
    rel = str(path.relative_to(PKG))
    for owner, name in _calls(path):
        if name in RESEED or (owner in ("np.random", "random") and name == "seed"):
            assert rel == "training/trainer.py", f"{rel} reseeds the global generators"
        assert name != "setLevel", f"{rel} changes a logger's level"


def test_only_config_reads_the_environment_for_defaults():
    readers = {
        str(p.relative_to(PKG))
        for p in PKG.rglob("*.py")
        if "os.environ" in p.read_text() or "getenv" in p.read_text()
    }
    # cifar.py: the data folder; __init__/train.py: the command lines' quiet start
    assert readers <= {"config.py", "data/cifar.py", "__init__.py", "train.py"}, readers
    assert "environ" not in (PKG / "methods" / "filters.py").read_text()
