"""Stored chapters show only what the chapter prints: no TensorFlow/absl/oneDNN/CUDA/XLA log lines.

The kernels of ``tools/render.py`` and ``make test`` start with PYTHONSTARTUP=zfkeras/_quiet.py
and TF_CPP_MIN_LOG_LEVEL=3; a chapter executed any other way (a plain Jupyter kernel) stores
about 1 KB of C++ start-up log in its first code cell, which these tests reject. The patterns
here are written independently of the filter in zfkeras/_quiet.py (and are broader); the last
tests run that start-up file against a stand-in TensorFlow and against the real import.

To check other notebooks (e.g. a freshly executed copy):
``python -c "from tests.test_clean_output import log_lines; print(log_lines('x.ipynb'))"``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("[0-9][0-9]_*.ipynb"))

LOG_PATTERNS = [
    r"^[IWEF]\d{4} \d\d:\d\d:\d\d",  # absl/glog line prefix: severity, MMDD, time
    r"absl::InitializeLog",
    r"oneDNN custom operations",
    r"TF_ENABLE_ONEDNN_OPTS",
    r"\bcuda\b|cudart|\bcu(DNN|FFT|BLAS)\b",
    r"computation placer",
    r"Unable to register",
    r"cpu_feature_guard|This TensorFlow binary is optimized",
    r"TF-TRT Warning|TensorRT",
    r"XLA service|StreamExecutor device|Created device /job",
    r"Kernel is running over TCP",
    r"`shuffle=True` was passed, but will be ignored",  # Keras noise on fit(tf.data.Dataset)
    r"triggered tf\.function retracing",  # TensorFlow's Python logger
]
LOG_LINE = re.compile("|".join(f"(?:{p})" for p in LOG_PATTERNS), re.IGNORECASE)


def output_texts(output: dict) -> list[str]:
    """Every piece of text an output shows: stream text, text/plain data, an error's lines."""
    if output.get("output_type") == "stream":
        return [output.get("text", "")]
    if output.get("output_type") == "error":
        return [f"{output.get('ename')}: {output.get('evalue')}", *output.get("traceback", [])]
    plain = output.get("data", {}).get("text/plain", "")
    return ["".join(plain) if isinstance(plain, list) else plain]


def log_lines(path: str | Path) -> list[str]:
    """``"[cell] line"`` for every output line of the notebook at ``path`` that is log noise."""
    nb = nbformat.read(str(path), as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            for text in output_texts(output):
                found += [f"[{i}] {line}" for line in text.splitlines() if LOG_LINE.search(line)]
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_outputs_have_no_log_lines(path):
    found = log_lines(path)
    assert not found, (
        f"{path.name} stores {len(found)} log line(s); re-execute it with "
        f"`make chapters NB={path.relative_to(path.parent.parent)}`:\n" + "\n".join(found[:6])
    )


def notebook_with(tmp_path, outputs) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("import tensorflow as tf", execution_count=1)
    cell.outputs = outputs
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 · T"), cell]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


# The first code cell of a chapter executed in a plain kernel (chapters/01, as stored before).
STORED_NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1795514610.516561   10034 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results due to floating-point round-off errors from "
    "different computation orders. To turn them off, set the environment variable "
    "`TF_ENABLE_ONEDNN_OPTS=0`.\n"
    "I0000 00:00:1795514610.517397   10034 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.\n"
)
GPU_NOISE = (
    "E0000 00:00:1712345678.123456    4242 cuda_dnn.cc:8310] Unable to register cuDNN factory: "
    "Attempting to register factory for plugin cuDNN when one has already been registered\n"
    "W0000 00:00:1712345678.223456    4242 computation_placer.cc:177] computation placer "
    "already registered. Please check linkage and avoid linking the same target more than once.\n"
    "2025-01-01 12:00:00.000000: W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] "
    "TF-TRT Warning: Could not find TensorRT\n"
)
CHAPTER_PRINTS = (
    "zfkeras 0.1.0 | keras 3.15.1 | tensorflow 2.21.0 | quick mode: True\n"
    "Epoch 1/3\n"
    "4/4 - 2s - 412ms/step - accuracy: 0.1172 - loss: 2.3018 - val_accuracy: 0.1055\n"
    "conv1: 96 filters 7x7, stride 2 -> (None, 110, 110, 96)\n"
    "after 1 epoch(s) on 512 images: test accuracy 0.105\n"
)


def test_log_lines_finds_each_stored_and_gpu_log_line(tmp_path):
    path = notebook_with(
        tmp_path,
        [
            nbformat.v4.new_output("stream", name="stderr", text=STORED_NOISE),
            nbformat.v4.new_output("stream", name="stdout", text=CHAPTER_PRINTS),
            nbformat.v4.new_output("display_data", data={"text/plain": GPU_NOISE}),
        ],
    )
    found = log_lines(path)
    expected = STORED_NOISE.splitlines() + GPU_NOISE.splitlines()
    assert found == [f"[1] {line}" for line in expected]


def test_log_lines_keeps_what_a_chapter_prints(tmp_path):
    warning = (
        "/work/zfkeras/cam.py:80: UserWarning: class score gradient is zero for image 3; "
        "its map is all zeros\n  warnings.warn(\n"
    )
    path = notebook_with(
        tmp_path,
        [
            nbformat.v4.new_output("stream", name="stdout", text=CHAPTER_PRINTS),
            nbformat.v4.new_output("stream", name="stderr", text=warning),
            nbformat.v4.new_output(
                "execute_result", data={"text/plain": "(32, 32, 3)"}, execution_count=1
            ),
        ],
    )
    assert log_lines(path) == []


# The kernel start-up file (PYTHONSTARTUP of the course's kernels) that keeps chapters clean.
QUIET = Path(__file__).resolve().parent.parent / "zfkeras" / "_quiet.py"
RUN_AS_STARTUP = f"import runpy; runpy.run_path({str(QUIET)!r}, run_name='__main__')"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=300,
    )


def test_quiet_startup_filters_log_lines_and_keeps_the_rest(tmp_path):
    genuine = "E0000 00:00:1712345678.3 4242 op_kernel.cc:1] a real error\nplain text on fd 2\n"
    noise = (STORED_NOISE + GPU_NOISE).splitlines(keepends=True)[:5]
    written = "".join(noise[:2]) + genuine + "".join(noise[2:])
    (tmp_path / "tensorflow.py").write_text(  # a stand-in writing straight to file descriptor 2
        f"import os\nos.write(2, {written.encode()!r})\n"
    )
    done = run_python(RUN_AS_STARTUP, PYTHONPATH=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stderr == genuine


def test_quiet_startup_lets_an_import_error_through_and_leaves_no_names(tmp_path):
    (tmp_path / "tensorflow.py").write_text("raise ImportError('no tensorflow here')\n")
    done = run_python(RUN_AS_STARTUP, PYTHONPATH=str(tmp_path))
    assert done.returncode != 0 and "ImportError: no tensorflow here" in done.stderr
    (tmp_path / "tensorflow.py").write_text("")
    namespace = {"__name__": "__main__"}  # IPython runs the file in the kernel's namespace
    done = run_python(
        f"exec(open({str(QUIET)!r}).read(), ns := {namespace!r}); print(sorted(ns))",
        PYTHONPATH=str(tmp_path),
    )
    assert done.stdout.split() == ["['__builtins__',", "'__name__']"], done.stderr


def test_real_tensorflow_import_is_silent_only_through_quiet_startup():
    plain = run_python("import tensorflow")  # TF_CPP_MIN_LOG_LEVEL unset in both runs
    assert any(LOG_LINE.search(line) for line in plain.stderr.splitlines()), plain.stderr
    quiet = run_python(RUN_AS_STARTUP + "; import sys; print('tensorflow' in sys.modules)")
    assert quiet.returncode == 0 and quiet.stdout.strip() == "True", quiet.stderr
    assert quiet.stderr == ""


def test_quiet_startup_drops_the_retracing_warning_and_keeps_other_tensorflow_warnings(tmp_path):
    (tmp_path / "tensorflow.py").write_text("")  # the filter is plain logging: no TF needed
    code = RUN_AS_STARTUP + (
        "; import logging; log = logging.getLogger('tensorflow')"
        "; log.warning('5 out of the last 9 calls to <function run> triggered tf.function "
        "retracing. Tracing is expensive')"
        "; log.warning('a genuine warning')"
    )
    done = run_python(code, PYTHONPATH=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stderr == "a genuine warning\n"
