"""The README's scorecard and chapter times are read from the stored chapters (tools/scorecard.py),
never typed: the tool's parsing on hand-made tables, the README against the tool, every number of
every scorecard row against its chapter's stored outputs, and the stored chapters themselves (full
mode, each under 10 minutes, all under 35)."""

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("scorecard", ROOT / "tools" / "scorecard.py")
scorecard = importlib.util.module_from_spec(_spec)
sys.modules["scorecard"] = scorecard
_spec.loader.exec_module(scorecard)

CHAPTERS = scorecard.chapters()
NUMBER = re.compile(r"[-+−]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?%?")


def _notebook(markdown_outputs):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 07 · A title")])
    for text in markdown_outputs:
        cell = nbformat.v4.new_code_cell("findings(...)")
        cell.outputs = [
            nbformat.v4.new_output(
                "execute_result",
                data={"text/markdown": text, "text/plain": "<Markdown>"},
                execution_count=1,
            )
        ]
        nb.cells.append(cell)
    return nb


def test_the_tool_reads_the_table_findings_draws():
    from zfkeras.evaluation.verdict import exact
    from zfkeras.figures import common

    assert scorecard.FINDINGS_HEADER == common.FINDINGS_HEADER
    rows = [("a | b", "Fig. 2", "0.25 vs 0.11", exact("same", True)), ("c", "d", "e", "a note")]
    drawn = common.findings(rows).data
    nb = _notebook([drawn, "| x | y |\n|---|---|\n| 1 | 2 |", drawn])
    expected = [
        ("a \\| b", "Fig. 2", "0.25 vs 0.11", "holds (exact, n = 1)"),
        ("c", "d", "e", "a note"),
    ]
    assert scorecard.findings_rows(nb) == expected * 2  # the other table is not a findings table
    assert "0.25 vs 0.11" in scorecard.stored_text(nb)


def test_scorecard_rows_are_numbered_by_chapter(tmp_path):
    table = "| claim | the paper found | we found | verdict |\n|---|---|---|---|\n| c | p | o | v |"
    path = tmp_path / "07_x.ipynb"
    nbformat.write(_notebook([table]), path)
    assert scorecard.scorecard([path]).splitlines()[2] == "| 07 | c | p | o | v |"
    nbformat.write(_notebook([]), tmp_path / "08_y.ipynb")
    with pytest.raises(ValueError, match="08_y.ipynb: no stored findings table"):
        scorecard.scorecard([tmp_path / "08_y.ipynb"])
    with pytest.raises(ValueError, match="no execution metadata"):
        scorecard.chapter_times([path])
    nb = _notebook([table])
    nb.metadata["zfkeras"] = {"mode": "full", "seconds": 90}
    nbformat.write(nb, path)
    lines = scorecard.chapter_times([path, path]).splitlines()
    assert lines[2].startswith("| 07 | A title | full mode | 1.5 min | ")
    assert lines[-1] == "| | all 2 chapters | | 3.0 min | |"


def test_replace_block_touches_only_the_block():
    text = "a\n<!-- s: begin (generated) -->\nold\nrows\n<!-- s: end -->\nb"
    assert scorecard.replace_block(text, "s", "new") == (
        "a\n<!-- s: begin (generated) -->\nnew\n<!-- s: end -->\nb"
    )
    with pytest.raises(ValueError, match="has no '<!-- t: begin -->'"):
        scorecard.replace_block(text, "t", "new")


def test_readme_is_what_the_tool_writes():
    text = (ROOT / "README.md").read_text()
    assert scorecard.updated_readme(text, CHAPTERS) == text, "run tools/scorecard.py"


def _readme_rows():
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- scorecard: begin")[1].split("<!-- scorecard: end -->")[0]
    rows = [r for r in block.splitlines() if re.match(r"\| \d\d \|", r)]
    return [(r[2:4], re.split(r"(?<!\\)\|", r)[4:6]) for r in rows]


def test_every_scorecard_number_is_in_its_chapter():
    rows = _readme_rows()
    assert {ch for ch, _ in rows} == {p.name[:2] for p in CHAPTERS}, "a row for every chapter"
    texts = {p.name[:2]: scorecard.stored_text(nbformat.read(p, 4)) for p in CHAPTERS}
    missing = [
        (ch, number)
        for ch, columns in rows
        for number in NUMBER.findall(" ".join(columns))
        if number not in texts[ch]
    ]
    assert not missing, missing


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_stored_chapter_is_full_mode_and_short_enough(path):
    nb = nbformat.read(path, as_version=4)
    setup = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "quick mode: False" in setup, "store the chapter executed in full mode (make chapters)"
    meta = nb.metadata.get("zfkeras", {})
    assert meta.get("mode") == "full", meta
    assert meta["seconds"] < 600, f"{path.name} takes {meta['seconds']} s in full mode"


def test_the_course_takes_under_35_minutes():
    seconds = [nbformat.read(p, 4).metadata.get("zfkeras", {}).get("seconds", 0) for p in CHAPTERS]
    assert 0 < sum(seconds) < 35 * 60, sum(seconds)
