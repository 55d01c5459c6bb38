"""One vocabulary: the signature of every public callable of the methods, the evaluation and the
experiments follows the table in CONTRIBUTING.md."""

import dataclasses
import importlib
import inspect
import pkgutil
import typing

import pytest

import zfkeras
from zfkeras.methods import checks

PACKAGES = ("zfkeras.methods", "zfkeras.evaluation", "zfkeras.experiments")
DROPPED = {"data", "x_pool", "units", "filters", "channel", "rule"}
DEFAULTS = {"batch_size": checks.BATCH_SIZE, "verbose": checks.VERBOSE, "seed": checks.SEED}
# "method" names an explanation method there (gradcam, occlusion, ...), never a ReLU rule
METHOD_CHOOSERS = {"zfkeras.evaluation.faithfulness"}


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


# The experiments' record files (JSON) are still written from these dicts; each is to become a
# frozen dataclass like the methods' results. The list may only shrink.
RECORD_DICTS = {
    "zfkeras.experiments.architecture.load_study",
    "zfkeras.experiments.architecture.measure",
    "zfkeras.experiments.architecture.run_study",
    "zfkeras.experiments.architecture.summarize",
    "zfkeras.experiments.ablation.run_ablation",
    "zfkeras.experiments.ablation.train_variant",
    "zfkeras.experiments.diagnostics.layer1_report",
    "zfkeras.experiments.evolution.FeatureEvolution.snapshot",
    "zfkeras.experiments.evolution.load_snapshots",
    "zfkeras.experiments.evolution.record_run",
    "zfkeras.experiments.evolution.stabilization",
    "zfkeras.experiments.probes.few_shot_transfer",
    "zfkeras.experiments.probes.generalization",
    "zfkeras.experiments.probes.layer_features",
    "zfkeras.experiments.probes.probe_layers",
    "zfkeras.experiments.renorm.dead_filter_report",
    "zfkeras.experiments.renorm.load_runs",
    "zfkeras.experiments.renorm.run_dead_filters",
    "zfkeras.experiments.renorm.train_run",
    "zfkeras.experiments.transfer.run_transfer",
}


def _returns_dict(fn) -> bool:
    ret = typing.get_type_hints(fn).get("return") if fn.__annotations__ else None
    return ret is dict or typing.get_origin(ret) is dict


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_no_result_is_a_dict(name):
    if name in RECORD_DICTS:
        assert _returns_dict(CALLABLES[name]), f"{name} is done: remove it from RECORD_DICTS"
    else:
        assert not _returns_dict(CALLABLES[name]), f"{name} returns a dict"


def test_results_are_frozen_dataclasses():
    from zfkeras.evaluation import Curve, Randomization
    from zfkeras.methods.deconvnet import Crossing, ReluRules, Units
    from zfkeras.methods.occlusion import OcclusionResult

    for cls in (Curve, Randomization, Crossing, ReluRules, Units, OcclusionResult):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls
        assert not hasattr(cls, "__getitem__"), f"{cls.__name__} still has dict access"


def test_the_defaults_are_one_each():
    assert (checks.BATCH_SIZE, checks.VERBOSE, checks.SEED) == (128, "auto", 0)
    assert not hasattr(zfkeras.figures.style, "get")
