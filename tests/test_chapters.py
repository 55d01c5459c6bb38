"""Every chapter follows the course conventions and is committed executed (nbval re-runs them)."""

import ast
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
    headings = [
        line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
    ]
    headings = [h for h in headings if h.startswith("## ")]
    assert headings[-2:] == ["## Key takeaways", "## Further reading"], "the chapter's ending"
    assert any("The paper found / we found" in h for h in headings[:-2])
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


# A progress bar stored in a notebook is one text line per update; a bar that updates in place
# leaves at most its first and last state, a wall of updates is what a student should not see.
MAX_PROGRESS_LINES = 2


def stored_text(cell) -> str:
    """Everything a code cell's stored outputs print: streams and plain-text results."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def progress_lines(text: str) -> int:
    """How many progress-bar states (``12/200 ━━━━``) a text holds, one per line or ``\\r``."""
    return sum(1 for line in re.split(r"[\r\n]", text) if re.search(r"\d+/\d+\S*\s.*━", line))


def student_view_problems(nb) -> list[str]:
    """What a student should not see in a stored chapter: a ``<History at 0x...>`` result, a wall
    of progress bars in one cell, or ``%config`` outside the setup cell (the second cell)."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        text = stored_text(cell)
        if "<keras.src.callbacks.history.History" in text or re.search(r"<History at 0x", text):
            problems.append(f"cell {i}: a History object as output (end the line with ';')")
        if progress_lines(text) > MAX_PROGRESS_LINES:
            problems.append(f"cell {i}: {progress_lines(text)} progress-bar lines (verbose=0)")
        if i != 1 and re.search(r"^\s*%config", cell.source, re.M):
            problems.append(f"cell {i}: %config outside the setup cell")
        problems += [f"cell {i}: {p}" for p in development_traces(text)]
        if re.search(r"\bexercises\.|\bcheck\(", cell.source) and any(
            out.get("output_type") == "execute_result"
            and out.get("data", {}).get("text/plain") in ("True", "False", "None")
            for out in cell.get("outputs", [])
        ):
            problems.append(f"cell {i}: a check's return value echoed (end the line with ';')")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            problems += [f"cell {i}: {p}" for p in development_traces(cell.source)]
    return problems


DEVELOPMENT_TRACES = {
    "a Keras fit log line": re.compile(r"^Epoch \d+/\d+|\d+/\d+ - \d+m?s - loss", re.M),
    "a temporary folder's name": re.compile(r"/tmp/|\btmp[0-9a-z_]{6,}"),
    "an old/new recipe branch": re.compile(r"\b(old|new) recipe\b|not yet retrained", re.I),
    "an issue number": re.compile(r"\bissue \d+", re.I),
}


def development_traces(text: str) -> list[str]:
    """What development leaves in a chapter that a learner should not read."""
    return [
        f"{name}: {m.group(0)!r}" for name, p in DEVELOPMENT_TRACES.items() if (m := p.search(text))
    ]


def test_student_view_checker_catches_each_problem():
    """The checker itself: a clean notebook passes; each planted problem is reported."""
    bar = "\x1b[1m 3/200\x1b[0m \x1b[37m━━━━━━━━━━\x1b[0m 0s 3us/step\n"
    setup = nbformat.v4.new_code_cell("%config InlineBackend.figure_formats = ['jpeg']")
    clean = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# 01 · T"), setup, nbformat.v4.new_code_cell("x")]
    )
    clean.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text=bar * 2)]
    assert student_view_problems(clean) == []
    history = nbformat.v4.new_output(
        "execute_result",
        {"text/plain": "<keras.src.callbacks.history.History at 0x7f90a9e42890>"},
        execution_count=1,
    )
    cases = {
        "History": [history],
        "progress-bar": [nbformat.v4.new_output("stream", name="stdout", text=bar * 3)],
    }
    for word, outputs in cases.items():
        nb = nbformat.from_dict(clean)
        nb.cells[2].outputs = outputs
        assert [word in p for p in student_view_problems(nb)] == [True], word
    nb = nbformat.from_dict(clean)
    nb.cells[2].source = "%config InlineBackend.figure_formats = ['png']\nx"
    assert ["%config" in p for p in student_view_problems(nb)] == [True]
    traces = {
        "fit log": "Epoch 1/3\n4/4 - 3s - loss: 2.3\n",
        "temporary": "starting /tmp/zfkeras-ch02-co9fty4_ fresh\n",
        "recipe": "old recipe, trained: 0.22\n",
        "issue": "computed for issue 27\n",
    }
    for word, text in traces.items():
        nb = nbformat.from_dict(clean)
        nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        assert len(student_view_problems(nb)) == 1, word
    nb = nbformat.from_dict(clean)
    nb.cells[0].source += "\n\nTrained with the new recipe."
    assert ["recipe" in p for p in student_view_problems(nb)] == [True]
    nb = nbformat.from_dict(clean)
    nb.cells[2].source = "zfkeras.exercises.check('01.1', answer)"
    nb.cells[2].outputs = [
        nbformat.v4.new_output("execute_result", {"text/plain": "False"}, execution_count=1)
    ]
    assert ["echoed" in p for p in student_view_problems(nb)] == [True]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_what_the_student_sees(path):
    nb = nbformat.read(path, as_version=4)
    assert student_view_problems(nb) == []


# A verdict word at the start of a string constant is a verdict typed by hand: every verdict a
# chapter prints comes from zfkeras.evaluation.verdict (which decides nothing on too little data).
HAND_VERDICT = re.compile(r"^[\W_]*(holds|does not hold|not decided|pass(es)?|fail(s)?)\b", re.I)


def hand_made_verdicts(source: str) -> list[str]:
    code = "\n".join(s for s in source.splitlines() if not s.lstrip().startswith(("%", "!")))
    return [
        node.value
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and HAND_VERDICT.search(node.value)
    ]


def test_hand_made_verdict_checker():
    assert hand_made_verdicts('x = "holds" if a else "does not hold"') == ["holds", "does not hold"]
    assert hand_made_verdicts("f\"{n} units ({'**fails**' if b else '-'})\"") == ["**fails**"]
    assert hand_made_verdicts('s = "(holds)"; t = "the cap holds"; print(v)') == ["(holds)"]
    assert hand_made_verdicts("%matplotlib inline\nprint(verdict.compare(a, b, claim='c'))") == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_verdicts_come_from_the_helper(path):
    nb = nbformat.read(path, as_version=4)
    found = {
        i: hand_made_verdicts(c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"
    }
    assert not {i: v for i, v in found.items() if v}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_the_randomization_pass_mark_is_written_once(path):
    # the rule lives in zfkeras.evaluation.faithfulness.PASS_BELOW; a chapter that wrote its own
    # number could drift from chapter 11's
    import re

    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not re.search(r"^\s*PASS_BELOW\s*=", code, re.M)
