"""Tiny helper to write a chapter notebook from a list of (kind, source) cells.

Used by the chapter authors' scripts; the notebooks themselves are the source of truth.
"""

from __future__ import annotations

import nbformat


def write(path, cells) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, src in cells:
        src = src.strip("\n")
        nb.cells.append(nbformat.v4.new_markdown_cell(src) if kind == "md"
                        else nbformat.v4.new_code_cell(src))
    nbformat.write(nb, path)
