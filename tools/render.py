"""Execute chapters from a clean kernel: render the course as a book, or store them executed.

    .venv/bin/python tools/render.py --out build                   # `make course`
    .venv/bin/python tools/render.py --in-place chapters/01_*.ipynb  # `make chapters NB=...`

Without ``--in-place`` each chapter (default: every ``chapters/NN_*.ipynb``) is copied to
``build/notebooks/`` and executed there; then the executed copies become the course book,
``build/book/index.html`` (tools/build_book.py: Sphinx + myst-nb, which renders them as they
are and executes nothing); the notebooks in chapters/ are not modified. With ``--in-place`` the
given notebooks are executed and saved with their outputs (how chapters are stored). Full mode
unless ZFKERAS_QUICK=1 is set.

Every kernel runs in the chapter's folder with :func:`kernel_env`: TF_CPP_MIN_LOG_LEVEL=3 and
PYTHONSTARTUP=zfkeras/_quiet.py, which imports TensorFlow with its C++ start-up log lines
filtered out, so a cell's output is what the chapter prints. The kernel process's own stderr
(its start-up warnings, anything a crash leaves) goes to ``<out>/logs/NN_name.log``. One line
per chapter is printed (name, ok/FAILED, seconds); a failure adds the error and the failing
cell's first lines; a summary ends the run and the exit status is 1 if any chapter failed (a
failed chapter is still in the book, with its error) or the book could not be built.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
from build_book import build, chapters_parser, stored_chapters  # tools/build_book.py
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
QUIET_STARTUP = ROOT / "zfkeras" / "_quiet.py"


def kernel_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a chapter's kernel: ``base`` (default ``os.environ``) plus quiet logs.

    MPLBACKEND is the inline backend (an inherited Agg would store no figures);
    TF_CPP_MIN_LOG_LEVEL defaults to 3 (TensorFlow's own INFO/WARNING/ERROR logging);
    PYTHONSTARTUP runs ``zfkeras/_quiet.py`` in the kernel before the first cell (absl's
    pre-initialisation lines, which TF_CPP_MIN_LOG_LEVEL does not reach). conftest.py sets
    TF_CPP_MIN_LOG_LEVEL and PYTHONSTARTUP the same way for the nbval kernels of ``make test``.
    """
    env = dict(os.environ if base is None else base)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # figures into outputs
    env["PYTHONSTARTUP"] = str(QUIET_STARTUP)
    return env


def execute(nb: nbformat.NotebookNode, cwd: Path, log: Path, timeout: int) -> None:
    """Execute ``nb`` in place in a fresh kernel started in ``cwd``; kernel stderr to ``log``.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised (``nb`` keeps the outputs so far).
        nbclient.exceptions.DeadKernelError, CellTimeoutError: the kernel died or a cell timed out.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    with open(log, "w", encoding="utf-8") as err:
        client.execute(env=kernel_env(), stderr=err, stdout=err)


def describe_failure(nb: nbformat.NotebookNode, err: Exception, log: Path) -> list[str]:
    """A few lines saying what failed: the error and the failing cell's first source lines."""
    if isinstance(err, CellExecutionError):
        lines = [f"{err.ename}: {err.evalue}".strip()]
    else:
        lines = [
            f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err) else ''}",
            f"kernel log: {log}",
        ]
    failing = [
        c
        for c in nb.cells
        if c.cell_type == "code" and any(o.output_type == "error" for o in c.get("outputs", []))
    ]
    if failing:
        cell = failing[-1]
        src = cell.source.splitlines()
        lines.append(f"in cell [{cell.execution_count}]:")
        lines += [f"    {s}" for s in src[:4]] + (["    ..."] if len(src) > 4 else [])
    return lines


def main(argv: list[str] | None = None) -> int:
    p = chapters_parser(__doc__, "chapters to run (default: every chapters/NN_*.ipynb)")
    p.add_argument(
        "--in-place",
        action="store_true",
        help="execute the given notebooks and save them with outputs (no book)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=ROOT / "build",
        help="the book (book/), executed copies and kernel logs go here (default build/)",
    )
    p.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = p.parse_args(argv)
    if args.in_place and not args.notebooks:
        p.error("--in-place needs the notebooks to execute, e.g. chapters/01_architecture.ipynb")
    notebooks = args.notebooks or stored_chapters()
    missing = [str(nb) for nb in notebooks if not nb.is_file()]
    if missing:
        p.error(f"no such notebook: {', '.join(missing)}")
    quick = os.environ.get("ZFKERAS_QUICK")  # read by zfkeras.config.quick() in the kernels
    mode = f"ZFKERAS_QUICK={quick}" if quick else "full mode (ZFKERAS_QUICK unset)"
    what = "executing in place" if args.in_place else f"rendering to {args.out}"
    print(f"{what}: {len(notebooks)} chapter(s), {mode}", flush=True)
    if not args.in_place:
        (args.out / "notebooks").mkdir(parents=True, exist_ok=True)
    width = max(len(nb.name) for nb in notebooks)
    executed, failed, start = [], [], time.time()
    for src in notebooks:
        dst = src if args.in_place else args.out / "notebooks" / src.name
        if not args.in_place:
            shutil.copy(src, dst)
        nb = nbformat.read(dst, as_version=4)
        log = args.out / "logs" / (src.stem + ".log")
        t0 = time.time()
        try:
            execute(nb, src.resolve().parent, log, args.timeout)
            status, detail = "ok", []
        except Exception as err:  # keep going: report it, the page shows the failing cell
            status, detail = "FAILED", describe_failure(nb, err, log)
            failed.append(src.name)
        seconds = time.time() - t0
        # what tools/scorecard.py writes into the README's chapter table
        nb.metadata["zfkeras"] = {"mode": "quick" if quick else "full", "seconds": round(seconds)}
        if not args.in_place or status == "ok":  # never store a half-executed chapter
            nbformat.write(nb, dst)
        line = f"{src.name:<{width}}  {status:<6}  {seconds:5.0f} s"
        if args.in_place and status == "ok":
            line += f"  {dst.stat().st_size / 1e6:.2f} MB"
        executed.append(dst)
        print("\n".join([line] + [f"    {d}" for d in detail]), flush=True)
    total = time.time() - start
    summary = f"{len(notebooks)} chapter(s) in {total:.0f} s: {len(notebooks) - len(failed)} ok"
    summary += f", {len(failed)} failed ({', '.join(failed)})" if failed else ""
    book_failed = False
    if not args.in_place:
        book = args.out / "book"
        try:
            book_failed = build(executed, book) != 0
        except ValueError as err:  # a chapter without its question: say which, no traceback
            print(f"book: {err}", flush=True)
            book_failed = True
        summary += "; the book FAILED (see above)" if book_failed else ""
        summary += f"; open {book / 'index.html'}"
    print(summary, flush=True)
    return 1 if failed or book_failed else 0


if __name__ == "__main__":
    sys.exit(main())
