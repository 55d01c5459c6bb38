"""Every chapter follows the course conventions and is committed executed (nbval re-runs them)."""

import re
from pathlib import Path

import nbformat
import pytest

CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("[0-9][0-9]_*.ipynb"))


def test_chapters_exist_and_are_numbered_in_order():
    numbers = [int(p.name[:2]) for p in CHAPTERS]
    assert numbers[:2] == [1, 2]
    assert numbers == sorted(set(numbers))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_conventions(path):
    nb = nbformat.read(path, as_version=4)
    first, second = nb.cells[0], nb.cells[1]
    assert first.cell_type == "markdown"
    assert re.match(rf"# {path.name[:2]} · \S", first.source), "header: '# NN · Title'"
    assert second.cell_type == "code" and "set_random_seed" in second.source
    assert "import zfkeras" in second.source
    headings = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert any("The paper found / we found" in h for h in headings[-2:])
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "committed executed"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "executed once, top to bottom, clean kernel"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert path.stat().st_size < 1_000_000


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_warning_in_stored_outputs(path):
    """A student sees what the chapter prints: no Python warning (a deprecated spelling, a
    retracing notice) may be stored in any output."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            assert not re.search(r"\w+Warning: ", text), f"cell {i}: {text[:200]}"
