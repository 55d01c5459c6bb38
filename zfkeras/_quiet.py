# Kernel start-up file: import TensorFlow once, without its C++ start-up log lines.
#
# tools/render.py (`make course`, `make chapters`) and the nbval run (conftest.py, `make test`)
# start every chapter's kernel with PYTHONSTARTUP pointing at this file; IPython runs it in the
# kernel, after the kernel captures file descriptor 2 and before the first cell.
#
# Why a file and not an environment variable: loading TensorFlow's shared libraries logs through
# absl before absl logging is initialised, and that path ignores TF_CPP_MIN_LOG_LEVEL:
#     WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
#     I0000 00:00:... port.cc:153] oneDNN custom operations are on. ...
#     I0000 00:00:... cudart_stub.cc:31] Could not find cuda drivers on your machine, ...
# twice (libtensorflow_framework.so.2 and the copy linked into _pywrap_profiler_plugin.so);
# before initialisation absl prints the Unix time in the seconds field ("00:00:1795514610.51").
# Tried without effect: TF_CPP_MIN_LOG_LEVEL=3, TF_CPP_MAX_VLOG_LEVEL=-1, GLOG_minloglevel=3,
# ABSL_MIN_LOG_LEVEL=3, CUDA_VISIBLE_DEVICES="". Only TF_ENABLE_ONEDNN_OPTS=0 removes one line,
# and it does so by switching the oneDNN kernels off, which changes speed and round-off.
# TF_CPP_MIN_LOG_LEVEL=3 (set by the same tools) still matters: it silences what TensorFlow
# logs through its own logging, e.g. cpu_feature_guard's "This TensorFlow binary is optimized
# ..." at import, and the INFO/WARNING lines of later ops (device creation on a GPU, ...).
#
# So the import runs here with file descriptor 2 pointed at a temporary file; afterwards every
# line that is not such a log line is written back to stderr, so a genuine error still shows.
#
# One Python warning is ignored: Keras's "`shuffle=True` was passed, but will be ignored since
# the data `x` was provided as a tf.data.Dataset", raised by every fit() on a dataset because
# shuffle defaults to True; the course's pipelines shuffle in tf.data. Nothing else is filtered.
#
# IPython runs this file in the kernel's own namespace, so it defines one function, calls it
# and deletes it: the chapter's namespace starts empty, as in any fresh kernel. (Importing
# zfkeras._quiet as a module only defines the function.)


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


if __name__ == "__main__":
    _zfkeras_quiet_start()
    del _zfkeras_quiet_start
