"""The course book (tools/build_book.py, book/conf.py): built from the stored chapters with
warnings as errors and nothing executed; every internal link and anchor resolves; the sidebar
lists the 16 chapters in order; previous/next links chain index -> 01 -> ... -> 16; the index
carries the README's introduction and scorecard and every chapter's question."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

# sphinx-book-theme and myst-parser still use Sphinx API that Sphinx 11 removes (sphinx < 10 here)
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
_spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
build_book = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_book)


class Page(HTMLParser):
    """One HTML page: its links (href/src), its anchors (id, a name), the sidebar's links, the
    previous/next links and its text."""

    def __init__(self, text: str):
        super().__init__()
        self.links, self.anchors, self.sidebar, self.text = [], set(), [], []
        self.prev = self.next = None
        self._nav_depth = 0  # > 0 inside <nav class="bd-docs-nav ...">
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if self._nav_depth and tag == "nav":
            self._nav_depth += 1
        elif tag == "nav" and "bd-docs-nav" in classes:
            self._nav_depth = 1
        for key in ("href", "src"):
            if a.get(key) is not None:
                self.links.append(a[key])
        for key in ("id", "name") if tag == "a" else ("id",):
            if a.get(key):
                self.anchors.add(a[key])
        if tag == "a":
            if self._nav_depth:
                self.sidebar.append(a.get("href"))
            if "left-prev" in classes:
                self.prev = a.get("href")
            if "right-next" in classes:
                self.next = a.get("href")

    def handle_endtag(self, tag):
        if tag == "nav" and self._nav_depth:
            self._nav_depth -= 1

    def handle_data(self, data):
        self.text.append(data)


def target(page: Path, href: str) -> tuple[Path, str]:
    """The file and fragment a relative ``href`` on ``page`` points to."""
    parts = urlsplit(href)
    path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
    return path, unquote(parts.fragment)


def is_internal(href: str) -> bool:
    parts = urlsplit(href)
    return not (parts.scheme or parts.netloc or href.startswith("//"))


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The book of the stored chapters, built as `make course` builds it (quiet, warnings as
    errors here): ``(folder, {path: Page})``."""
    out = tmp_path_factory.mktemp("book") / "html"
    command = [sys.executable, str(ROOT / "tools" / "build_book.py"), "--strict", "--out", str(out)]
    run = subprocess.run(command, capture_output=True, text=True, cwd=out.parent)
    assert run.returncode == 0, f"Sphinx exit {run.returncode}:\n{run.stderr}"
    assert (run.stdout, run.stderr) == (f"book: open {out / 'index.html'}\n", "")
    assert [p.name for p in out.parent.iterdir()] == ["html"]  # nothing left beside the book
    # the pages a reader opens (the themes also copy Jinja macro files, *.html, into _static/)
    found = [p for p in sorted(out.rglob("*.html")) if "_static" not in p.relative_to(out).parts]
    return out, {p.resolve(): Page(p.read_text(encoding="utf-8")) for p in found}


def test_every_internal_link_and_anchor_resolves(book):
    out, pages = book
    broken, checked = [], 0
    for page, parsed in pages.items():
        for href in parsed.links:
            if not is_internal(href) or href.startswith(("mailto:", "javascript:", "data:")):
                continue
            path, fragment = target(page, href)
            checked += 1
            where = f"{page.relative_to(out)}: {href}"
            if not path.is_file() or out.resolve() not in path.parents:
                broken.append(f"{where} (no file)")
            elif fragment and path.suffix == ".html":
                anchors = pages[path].anchors if path in pages else set()
                if fragment not in anchors:
                    broken.append(f"{where} (no anchor #{fragment})")
    assert checked > 1000  # the book's own pages, images, styles and scripts
    assert not broken, "\n".join(broken[:20])


def test_sidebar_lists_the_chapters_in_order_on_every_page(book):
    out, pages = book
    expected = [(out / "chapters" / f"{nb.stem}.html").resolve() for nb in CHAPTERS]
    assert len(expected) == 17
    for page in [out / "index.html", *expected]:
        links = [target(page, h)[0] for h in pages[page.resolve()].sidebar]
        chapters = [p for p in links if p.parent == (out / "chapters").resolve()]
        assert chapters == expected, page.name
        assert (out / "index.html").resolve() in links  # the start page heads the sidebar


def test_previous_and_next_chain_the_index_and_the_chapters(book):
    out, pages = book
    order = [(out / "index.html").resolve()]
    order += [(out / "chapters" / f"{nb.stem}.html").resolve() for nb in CHAPTERS]
    for i, page in enumerate(order):
        parsed = pages[page]
        prev = target(page, parsed.prev)[0] if parsed.prev else None
        nxt = target(page, parsed.next)[0] if parsed.next else None
        assert prev == (order[i - 1] if i else None), page.name
        assert nxt == (order[i + 1] if i + 1 < len(order) else None), page.name


def test_search_page_and_index(book):
    out, pages = book
    assert (out / "search.html").resolve() in pages
    assert (out / "searchindex.js").is_file()
    assert "chapters/01_architecture" in (out / "searchindex.js").read_text()


def plain(text: str) -> str:
    """Text as a page shows it, for comparison: no Markdown marks, plain quotes, one space."""
    text = html.unescape(text).replace("\u2026", "...")
    for fancy, simple in (("\u201c\u201d", '"'), ("\u2018\u2019", "'")):
        text = re.sub(f"[{fancy}]", simple, text)
    return " ".join(re.sub(r"[*`]", "", text).split())


def test_index_has_the_readme_and_every_question(book):
    out, pages = book
    index = plain("".join(pages[(out / "index.html").resolve()].text))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert plain(readme.split("\n\n")[1]) in index  # the paragraph under the title
    scorecard = readme.split("\n## Reproduction scorecard\n")[1].split("\n## ")[0]
    rows = [r.split("|") for r in scorecard.splitlines() if re.match(r"\| \d\d \|", r)]
    assert len(rows) >= 16
    missing = [r[2].strip() for r in rows if plain(f"{r[2]} {r[3]}") not in index]
    assert not missing, f"scorecard rows not on the index: {missing}"
    for nb in CHAPTERS:
        first = "".join(json.loads(nb.read_text())["cells"][0]["source"])
        question = first.split("**Question.**")[1].split("\n\n")[0]
        assert plain(question) in index, nb.name


def test_readme_chapter_links_lead_to_the_chapter_pages(book):
    out, pages = book
    index = (out / "index.html").resolve()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = re.findall(r"\]\(chapters/(\d\d_\w+)\.ipynb\)", readme)
    assert linked == [nb.stem for nb in CHAPTERS]
    hrefs = {target(index, h)[0] for h in pages[index].links if is_internal(h)}
    assert {(out / "chapters" / f"{s}.html").resolve() for s in linked} <= hrefs


def notebook(cells: list[tuple[str, str]]) -> dict:
    """A notebook (nbformat 4) with ``(cell_type, source)`` cells and no outputs."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {"cell_type": t, "id": f"c{i}", "metadata": {}, "source": s}
            | ({"outputs": [], "execution_count": None} if t == "code" else {})
            for i, (t, s) in enumerate(cells)
        ],
    }


def test_the_book_executes_nothing(tmp_path):
    marker = tmp_path / "executed"
    nb = tmp_path / "01_probe.ipynb"
    nb.write_text(
        json.dumps(
            notebook(
                [
                    ("markdown", "# 01 · Probe\n\n**Question.** Does the book\nrun a cell?"),
                    ("code", f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)"),
                ]
            )
        )
    )
    assert build_book.build([nb], tmp_path / "html", strict=True) == 0
    assert not marker.exists()
    page = (tmp_path / "html" / "chapters" / "01_probe.html").read_text(encoding="utf-8")
    assert "SystemExit" in page and "Traceback" not in page  # the source, not a run
    index = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert "Does the book run a cell?" in index  # a chapter the README does not list yet
    assert re.search(r'<a [^>]*href="chapters/01_probe.html"[^>]*>.*Probe<', index)
    # chapters missing from this book stay in the README's table, without a broken link
    assert "Training a ZFNet" in index and "02_training.html" not in index


def test_question_of_reads_the_first_paragraph_and_names_the_notebook():
    nb = nbformat.from_dict(
        notebook([("markdown", "# 03 · X\n\n**Question.** What\ndoes *it* do?\n\nMore.")])
    )
    assert build_book.question_of(nb) == "What does *it* do?"
    bare = nbformat.from_dict(notebook([("markdown", "# 03 · X\n\nNo question here.")]))
    with pytest.raises(ValueError, match="03_x.ipynb.*Question"):
        build_book.question_of(bare, "03_x.ipynb")
    with pytest.raises(ValueError, match="notebooks: expected at least one"):
        build_book.build([], Path("unused"))


def test_readme_sections_ignore_headings_in_code():
    text = "# T\n\nintro\n\n```bash\n## not a heading\n```\n\n## A\n\nbody a\n## B\nbody b\n"
    sections = build_book.readme_sections(text)
    assert list(sections) == ["", "A", "B"]
    assert "## not a heading" in sections[""] and sections["B"] == "body b\n"
