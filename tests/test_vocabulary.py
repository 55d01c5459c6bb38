"""One vocabulary: the signature of every public callable of every public package (methods,
evaluation, experiments, data, models, training, exercises) follows the table in CONTRIBUTING.md,
and every parameter after a method's "what" argument (``layer`` or ``class_index``) is
keyword-only."""

import ast
import dataclasses
import importlib
import inspect
import json
import pkgutil
import typing
from pathlib import Path

import pytest

import zfkeras
from zfkeras.methods import checks

PACKAGES = (
    "zfkeras.methods",
    "zfkeras.evaluation",
    "zfkeras.experiments",
    "zfkeras.data",
    "zfkeras.models",
    "zfkeras.training",
    "zfkeras.exercises",
)
DROPPED = {"data", "x_pool", "units", "filters", "channel", "rule"}
DEFAULTS = {"batch_size": checks.BATCH_SIZE, "verbose": checks.VERBOSE, "seed": checks.SEED}
# "method" names an explanation method there (gradcam, occlusion, ...), never a ReLU rule
METHOD_CHOOSERS = {"zfkeras.evaluation.faithfulness", "zfkeras.experiments.method_checks"}


def _modules():
    for name in PACKAGES:
        pkg = importlib.import_module(name)
        yield pkg
        for info in pkgutil.walk_packages(pkg.__path__, name + "."):
            yield importlib.import_module(info.name)


def _public_callables():
    seen = {}
    for mod in _modules():
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(obj):
                seen[f"{mod.__name__}.{name}"] = obj
            elif inspect.isclass(obj) and not dataclasses.is_dataclass(obj):
                for meth_name, meth in vars(obj).items():
                    if inspect.isfunction(meth) and (
                        not meth_name.startswith("_") or meth_name == "__init__"
                    ):
                        seen[f"{mod.__name__}.{name}.{meth_name}"] = meth
    return seen


CALLABLES = _public_callables()


def test_the_walk_finds_the_methods():
    for name in (
        "zfkeras.data.shapes.shapes",
        "zfkeras.data.concepts.concepts",
        "zfkeras.data.transforms.augment_batch",
        "zfkeras.models.zoo.pretrained",
        "zfkeras.training.bundle.train",
        "zfkeras.training.pipeline.evaluate",
        "zfkeras.exercises.registry.check",
        "zfkeras.methods.cam.gradcam",
        "zfkeras.methods.deconvnet.projection.Deconvnet.project",
        "zfkeras.evaluation.faithfulness.randomization_test",
        "zfkeras.methods.dissection.dissect",
        "zfkeras.methods.mining.top_activations",
    ):
        assert name in CALLABLES


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_signature_follows_the_vocabulary(name):
    fn = CALLABLES[name]
    params = inspect.signature(fn).parameters
    names = [p for p in params if p not in ("self", "cls")]
    dropped = DROPPED & set(names)
    if fn.__module__ not in METHOD_CHOOSERS and "method" in names:
        dropped.add("method")
    assert not dropped, f"{name} uses the dropped names {sorted(dropped)}"
    if "model" in names and "images" in names:
        assert names[:2] == ["model", "images"], f"{name}: model first, images second: {names}"
    elif "images" in names and fn.__qualname__.count(".") and names[0] != "images":
        assert "model" not in names, f"{name}: images first on a method: {names}"
    for arg, default in DEFAULTS.items():
        if arg in params:
            p = params[arg]
            assert p.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}: {arg} keyword-only"
            assert p.default == default, f"{name}: {arg}={p.default!r}, not {default!r}"


# A method's "what" argument: which layer, or which class. After it, every parameter is
# keyword-only, so that occlusion_sensitivity(m, x, 3) cannot mean a patch size where
# gradcam(m, x, 3) means a class. ``input_shape`` describes the model's input (as ``model``
# does) and may follow positionally: receptive_field(model, layer, input_shape).
WHAT = ("layer", "class_index")
DESCRIBES_THE_MODEL = {"input_shape"}


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_everything_after_the_what_argument_is_keyword_only(name):
    params = [p for p in inspect.signature(CALLABLES[name]).parameters.values()]
    names = [p.name for p in params]
    if not {"model", "images"} & set(names) or not set(WHAT) & set(names):
        return  # not a method: no model or images, or no layer/class to choose
    first = min(names.index(w) for w in WHAT if w in names)
    positional = [
        p.name
        for p in params[first + 1 :]
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.name not in DESCRIBES_THE_MODEL
    ]
    assert not positional, f"{name}: {positional} after {names[first]!r} must be keyword-only"


def test_the_keyword_only_rule_catches_a_positional_option():
    def occlusion_like(model, images, class_index=None, patch_size=8, *, verbose="auto"):
        return model, images, class_index, patch_size, verbose

    CALLABLES["probe.occlusion_like"] = occlusion_like
    try:
        with pytest.raises(AssertionError, match="patch_size"):
            test_everything_after_the_what_argument_is_keyword_only("probe.occlusion_like")
    finally:
        del CALLABLES["probe.occlusion_like"]


ROOT = Path(__file__).resolve().parent.parent
CALLERS = ("zfkeras", "tests", "benchmarks", "solutions", "tools", "chapters")


def _max_positional() -> dict:
    """Short name -> how many arguments a call may pass by position, for the methods whose
    parameters after ``layer``/``class_index`` are keyword-only and whose name no other walked
    callable shares (a call is matched by name only)."""
    by_name: dict = {}
    for full, fn in CALLABLES.items():
        by_name.setdefault(full.rsplit(".", 1)[-1], []).append(fn)
    out = {}
    for short, fns in by_name.items():
        params = [p for p in inspect.signature(fns[0]).parameters.values()]
        if len(fns) > 1 or not set(WHAT) & {p.name for p in params}:
            continue
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        out[short] = len([p for p in positional if p.name not in ("self", "cls")])
    return out


def _sources():
    for folder in CALLERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield str(path.relative_to(ROOT)), path.read_text()
        for path in sorted((ROOT / folder).rglob("*.ipynb")):
            cells = json.loads(path.read_text())["cells"]
            for i, cell in enumerate(cells):
                if cell["cell_type"] == "code":
                    text = "".join(cell["source"])
                    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("%")]
                    yield f"{path.relative_to(ROOT)}[cell {i}]", "\n".join(lines)


def _positional_options(text: str, limits: dict) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            if name in limits and len(node.args) > limits[name]:
                found.append(f"{node.lineno}: {ast.unparse(node)[:100]}")
    return found


def test_no_call_site_passes_an_option_by_position():
    limits = _max_positional()
    assert limits["occlusion_sensitivity"] == 3 and limits["gradcam"] == 3
    planted = "r = zfkeras.occlusion_sensitivity(m, x, 4, 4)\nh = gradcam(m, x, 3, 'conv5')\n"
    assert len(_positional_options(planted, limits)) == 2  # the check can fail
    bad = [
        f"{where}:{hit}" for where, text in _sources() for hit in _positional_options(text, limits)
    ]
    assert not bad, "options passed by position:\n" + "\n".join(bad)


def _returns_dict(fn) -> bool:
    ret = typing.get_type_hints(fn).get("return") if fn.__annotations__ else None
    return ret is dict or typing.get_origin(ret) is dict


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_no_result_is_a_dict(name):
    # results are frozen dataclasses (the experiments' record files are written from them)
    assert not _returns_dict(CALLABLES[name]), f"{name} returns a dict"


def test_a_dict_result_is_caught():
    def planted(x) -> dict[str, float]:
        return {"a": x}

    assert _returns_dict(planted) and not _returns_dict(test_a_dict_result_is_caught)


def test_results_are_frozen_dataclasses():
    from zfkeras.data import ConceptWorld, Shapes
    from zfkeras.evaluation import Curve, Randomization
    from zfkeras.experiments import (
        ablation,
        architecture,
        cli,
        diagnostics,
        evolution,
        probes,
        renorm,
        transfer,
    )
    from zfkeras.methods.deconvnet import Crossing, ReluRules, Units
    from zfkeras.methods.occlusion import OcclusionResult
    from zfkeras.models import Pretrained
    from zfkeras.training import Fitted, Trained

    for cls in (
        Curve,
        Randomization,
        Crossing,
        ReluRules,
        Units,
        OcclusionResult,
        Shapes,
        ConceptWorld,
        Trained,
        Fitted,
        Pretrained,
        cli.Record,
        diagnostics.Layer1Report,
        transfer.Transfer,
        ablation.Variant,
        ablation.Ablation,
        probes.LayerFeatures,
        probes.LayerProbes,
        probes.FewShot,
        probes.Generalization,
        renorm.ConvRun,
        renorm.DeadFilterRuns,
        renorm.DeadFilters,
        renorm.DeadFilterReport,
        architecture.Measures,
        architecture.Run,
        architecture.Study,
        architecture.Spread,
        architecture.Summary,
        evolution.LayerSnapshot,
        evolution.Snapshot,
        evolution.Recording,
        evolution.Stability,
        evolution.Stabilization,
    ):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls
        assert not hasattr(cls, "__getitem__"), f"{cls.__name__} still has dict access"


def test_the_defaults_are_one_each():
    assert (checks.BATCH_SIZE, checks.VERBOSE, checks.SEED) == (128, "auto", 0)
    assert not hasattr(zfkeras.figures.style, "get")
