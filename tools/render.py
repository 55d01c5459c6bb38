"""Render the course: execute every chapter from a clean kernel and write HTML under build/.

    .venv/bin/python tools/render.py --out build        # what `make course` runs

Each chapter is copied to ``build/notebooks/``, executed there (full mode unless ZFKERAS_QUICK=1
is set; the committed notebooks in chapters/ are not modified), converted to
``build/NN_name.html``, and listed in ``build/index.html`` with its run time.
"""

from __future__ import annotations

import argparse
import html
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent


def title_of(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "untitled"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "build")
    p.add_argument("--chapters", type=Path, default=ROOT / "chapters")
    p.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    work = args.out / "notebooks"
    work.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter()
    rows, failed, start = [], 0, time.time()
    notebooks = sorted(args.chapters.glob("[0-9][0-9]_*.ipynb"))
    for i, src in enumerate(notebooks, 1):
        dst = work / src.name
        shutil.copy(src, dst)
        nb = nbformat.read(dst, as_version=4)
        t0 = time.time()
        status = "ok"
        print(f"[{i}/{len(notebooks)}] {src.name} ...", end=" ", flush=True)
        try:
            NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(args.chapters)}}).execute()
        except Exception as err:  # keep going: the page shows the failing cell
            status, failed = f"FAILED: {type(err).__name__}", failed + 1
        seconds = time.time() - t0
        nbformat.write(nb, dst)
        body, _ = exporter.from_notebook_node(nb)
        page = args.out / (src.stem + ".html")
        page.write_text(body, encoding="utf-8")
        rows.append((page.name, title_of(nb), seconds, status))
        print(f"{status} ({seconds:.0f} s)", flush=True)
    items = "\n".join(
        f'<tr><td><a href="{html.escape(f)}">{html.escape(t)}</a></td>'
        f"<td>{s:.0f} s</td><td>{html.escape(st)}</td></tr>" for f, t, s, st in rows)
    (args.out / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>zfkeras course</title>"
        "<h1>zfkeras: Visualizing and Understanding Convolutional Networks, reproduced</h1>"
        f"<p>Rendered in {time.time() - start:.0f} s.</p>"
        f"<table><tr><th>chapter</th><th>run time</th><th>status</th></tr>{items}</table>",
        encoding="utf-8")
    print(f"wrote {args.out / 'index.html'} ({len(rows)} chapters, {failed} failed, "
          f"{time.time() - start:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
