"""Build the course book: the chapters as one navigable HTML book (Sphinx + myst-nb).

    .venv/bin/python tools/build_book.py --out build/book   # from the stored chapters/, as they are
    .venv/bin/python tools/render.py --out build             # `make course`: executes, then builds

The book is built from notebooks that already carry their outputs; nothing is executed
(``nb_execution_mode = "off"`` in book/conf.py). A source folder is staged first:

- ``index.md``, generated from README.md, the one source of the text: its introduction (up to
  the first ``##`` heading), its chapter table with a column added for each chapter's question
  (the ``**Question.**`` paragraph of the notebook's first cell), and its reproduction scorecard;
- ``chapters/NN_name.ipynb``, the notebooks, so that the README's links
  ``chapters/NN_name.ipynb`` lead to the chapter pages; a hidden table of contents lists them in
  order (the sidebar, previous/next links).

Then Sphinx builds HTML with the configuration in book/conf.py (sphinx-book-theme: sidebar,
previous/next, search), quietly (``-q``: warnings and errors only).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "book"
README = ROOT / "README.md"
INTRO, CHAPTERS, SCORECARD = "", "Chapters", "Reproduction scorecard"
CHAPTER_LINK = re.compile(r"\[([^\]]*)\]\(chapters/([^)\s]+)\.ipynb\)")
NUMBER = re.compile(r"^\d+ · ")  # "01 · " before a chapter's title


def readme_sections(text: str) -> dict[str, str]:
    """README.md cut at its ``## `` headings: ``{heading: body}``; the introduction (the title
    and what precedes the first ``##``) under ``""``. Bodies keep their Markdown as written."""
    sections, name, lines = {}, INTRO, []
    fenced = False
    for line in text.splitlines():
        fenced ^= line.startswith("```")
        if line.startswith("## ") and not fenced:
            sections[name] = "\n".join(lines).strip() + "\n"
            name, lines = line[3:].strip(), []
        else:
            lines.append(line)
    sections[name] = "\n".join(lines).strip() + "\n"
    return sections


def title_of(nb: nbformat.NotebookNode) -> str:
    """The chapter's title: the first ``# `` heading of a Markdown cell ("untitled" if none)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "untitled"


def question_of(nb: nbformat.NotebookNode, name: str = "notebook") -> str:
    """The chapter's question: the paragraph of the first cell that starts with
    ``**Question.**``, without that label, on one line.

    Raises:
        ValueError: the first cell has no such paragraph (``name`` says which notebook).
    """
    first = nb.cells[0].source if nb.cells and nb.cells[0].cell_type == "markdown" else ""
    for paragraph in re.split(r"\n\s*\n", first):
        if paragraph.startswith("**Question.**"):
            return " ".join(paragraph[len("**Question.**") :].split())
    raise ValueError(
        f"{name}: expected a '**Question.** ...' paragraph in the first (Markdown) cell"
    )


def chapter_table(section: str, chapters: list[tuple[str, nbformat.NotebookNode]]) -> str:
    """The README's chapter table with a ``question`` column, for the ``chapters`` (notebook
    stem such as ``01_architecture``, notebook) of the book. A row whose chapter is not in the
    book keeps its text without the link; a chapter the table lacks gets a row of its own
    (number, title, question)."""
    questions = {stem: question_of(nb, f"{stem}.ipynb") for stem, nb in chapters}
    lines, listed, columns = [], set(), 0
    for line in section.splitlines():
        found = CHAPTER_LINK.search(line)
        if not line.startswith("|"):  # the text around the table
            lines.append(line)
        elif line.startswith("|---"):
            lines.append(line + "---|")
        elif not found:  # the header row
            columns = line.strip("|").count("|") + 1
            lines.append(line + " question |")
        elif found.group(2) in questions:
            listed.add(found.group(2))
            lines.append(f"{line} {questions[found.group(2)]} |")
        else:
            lines.append(CHAPTER_LINK.sub(r"\1", line) + "  |")
    rows = [
        f"| {stem[:2]} | [{NUMBER.sub('', title_of(nb))}](chapters/{stem}.ipynb) |"
        f"{' |' * (columns - 2)} {questions[stem]} |"
        for stem, nb in chapters
        if stem not in listed
    ]
    at = max((i for i, line in enumerate(lines) if line.startswith("|")), default=len(lines) - 1)
    return "\n".join(lines[: at + 1] + rows + lines[at + 1 :]) + "\n"


def index_markdown(readme: str, chapters: list[tuple[str, nbformat.NotebookNode]]) -> str:
    """The book's index page: the README's introduction, chapter table (with each chapter's
    question) and scorecard, then the hidden table of contents of ``chapters`` (stem, notebook)
    in the given order."""
    sections = readme_sections(readme)
    missing = [s for s in (CHAPTERS, SCORECARD) if s not in sections]
    if missing:
        raise ValueError(f"README.md: expected the sections '## {'/'.join(missing)}'")
    toc = "\n".join(f"chapters/{stem}" for stem, _ in chapters)
    return (
        f"{sections[INTRO]}\n## {CHAPTERS}\n\n{chapter_table(sections[CHAPTERS], chapters)}\n"
        f"## {SCORECARD}\n\n{sections[SCORECARD]}\n"
        f"```{{toctree}}\n:hidden:\n:maxdepth: 1\n:caption: Chapters\n\n{toc}\n```\n"
    )


def stage(notebooks: list[Path], src: Path, readme: Path = README) -> None:
    """Write the Sphinx source folder ``src``: ``index.md`` and ``chapters/<name>.ipynb``."""
    (src / "chapters").mkdir(parents=True, exist_ok=True)
    chapters = []
    for path in notebooks:
        shutil.copy(path, src / "chapters" / path.name)
        chapters.append((path.stem, nbformat.read(path, as_version=4)))
    index = index_markdown(readme.read_text(encoding="utf-8"), chapters)
    (src / "index.md").write_text(index, encoding="utf-8")


def build(
    notebooks: list[Path], out: Path, strict: bool = False, warnings: Path | None = None
) -> int:
    """Build the book of ``notebooks`` (executed ``.ipynb`` files, in order) as HTML in ``out``.

    Args:
        notebooks: the chapters; they are rendered with their stored outputs, never executed.
        out: the HTML folder (``out/index.html`` is the start page); rebuilt from scratch.
        strict: warnings are errors (Sphinx ``-W --keep-going``), as in tests/test_book.py.
        warnings: also write Sphinx's warnings to this file.

    Returns:
        Sphinx's exit status (0: built; with ``strict``, also: no warning).

    Raises:
        ValueError: no notebooks, a missing notebook, or a chapter without its question.
    """
    from sphinx.cmd.build import build_main  # imported here: tools/render.py imports this module

    if not notebooks:
        raise ValueError("notebooks: expected at least one chapter, got none")
    missing = [str(p) for p in notebooks if not Path(p).is_file()]
    if missing:
        raise ValueError(f"notebooks: no such file: {', '.join(missing)}")
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="zfkeras-book-") as tmp:
        # built in tmp/html, then moved: myst-nb writes the outputs it extracts next to the
        # HTML folder (../jupyter_execute), which stays in tmp
        src, html = Path(tmp) / "src", Path(tmp) / "html"
        stage([Path(p) for p in notebooks], src)
        args = ["-b", "html", "-q", "-c", str(CONF_DIR), "-d", str(Path(tmp) / "doctrees")]
        args += ["-W", "--keep-going"] if strict else []
        args += ["-w", str(warnings)] if warnings else []
        status = build_main([*args, str(src), str(html)])
        if html.is_dir():
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(html, out)
        return status


def stored_chapters() -> list[Path]:
    """Every chapter of the course, in order: ``chapters/NN_*.ipynb``."""
    return sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def chapters_parser(doc: str, notebooks_help: str) -> argparse.ArgumentParser:
    """The command line of tools/render.py and of this tool: ``doc`` as the description and
    the chapters as positional arguments (``notebooks_help`` says what they are for)."""
    p = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("notebooks", nargs="*", type=Path, help=notebooks_help)
    return p


def main(argv: list[str] | None = None) -> int:
    p = chapters_parser(__doc__, "executed chapters in order (default: the stored chapters)")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "book", help="the HTML folder")
    p.add_argument("--strict", action="store_true", help="warnings are errors")
    args = p.parse_args(argv)
    notebooks = args.notebooks or stored_chapters()
    try:
        status = build(notebooks, args.out, strict=args.strict)
    except ValueError as err:
        p.error(str(err))
    if status == 0:
        print(f"book: open {args.out / 'index.html'}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
