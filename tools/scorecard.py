"""Write the README's reproduction scorecard and chapter-time table from the stored chapters.

    .venv/bin/python tools/scorecard.py           # rewrite the two generated blocks of README.md
    .venv/bin/python tools/scorecard.py --check   # exit 1 when README.md is out of date

Every chapter closes with a "the paper found / we found" table, drawn by
:func:`zfkeras.figures.findings` from numbers the chapter computes, with a verdict from
:mod:`zfkeras.evaluation.verdict`. This tool reads those tables from the stored outputs of
``chapters/NN_*.ipynb`` (nothing is executed, nothing typed by hand) and writes them, one row each
and prefixed with the chapter's number, between the README's ``scorecard`` markers. The chapter
times come from the metadata ``tools/render.py`` stores in each executed chapter (its mode and
seconds) and go between the ``chapter-times`` markers. ``tests/test_scorecard.py`` fails when the
README differs from what this tool writes, or when a number in a scorecard row does not appear, as
written, in its chapter's stored outputs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# the header zfkeras.figures.findings draws (tests/test_scorecard.py checks that they agree)
FINDINGS_HEADER = ("claim", "the paper found", "we found", "verdict")
SCORECARD_HEADER = ("ch.", "claim", "paper", "ours", "verdict")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def chapters(folder: Path = ROOT / "chapters") -> list[Path]:
    """The stored chapters, ``NN_name.ipynb``, in order."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def _markdown_outputs(nb) -> list[str]:
    return [
        out.get("data", {}).get("text/markdown", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    ]


def table_rows(markdown: str) -> list[tuple[str, ...]] | None:
    """The body rows of a Markdown table whose header is :data:`FINDINGS_HEADER` (cells split on
    unescaped ``|``, escaped pipes kept as written), or None for any other text."""
    lines = [line.strip() for line in markdown.strip().splitlines()]
    if len(lines) < 2 or _cells(lines[0]) != FINDINGS_HEADER:
        return None
    return [_cells(line) for line in lines[2:] if line.startswith("|")]


def _cells(line: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in _CELL_SPLIT.split(line.strip())[1:-1])


def findings_rows(nb) -> list[tuple[str, ...]]:
    """Every row of every findings table stored in the notebook's outputs, in order."""
    rows = []
    for text in _markdown_outputs(nb):
        found = table_rows(text)
        if found is not None:
            rows += found
    return rows


def stored_text(nb) -> str:
    """Everything the stored outputs show as text: streams, plain-text and Markdown results."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts += [data.get("text/plain", ""), data.get("text/markdown", "")]
    return "\n".join(parts)


def scorecard(paths: list[Path]) -> str:
    """The scorecard table: every findings row of every chapter, prefixed with its number."""
    lines = ["| " + " | ".join(SCORECARD_HEADER) + " |", "|" + "---|" * len(SCORECARD_HEADER)]
    for path in paths:
        rows = findings_rows(nbformat.read(path, as_version=4))
        if not rows:
            raise ValueError(f"{path.name}: no stored findings table (execute the chapter)")
        lines += ["| " + " | ".join((path.name[:2], *row)) + " |" for row in rows]
    return "\n".join(lines)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def chapter_times(paths: list[Path]) -> str:
    """The chapter-time table: each chapter's mode and seconds from its stored metadata."""
    lines = ["| # | chapter | executed in | time | stored size |", "|---|---|---|---|---|"]
    total = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        meta = nb.metadata.get("zfkeras", {})
        if "seconds" not in meta:
            raise ValueError(f"{path.name}: no execution metadata (run tools/render.py on it)")
        title = nb.cells[0].source.splitlines()[0].split("·", 1)[-1].strip()
        total += meta["seconds"]
        size = path.stat().st_size / 1e6
        lines.append(
            f"| {path.name[:2]} | {title} | {meta['mode']} mode | {_minutes(meta['seconds'])} "
            f"| {size:.2f} MB |"
        )
    lines.append(f"| | all {len(paths)} chapters | | {_minutes(total)} | |")
    return "\n".join(lines)


def replace_block(text: str, name: str, body: str) -> str:
    """Replace what lies between ``<!-- name: begin ... -->`` and ``<!-- name: end -->``."""
    pattern = re.compile(
        rf"(<!-- {re.escape(name)}: begin[^>]*-->\n)(.*?)(\n<!-- {re.escape(name)}: end -->)",
        re.S,
    )
    if not pattern.search(text):
        raise ValueError(f"README.md has no '<!-- {name}: begin -->' ... '<!-- {name}: end -->'")
    return pattern.sub(lambda m: m.group(1) + body + m.group(3), text, count=1)


def updated_readme(text: str, paths: list[Path]) -> str:
    text = replace_block(text, "scorecard", scorecard(paths))
    return replace_block(text, "chapter-times", chapter_times(paths))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if README.md is out of date")
    args = p.parse_args(argv)
    text = README.read_text()
    new = updated_readme(text, chapters())
    if args.check:
        if new != text:
            print("README.md is out of date: run .venv/bin/python tools/scorecard.py")
            return 1
        print("README.md scorecard and chapter times are up to date")
        return 0
    README.write_text(new)
    print(f"README.md: scorecard and chapter times written from {len(chapters())} chapters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
