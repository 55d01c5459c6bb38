"""No global side effects: importing zfkeras and running ``training.fit`` leave the global random
generators, the loggers, the warning filters and the environment as they were; no library module
reseeds the global generators (``training.loop.seeded`` seeds Python's and NumPy's for the
duration of a fit and puts them back), changes a logger's level, or reads a default from the
environment (only ``zfkeras.config``, the data folder lookup and the command lines' quiet start
read it). The command lines start TensorFlow quietly; ``data.cifar10`` says it downloads first."""

import ast
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

PKG = Path(__file__).resolve().parent.parent / "zfkeras"
ROOT = PKG.parent
RESEED = {"set_random_seed", "set_seed"}


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            owner = ast.unparse(f.value) if isinstance(f, ast.Attribute) else ""
            yield owner, name


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_no_global_reseeding_or_logger_change(path):
    rel = str(path.relative_to(PKG))
    for owner, name in _calls(path):
        if name in RESEED or (owner in ("np.random", "random") and name == "seed"):
            assert rel == "training/loop.py", f"{rel} reseeds the global generators"
        assert name != "setLevel", f"{rel} changes a logger's level"


def test_only_config_reads_the_environment_for_defaults():
    readers = {
        str(p.relative_to(PKG))
        for p in PKG.rglob("*.py")
        if "os.environ" in p.read_text() or "getenv" in p.read_text()
    }
    # cifar.py: the data folder; _quiet.py: the command lines' TF_CPP_MIN_LOG_LEVEL, set before
    # TensorFlow is imported
    assert readers <= {"config.py", "data/cifar.py", "_quiet.py"}, readers
    assert "environ" not in (PKG / "methods" / "filters.py").read_text()


def test_tf_log_level_is_set_only_before_tensorflow_starts():
    # Setting TF_CPP_MIN_LOG_LEVEL after TensorFlow is imported does nothing: the package sets
    # it only in the quiet start of its command lines, before their first TensorFlow import.
    setters = {
        str(p.relative_to(PKG))
        for p in PKG.rglob("*.py")
        if "TF_CPP_MIN_LOG_LEVEL" in p.read_text()
    }
    assert setters == {"_quiet.py"}, setters


# A snapshot of the process state a library must leave alone, printed as JSON by the child.
SNAPSHOT = """
import json, logging, os, random, warnings
import numpy as np

def loggers():
    out = {}
    for name in ("tensorflow", "absl", "", "keras", "zfkeras"):
        log = logging.getLogger(name)
        out[name or "root"] = [log.level, len(log.filters), len(log.handlers), log.propagate]
    return out

def snapshot():
    return {
        "environ": dict(os.environ),
        "filters": [repr(f) for f in warnings.filters],
        "loggers": loggers(),
    }
"""

IMPORT_ALL = (
    SNAPSHOT
    + """
import tensorflow, keras, matplotlib  # the dependencies' own start-up is not zfkeras's
before = snapshot()
import zfkeras
for name in zfkeras.__all__:  # every public name, every subpackage imported
    getattr(zfkeras, name)
import zfkeras.experiments
for name in zfkeras.experiments.__all__:
    getattr(zfkeras.experiments, name)
print(json.dumps({"before": before, "after": snapshot()}))
"""
)


def run_child(code: str, **env) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    environ.update(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", **env)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_zfkeras_changes_no_process_state():
    got = run_child(IMPORT_ALL)
    assert got["after"]["environ"] == got["before"]["environ"]
    assert got["after"]["filters"] == got["before"]["filters"]
    assert got["after"]["loggers"] == got["before"]["loggers"]


def test_importing_zfkeras_imports_neither_tensorflow_nor_matplotlib():
    got = run_child(
        "import json, sys, zfkeras; zfkeras.__version__; zfkeras.config.quick()\n"
        "print(json.dumps(sorted(m for m in ('tensorflow', 'keras', 'matplotlib') "
        "if m in sys.modules)))"
    )
    assert got == []


# The same draws from every global generator with and without a training.fit in between: fit
# leaves Python's random, NumPy's global RandomState, TensorFlow's global seed (its op-seed
# sequence) and Keras' global SeedGenerator where they were.
FIT = (
    SNAPSHOT
    + """
import keras, tensorflow as tf
from zfkeras import data, training

def draws():
    return [
        random.random(),
        float(np.random.rand()),
        float(tf.random.uniform(())),
        float(keras.random.uniform(())),
    ]

recipe = training.Recipe(dataset="shapes", epochs=1, batch_size=8, width=0.125, fc_units=8,
                         image_size=64, colour_jitter=0.1, noise=0.1, blur=0.5, seed=3)
world = data.shapes(24, image_size=64, seed=1)

keras.utils.set_random_seed(11)
first = draws()
without = draws()

keras.utils.set_random_seed(11)
assert draws() == first
before = snapshot()
fitted = training.fit(recipe, world.images, world.labels, verbose=0)
after = snapshot()
with_fit = draws()
weights = [w.tolist() for w in fitted.model.get_layer("conv1").get_weights()]
print(json.dumps({"without": without, "with": with_fit, "before": before, "after": after,
                  "conv1": weights, "loss": fitted.history.history["loss"]}))
"""
)


@pytest.fixture(scope="module")
def fit_runs():
    return run_child(FIT), run_child(FIT.replace("set_random_seed(11)", "set_random_seed(12)"))


def test_fit_leaves_the_global_generators_where_they_were(fit_runs):
    for run in fit_runs:
        assert run["with"] == run["without"]  # python, numpy, tf, keras: the same next draws


def test_fit_leaves_loggers_warning_filters_and_environment(fit_runs):
    for run in fit_runs:
        assert run["after"] == run["before"]


def test_fit_is_a_function_of_the_recipe_seed_not_of_the_global_state(fit_runs):
    a, b = fit_runs  # other global seeds, the same recipe: the same weights and losses
    np.testing.assert_array_equal(np.asarray(a["conv1"][0]), np.asarray(b["conv1"][0]))
    assert a["loss"] == b["loss"]


def quiet_command(*args: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    environ["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=environ, timeout=300
    )


@pytest.mark.parametrize(
    "args",
    [
        ("-m", "zfkeras.train", "--help"),
        ("-c", "import sys; from zfkeras.train import main; sys.argv[0] = 'zfkeras-train'; main()"),
        ("-m", "zfkeras.experiments.renorm", "--help"),
    ],
    ids=["python -m zfkeras.train", "zfkeras-train script", "python -m zfkeras.experiments"],
)
def test_command_lines_start_tensorflow_quietly(args):
    argv = list(args) + (["--help"] if args[0] == "-c" else [])
    done = quiet_command(*argv)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "usage:" in done.stdout
    assert done.stderr == ""  # no TensorFlow start-up lines, no runpy warning


def test_cifar10_says_it_downloads_before_it_does(monkeypatch):
    import keras

    from zfkeras import config, data

    monkeypatch.delenv(config.CIFAR10_ENV, raising=False)
    seen = []

    def load_data():  # stands in for the download; notes what had been said before it
        seen.append([str(w.message) for w in caught])
        x = np.zeros((20, 32, 32, 3), np.uint8)
        y = np.arange(20).reshape(-1, 1) % 10
        return (x, y), (x[:10], y[:10])

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", load_data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, labels = data.cifar10("test")
    assert len(seen) == 1 and any("downloads" in m for m in seen[0]), seen
    assert images.shape == (10, 32, 32, 3) and sorted(labels) == list(range(10))
