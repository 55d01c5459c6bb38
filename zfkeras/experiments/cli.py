"""The experiments' command lines (``python -m zfkeras.experiments.<name>``): one parser, the
command that reproduces a run, and the record file with that command and the Keras version.

Each module's ``main(argv=None)`` uses these; its first lines call
:func:`zfkeras._quiet.start_command` so that, run as ``__main__``, TensorFlow starts without
its log lines (imported, the module changes nothing).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import keras


def parser(module: str, description: str | None) -> argparse.ArgumentParser:
    """The argument parser of ``python -m <module>``, its help text ``description`` as written."""
    return argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def command_line(module: str, argv: Sequence[str] | None = None) -> str:
    """The command that reproduces a run: ``python -m <module>`` and its arguments (``argv``,
    default ``sys.argv[1:]``)."""
    used = sys.argv[1:] if argv is None else list(argv)
    return f"python -m {module} " + " ".join(used)


def write_record(
    result: dict, path: str | Path, module: str, argv: Sequence[str] | None = None
) -> None:
    """Add ``command`` (:func:`command_line`) and ``keras`` (the version) to ``result`` (in
    place) and write it to ``path`` as JSON."""
    result["command"] = command_line(module, argv)
    result["keras"] = keras.__version__
    Path(path).write_text(json.dumps(result, indent=1))
