"""One table of bad inputs across every method, and the shared helpers of checks.py."""

import re

import keras
import numpy as np
import pytest

import zfkeras
from zfkeras.experiments import correspondence, diagnostics, invariance, probes
from zfkeras.methods import cam, checks, filters, occlusion, progress, registry
from zfkeras.methods import softmax as softmax_module
from zfkeras.methods.softmax import probabilities

RNG = np.random.default_rng(0)
GOOD = dict(
    images=RNG.normal(size=(3, 12, 12, 3)).astype("float32"),
    class_index=None,
    layer="conv2",
    channels=None,
    batch_size=128,
    verbose=0,
    seed=0,
)


def _blank(images):
    """One all-zero concept map (or heatmap) per image, at image size."""
    return np.zeros(np.shape(images)[:3], np.int32)


def _project(mode):
    return (
        lambda g: zfkeras.Deconvnet(g["model"]).project(
            g["images"], g["layer"], mode=mode, batch_size=g["batch_size"], verbose=g["verbose"]
        ),
        {"images", "layer"},
    )


def _registered(entry):
    """A method of the registry called on the generic arguments it takes."""
    return (
        lambda g: entry(
            g["model"],
            g["images"],
            g["class_index"],
            **{name: g[name] for name in entry.takes},
            batch_size=g["batch_size"],
            verbose=g["verbose"],
        ),
        {"images", "class_index", *entry.takes},
    )


# method -> (call on the generic arguments g, the generic arguments it takes): every method of
# explain's registry (zfkeras.methods.registry, one line where each is defined), then the others
METHODS = {
    **{f"explain-{name}": _registered(entry) for name, entry in registry.METHODS.items()},
    "visualize_filters": (
        lambda g: filters.visualize_filters(
            g["model"],
            g["layer"],
            channels=g["channels"],
            steps=1,
            batch_size=g["batch_size"],
            verbose=g["verbose"],
            seed=g["seed"],
        ),
        {"layer", "channels", "seed"},
    ),
    "occlusion_sensitivity": (
        lambda g: occlusion.occlusion_sensitivity(
            g["model"],
            g["images"],
            patch_size=4,
            stride=4,
            class_index=g["class_index"],
            layer=g["layer"],
            channels=g["channels"],
            batch_size=g["batch_size"],
            verbose=g["verbose"],
        ),
        {"images", "class_index", "layer", "channels"},
    ),
    "invariance_curves": (
        lambda g: invariance.invariance_curves(
            g["model"],
            g["images"],
            g["class_index"],
            kind="translation",
            amounts=[0, 2],
            layers=[g["layer"], "fc7"],
            batch_size=g["batch_size"],
            verbose=g["verbose"],
        ),
        {"images", "class_index", "layer"},
    ),
    "layer_features": (
        lambda g: probes.layer_features(
            g["model"], g["images"], [g["layer"]], batch_size=g["batch_size"], verbose=g["verbose"]
        ),
        {"images", "layer"},
    ),
    "dead_units": (
        lambda g: diagnostics.dead_units(
            g["model"], g["images"], g["layer"], batch_size=g["batch_size"], verbose=g["verbose"]
        ),
        {"images", "layer"},
    ),
    "sign_change_score": (
        lambda g: correspondence.sign_change_score(
            g["model"],
            g["images"],
            np.full((len(g["images"]), 2), 5.0),
            3,
            g["layer"],
            batch_size=g["batch_size"],
        ),
        {"images", "layer"},
    ),
    "correspondence_table": (
        lambda g: correspondence.correspondence_table(
            g["model"],
            g["images"],
            {"eye": np.full((len(g["images"]), 2), 5.0)},
            np.ones(np.shape(g["images"])[:3], bool),
            3,
            [g["layer"]],
            n_images=2,
            draws=1,
            batch_size=g["batch_size"],
            verbose=g["verbose"],
        ),
        {"images", "layer"},
    ),
    **{f"Deconvnet.project-{mode}": _project(mode) for mode in ("deconvnet", "backprop", "guided")},
    "top_activations": (
        lambda g: zfkeras.top_activations(
            g["model"],
            g["images"],
            g["layer"],
            k=2,
            channels=g["channels"],
            batch_size=g["batch_size"],
            verbose=g["verbose"],
        ),
        {"images", "layer", "channels"},
    ),
    "receptive_field": (lambda g: zfkeras.receptive_field(g["model"], g["layer"]), {"layer"}),
    "dissect": (
        lambda g: zfkeras.dissect(
            g["model"],
            g["images"],
            g["layer"],
            concept_maps={"c": _blank(g["images"])},
            batch_size=g["batch_size"],
            verbose=g["verbose"],
        ),
        {"images", "layer"},
    ),
    "deletion_curve": (
        lambda g: zfkeras.evaluation.deletion_curve(
            g["model"],
            g["images"],
            _blank(g["images"]),
            g["class_index"],
            steps=2,
            batch_size=g["batch_size"],
            verbose=g["verbose"],
        ),
        {"images", "class_index"},
    ),
}
ALWAYS = {"model", "batch_size", "verbose"}
# the generic arguments a method does not take although they are in ALWAYS
LACKS = {
    "sign_change_score": {"verbose"},
    "receptive_field": {"batch_size", "verbose"},
}

# the generic arguments a method takes under the plural name (a list of layers): the message
# names the argument as the method's signature does
PLURAL = {
    "invariance_curves": {"layer": "layers"},
    "layer_features": {"layer": "layers"},
    "correspondence_table": {"layer": "layers"},
}

# (case, generic arguments, the argument it needs, exception, the one wording for every method;
# ARG stands for the argument's name in the method's signature)
NAN = np.full((3, 12, 12, 3), np.nan, np.float32)
CASES = [
    ("not a model", dict(model="m"), "model", TypeError, r"^ARG must be a keras\.Model, got str$"),
    (
        "unbuilt model",
        dict(model=keras.Sequential([keras.layers.Conv2D(2, 3)], name="unbuilt")),
        "model",
        ValueError,
        r"^ARG must be built on a keras\.Input \(have defined inputs\), got an unbuilt "
        r"Sequential 'unbuilt'$",
    ),
    (
        "images of wrong rank",
        dict(images=np.zeros((12, 12))),
        "images",
        ValueError,
        r"^ARG must have shape \(N, 12, 12, 3\), got shape \(12, 12\)$",
    ),
    (
        "wrong channel count",
        dict(images=np.zeros((3, 12, 12, 1))),
        "images",
        ValueError,
        r"^ARG must have shape \(N, 12, 12, 3\), got shape \(3, 12, 12, 1\)$",
    ),
    (
        "wrong image size",
        dict(images=np.zeros((3, 10, 12, 3))),
        "images",
        ValueError,
        r"^ARG must have shape \(N, 12, 12, 3\), got shape \(3, 10, 12, 3\)$",
    ),
    (
        "NaN images",
        dict(images=NAN),
        "images",
        ValueError,
        r"^ARG must be finite, got 1296 NaN or inf values$",
    ),
    (
        "unknown layer",
        dict(layer="nope"),
        "layer",
        ValueError,
        r"^ARG must name a layer of the model, got 'nope'; layers: conv1, conv2, gap, fc7, "
        r"predictions$",
    ),
    (
        "layer not a name",
        dict(layer=3),
        "layer",
        TypeError,
        r"^ARG must be a layer name \(str\), got int$",
    ),
    (
        "class_index out of range",
        dict(class_index=4),
        "class_index",
        ValueError,
        r"^ARG must be in \[0, 4\), got 4$",
    ),
    (
        "class_index negative",
        dict(class_index=-1),
        "class_index",
        ValueError,
        r"^ARG must be in \[0, 4\), got -1$",
    ),
    (
        "class_index not an int",
        dict(class_index=1.5),
        "class_index",
        TypeError,
        r"^ARG must be None, an int or 3 ints \(one per image\), got 1\.5$",
    ),
    (
        "channels out of range",
        dict(channels=6),
        "channels",
        ValueError,
        r"^ARG must be in \[0, 6\) for layer 'conv2', got 6$",
    ),
    (
        "batch_size 0",
        dict(batch_size=0),
        "batch_size",
        ValueError,
        r"^ARG must be a positive int, got 0$",
    ),
    (
        "batch_size not an int",
        dict(batch_size=2.5),
        "batch_size",
        TypeError,
        r"^ARG must be a positive int, got 2\.5$",
    ),
    ("verbose", dict(verbose=2), "verbose", ValueError, r"^ARG must be 'auto', 0 or 1, got 2$"),
    (
        "seed negative",
        dict(seed=-1),
        "seed",
        ValueError,
        r"^ARG must be an int in \[0, 2147483647\], got -1$",
    ),
    ("seed not an int", dict(seed=1.5), "seed", TypeError, r"^ARG must be an int, got float 1\.5$"),
]
PAIRS = [
    (case, method)
    for case in CASES
    for method, (_, takes) in METHODS.items()
    if case[2] in (takes | ALWAYS) - LACKS.get(method, set())
]


@pytest.fixture(scope="module")
def model(tiny_model):
    return tiny_model()


@pytest.mark.parametrize("case, method", PAIRS, ids=[f"{c[0]}-{m}" for c, m in PAIRS])
def test_one_error_table(model, case, method):
    _, bad, argument, error, wording = case
    call, _ = METHODS[method]
    wording = wording.replace("ARG", PLURAL.get(method, {}).get(argument, argument))
    with pytest.raises(error) as info:
        call(dict(GOOD, model=model) | bad)
    assert type(info.value) is error  # the same type from every method, not a subclass
    assert re.search(wording, str(info.value)), (method, str(info.value))


def test_every_method_runs_on_the_good_arguments(model):
    for call, _ in METHODS.values():
        call(dict(GOOD, model=model))


def test_table_covers_every_method_and_argument():
    assert {m for _, m in PAIRS} == set(METHODS)
    args = ("model", "images", "layer", "class_index", "channels", "batch_size", "verbose", "seed")
    for arg in args:
        assert any(c[2] == arg for c, _ in PAIRS), arg


def test_images_are_always_a_batch(model):
    one = GOOD["images"][0]
    for call in (
        lambda: cam.gradcam(model, one),
        lambda: probes.layer_features(model, one, ["conv2"]),
        lambda: occlusion.occlusion_sensitivity(model, one, patch_size=4, stride=4),
    ):
        with pytest.raises(ValueError, match=r"^images must have shape \(N, 12, 12, 3\), got"):
            call()


def test_class_index_per_image_and_predicted():
    assert checks.class_index(None, 3, 4).tolist() == [-1, -1, -1]
    assert checks.class_index(2, 3, 4).tolist() == [2, 2, 2]
    assert checks.class_index(np.array([0, 3, 1]), 3, 4).tolist() == [0, 3, 1]
    with pytest.raises(TypeError, match="None, an int or 3 ints"):
        checks.class_index([0, 1], 3, 4)
    with pytest.raises(TypeError, match="^class_index must be None or an int"):
        checks.class_index([0], 1, 4, per_image=False)
    assert checks.channels(None, 3, "c", many=True).tolist() == [0, 1, 2]
    assert checks.channels(None, 3, "c") is None


def test_batches_and_batch_size():
    assert [(s.start, s.stop) for s in checks.batches(7, 3)] == [(0, 3), (3, 6), (6, 7)]
    assert list(checks.batches(0, 3)) == []
    assert checks.batch_size(np.int64(4)) == 4
    with pytest.raises(TypeError):
        checks.batch_size(True)


def test_progress_modes(monkeypatch):
    clock = iter(np.arange(0.0, 100.0, 2.0))  # every update 2 s after the last
    monkeypatch.setattr(progress.time, "time", lambda: float(next(clock)))
    silent, always, auto = (checks.Progress(10, verbose=v) for v in (0, 1, "auto"))
    assert silent.bar is None and isinstance(always.bar, keras.utils.Progbar)
    auto.update(1)
    assert auto.bar is None  # the first update (tracing) is not timed
    auto.update(2)
    assert isinstance(auto.bar, keras.utils.Progbar)  # 2 s a step, 9 to go: > 3 s
    quick = checks.Progress(2, verbose="auto")
    quick.update(1)
    quick.update(2)
    assert quick.bar is None  # 2 s in all: no bar
    with pytest.raises(ValueError, match="verbose must be"):
        checks.verbose("always")


def test_one_cache_per_model_released_with_it(tiny_model):
    import gc
    import weakref

    m = tiny_model("none", seed=3)
    calls = []
    assert checks.cached(m, "k", lambda: calls.append(1) or "v") == "v"
    assert checks.cached(m, "k", lambda: calls.append(1) or "w") == "v" and calls == [1]
    cam.gradcam(m, GOOD["images"], verbose=0)  # gradcam and occlusion fill the same cache
    cam.class_projection(m, GOOD["images"], verbose=0, mode="guided")
    occlusion.occlusion_sensitivity(m, GOOD["images"][:1], patch_size=4, stride=4, verbose=0)
    invariance.invariance_curves(
        m, GOOD["images"], None, kind="rotation", amounts=[0], layers=["conv2"], verbose=0
    )
    there = (
        ("gradient_cam", cam.mean_gradient, None),
        ("projection", "guided"),
        ("occlusion", None),
    )
    for key in there:
        assert checks.cached(m, key, lambda: "new") != "new", key
    ref = weakref.ref(m)
    del m
    gc.collect()
    assert ref() is None  # nothing cached keeps the model alive


@pytest.mark.parametrize(
    "ending, softmax", [("dense", True), ("activation", True), ("softmax", True), ("none", False)]
)
def test_ends_in_softmax_and_probabilities(tiny_model, ending, softmax):
    m = tiny_model(ending)
    assert softmax_module.ends_in_softmax(m) is softmax
    out = m(GOOD["images"])
    p = np.asarray(probabilities(out, softmax_module.ends_in_softmax(m)))
    want = np.asarray(out) if softmax else np.asarray(keras.ops.softmax(out))
    np.testing.assert_allclose(p, want, rtol=1e-6)
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        softmax_module.ends_in_softmax("m")


def test_channels_first_and_multi_input_models_are_refused():
    x = keras.Input((3, 8, 8))
    cf = keras.Model(x, keras.layers.Conv2D(2, 3, data_format="channels_first", name="c")(x))
    with pytest.raises(ValueError, match="model must be channels_last, got layer 'c'"):
        checks.check_model(cf)
    a, b = keras.Input((8, 8, 1)), keras.Input((8, 8, 1))
    two = keras.Model([a, b], keras.layers.Add()([a, b]))
    with pytest.raises(ValueError, match="model must have a single input, got 2 inputs"):
        cam.gradcam(two, np.zeros((1, 8, 8, 1)))


def test_one_batch_and_progress_loop(monkeypatch):
    done = []
    monkeypatch.setattr(progress.Progress, "update", lambda self, n, values=None: done.append(n))
    parts = list(checks.each(checks.batches(7, 3), verbose=1))
    assert [(s.start, s.stop) for s in parts] == [(0, 3), (3, 6), (6, 7)] and done == [1, 2, 3]
    # plan: whole items when they fit, else one item in chunks; every (item, row) once
    for n, per, size in ((5, 3, 7), (2, 10, 4), (3, 4, 4)):
        seen = np.zeros((n, per), int)
        for items, start, stop in checks.plan(n, per, batch_size=size):
            assert (items.stop - items.start) * (stop - start) <= size
            seen[items, start:stop] += 1
        assert (seen == 1).all()


def test_one_check_per_argument():
    # channels: many, per image and single, one wording each
    assert checks.channels([2, 0], 3, "c", many=True).tolist() == [2, 0]
    assert checks.channels(1, 3, "c", per_image=2).tolist() == [1, 1]
    assert checks.channels(None, 3, "c", per_image=2).tolist() == [-1, -1]
    assert checks.channels([0, 2], 3, "c", per_image=2).tolist() == [0, 2]
    with pytest.raises(TypeError, match=r"^channels must be None, an int or 2 ints \(one per"):
        checks.channels([0], 3, "c", per_image=2)
    with pytest.raises(ValueError, match=r"^channels must be in \[0, 3\) for layer 'c', got 3$"):
        checks.channels(3, 3, "c", per_image=2)
    with pytest.raises(TypeError, match="^channels must be None or an int, got"):
        checks.channels([1], 3, "c")
    # seed and numbers
    assert checks.seed(np.int64(5)) == 5 and checks.seed(2**31 - 1) == 2**31 - 1
    with pytest.raises(ValueError, match=r"^seed must be an int in \[0, 2147483647\], got"):
        checks.seed(2**31)
    with pytest.raises(TypeError, match="^seed must be an int, got bool True$"):
        checks.seed(True)
    assert checks.number(np.float32(0.5), "noise") == 0.5
    with pytest.raises(ValueError, match=r"^noise must be a number >= 0\.0, got nan$"):
        checks.number(float("nan"), "noise")
    # model: the graph tools take any built model; the methods a single image input
    a, b = keras.Input((3,)), keras.Input((3,))
    two = keras.Model([a, b], keras.layers.Add()([a, b]))
    assert checks.check_model(two, for_images=False) is two
    with pytest.raises(ValueError, match="^model must have a single input, got 2 inputs$"):
        checks.check_model(two)
