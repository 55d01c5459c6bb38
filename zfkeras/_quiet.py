# Start-up without TensorFlow's C++ log lines, for the course kernels and the command lines.
#
# Kernels: tools/render.py and the nbval run start every chapter's kernel with PYTHONSTARTUP
# pointing at this file; IPython runs it in the kernel's namespace before the first cell, so it
# defines its functions, calls one and deletes them. Command lines (``python -m zfkeras.train``,
# the ``zfkeras-train`` script, ``python -m zfkeras.experiments.<name>``) call
# ``start_command`` first thing, before they import TensorFlow: ``zfkeras.train.main`` and the
# top of each experiments module run as ``__main__``. Importing zfkeras changes nothing: the
# package and its subpackages import their modules on first use, so a command's module is the
# first to import TensorFlow.
#
# Loading TensorFlow's shared libraries logs through absl before absl logging is initialised, a
# path that ignores TF_CPP_MIN_LOG_LEVEL ("All log messages before absl::InitializeLog() ...",
# "Could not find cuda drivers ...", "oneDNN custom operations are on ..."). So the import runs
# with file descriptor 2 pointed at a temporary file, and afterwards every line that is not
# such a log line is written back to stderr: a genuine error still shows. TF_CPP_MIN_LOG_LEVEL=3
# (set by the callers unless already set) silences what TensorFlow logs later through its own
# logging ("rebuild TensorFlow with the appropriate compiler flags", device creation, ...).
#
# One Python warning is ignored: Keras's "`shuffle=True` was passed, but will be ignored since
# the data `x` was provided as a tf.data.Dataset", raised by every fit() on a dataset; the
# course's pipelines shuffle in tf.data. One TensorFlow log record is dropped: "N out of the last
# M calls to <function run> triggered tf.function retracing". The methods compile one function
# per model (cached with the model); a chapter that explains a dozen models in a row (the
# randomization test's clones) creates the same Python function many times, which is what that
# warning counts, while each compiled function is traced only once.


def _zfkeras_quiet_start() -> None:
    import os
    import re
    import sys
    import tempfile
    import warnings

    noise = re.compile(
        r"^WARNING: All log messages before absl::InitializeLog\(\) is called"
        r"|^[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.\-]+:\d+\] "  # absl INFO/WARNING line
        r"|^E\d{4} .*\] Unable to register cu\w+ factory"  # GPU builds: plugins registered twice
        r"|^To enable the following instructions: .*rebuild TensorFlow"  # cpu_feature_guard
    )
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow  # noqa: F401  (loads the libraries that log)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            text = log.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines(keepends=True) if not noise.search(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
    warnings.filterwarnings(
        "ignore", message=r"`shuffle=True` was passed, but will be ignored", category=UserWarning
    )
    import logging

    class _Retracing(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return "triggered tf.function retracing" not in record.getMessage()

    logging.getLogger("tensorflow").addFilter(_Retracing())


def start_command(name: str = "__main__") -> None:
    """Start a command line quietly: ``TF_CPP_MIN_LOG_LEVEL`` defaults to 3 and TensorFlow is
    imported without its start-up log lines. Does nothing unless ``name`` (the caller's
    ``__name__``) is ``"__main__"``, so that importing the module calling it changes nothing."""
    if name == "__main__":
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        _zfkeras_quiet_start()


if __name__ == "__main__":
    _zfkeras_quiet_start()
    del _zfkeras_quiet_start, start_command
