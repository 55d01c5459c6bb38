"""The experiments' command lines (``python -m zfkeras.experiments.<name>``): one parser, the
command that reproduces a run, and the record file with that command and the Keras version.

Each module's ``main(argv=None)`` uses these; its first lines call
:func:`zfkeras._quiet.start_command` so that, run as ``__main__``, TensorFlow starts without
its log lines (imported, the module changes nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
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


@dataclasses.dataclass(frozen=True, kw_only=True)
class Record:
    """Base of the results written as JSON records (:func:`write_record`).

    Attributes:
        command, keras: the command line and Keras version of a written record (else None).
    """

    command: str | None = None
    keras: str | None = None


def write_record(result, path: str | Path, module: str, argv: Sequence[str] | None = None) -> None:
    """Write a result dataclass to ``path`` as JSON: its fields (``dataclasses.asdict``) with
    ``command`` (:func:`command_line`) and ``keras`` (the version) filled in."""
    record = dataclasses.asdict(result)
    record["command"] = command_line(module, argv)
    record["keras"] = keras.__version__
    Path(path).write_text(json.dumps(record, indent=1))


def read_record(cls, path: str | Path):
    """The result dataclass ``cls`` built from a JSON record written by :func:`write_record`
    (the shipped ``data/*.json`` files of the experiments).

    Raises:
        ValueError: the file's keys are not the fields of ``cls`` (the message names the
            missing and the unknown ones).
    """
    record = json.loads(Path(path).read_text())
    fields = dataclasses.fields(cls)
    required = {f.name for f in fields if f.default is dataclasses.MISSING}
    keys = set(record) if isinstance(record, dict) else set()
    missing, extra = sorted(required - keys), sorted(keys - {f.name for f in fields})
    if not isinstance(record, dict) or missing or extra:
        raise ValueError(
            f"path must hold a record of {cls.__name__}, got {path} "
            f"(missing keys {missing}, unknown keys {extra})"
        )
    return cls(**record)
