"""The graph walk (zfkeras/methods/walk.py, graph.py, linear.py) and the package's use of
private Keras attributes.

The walk uses public Keras API only (``keras.models.clone_model`` with ``clone_function`` and
``call_function``, ``Sequential.layers``). The private Keras attributes that the package still
reads elsewhere are listed in ``ALLOWED`` below, each with its reason; they were checked on
Keras 3.15.1 (TensorFlow 2.21). ``test_allowed_private_attributes_still_exist`` fails loudly
when a Keras upgrade removes one of them, and ``test_no_other_private_keras_attribute`` fails
when new code reads another.
"""

import ast
import inspect
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from zfkeras.methods import graph

L = keras.layers
ROOT = pathlib.Path(__file__).resolve().parents[1] / "zfkeras"
CHECKED_KERAS = ("3.15.1",)  # versions the private attributes in ALLOWED were checked on

# (file relative to zfkeras/, attribute) -> why no public API does it
ALLOWED = {
    (
        "training/resume.py",
        "_initial_epoch",
    ): "the epoch fit() resumes from: keras.callbacks.BackupAndRestore sets the same attribute; "
    "no public way lets a callback move fit()'s start epoch",
}
# Keras private attributes flagged even if a zfkeras module defines a name of the same spelling
KERAS_PRIVATE = {
    "_run_through_graph",
    "_standardize_inputs",
    "_nodes_by_depth",
    "_inbound_nodes",
    "_outbound_nodes",
    "_keras_history",
    "_operations",
    "_layers",
    "_inputs_struct",
    "_initial_epoch",
    "_functional",
    "_tracker",
    "_build_shapes_dict",
}


def _branching():
    """input -> a (3x3 conv, ReLU) and b (1x1 conv) -> add -> ReLU r -> global average pool."""
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 3), name="img")
    a = L.Conv2D(4, 3, padding="same", activation="relu", name="a")(x)
    b = L.Conv2D(4, 1, name="b")(x)
    y = L.ReLU(name="r")(L.Add(name="add")([a, b]))
    return keras.Model(x, L.GlobalAveragePooling2D(name="gap")(y), name="branching")


def _leaf_layers(model):
    """Every non-Input layer in the model, nested models opened, by a plain recursion."""
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out += _leaf_layers(layer)
        elif not isinstance(layer, L.InputLayer):
            out.append(layer)
    return out


def _models():
    keras.utils.set_random_seed(1)
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    seq = keras.Sequential([keras.Input((32, 32, 3)), vgg, L.Flatten(), L.Dense(5, name="head")])
    fx = keras.Input((32, 32, 3))
    func = keras.Model(fx, L.Dense(3, name="top")(L.Flatten()(vgg(fx))), name="func_vgg")
    plain = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            L.Conv2D(2, 3, activation="relu"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(2),
        ],
        name="plain",
    )
    # two nested models with a layer of the same name "d": a Functional model could not hold
    # both flattened, the walk must still run them
    twin_in = [keras.Input((4,)) for _ in range(2)]
    n1 = keras.Model(twin_in[0], L.Dense(2, name="d")(twin_in[0]), name="n1")
    n2 = keras.Model(twin_in[1], L.Dense(2, name="d")(twin_in[1]), name="n2")
    xi = keras.Input((4,))
    twin = keras.Model(xi, L.Add(name="sum")([n1(xi), n2(xi)]), name="twin")
    return [
        (seq, (2, 32, 32, 3)),
        (func, (2, 32, 32, 3)),
        (plain, (2, 8, 8, 3)),
        (_branching(), (2, 8, 8, 3)),
        (twin, (2, 4)),
    ]


def test_walk_matches_the_model_and_visits_every_layer():
    rng = np.random.default_rng(0)
    for model, shape in _models():
        x = rng.random(shape, dtype=np.float32)
        seen, entries = [], []

        def hook(op, args, kwargs, seen=seen):
            seen.append(op)
            return op(*args, **kwargs)

        out = graph.walk(model, x, hook, entries)
        np.testing.assert_allclose(out, model(x), rtol=1e-5, atol=1e-6, err_msg=model.name)
        assert [id(op) for op in seen] == [id(op) for op in _leaf_layers(model)], model.name
        # symbolic: the traced graph rebuilt as a model gives the same numbers, same weights
        weights = len(model.weights)
        inputs, output, _ = graph.trace(model)
        if model.name == "twin":  # the walk runs it; a model holding both "d" cannot be built
            with pytest.raises(ValueError, match="same name"):
                graph.build(inputs, output)
            continue
        np.testing.assert_allclose(
            graph.build(inputs, output)(x), model(x), rtol=1e-5, atol=1e-6, err_msg=model.name
        )
        assert len(model.weights) == weights


def test_walk_paths_into_nested_models():
    seq = _models()[0][0]
    _, _, entries = graph.trace(seq)
    paths = [p for p, _, _ in entries]
    assert paths[0] == "vgg16/block1_conv1" and "vgg16" in paths and paths[-1] == "head"
    assert paths.index("vgg16") == paths.index("vgg16/block5_pool") + 1


def test_hook_runs_on_real_tensors_inside_tf_function():
    """A hook replacing every ReLU layer by 2*relu: compared with a hand-written forward pass."""
    model = _branching()
    x = np.random.default_rng(2).random((3, 8, 8, 3), dtype=np.float32)

    def hook(op, args, kwargs):
        out = op(*args, **kwargs)
        return 2.0 * out if isinstance(op, L.ReLU) else out

    got = tf.function(lambda t: graph.walk(model, t, hook))(tf.constant(x))
    a, b = model.get_layer("a"), model.get_layer("b")
    conv = lambda t, layer, pad: tf.nn.conv2d(t, layer.kernel, 1, pad) + layer.bias  # noqa: E731
    want = 2.0 * tf.nn.relu(tf.nn.relu(conv(x, a, "SAME")) + conv(x, b, "VALID"))
    np.testing.assert_allclose(got, tf.reduce_mean(want, axis=(1, 2)), rtol=1e-5, atol=1e-6)


def test_nodes_of_a_branching_model():
    model = _branching()
    inputs, output, _, found = graph.nodes(model)
    by_path = {n.path: n for n in found}
    assert list(by_path) == ["a", "b", "add", "r", "gap"]
    producer = {id(n.output): n.path for n in found}
    parents = {n.path: [producer.get(id(t), "input") for t in n.inputs] for n in found}
    assert parents == {
        "a": ["input"],
        "b": ["input"],
        "add": ["a", "b"],
        "r": ["add"],
        "gap": ["r"],
    }
    assert all(t is inputs for n in found[:2] for t in n.inputs)
    assert by_path["gap"].output is output
    assert [n.path for n in graph.upstream(found, by_path["add"].output)] == ["a", "b", "add"]


def test_is_graph_model():
    class Sub(keras.Model):
        def call(self, x):
            return x

    assert graph.is_graph_model(_branching())
    assert graph.is_graph_model(keras.Sequential([keras.Input((2,)), L.Dense(1)]))
    assert not graph.is_graph_model(Sub()) and not graph.is_graph_model(L.Dense(1))


def test_walk_rejects_wrong_inputs():
    model = _branching()
    with pytest.raises(ValueError, match="inputs must be 1 tensor"):
        graph.walk(model, [np.zeros((1, 8, 8, 3))] * 2)
    with pytest.raises(ValueError, match="inputs must have the keys"):
        graph.walk(model, {"other": np.zeros((1, 8, 8, 3))})
    np.testing.assert_allclose(
        graph.walk(model, {"img": np.ones((1, 8, 8, 3))}),
        model(np.ones((1, 8, 8, 3))),
        rtol=1e-5,
        atol=1e-6,
    )


def _own_names(trees) -> set:
    """Every name that zfkeras itself defines (functions, classes, assigned names, arguments)."""
    own = set()
    for tree in trees:
        for n in ast.walk(tree):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                own.add(n.name)
            elif (
                isinstance(n, ast.Attribute)
                and isinstance(n.ctx, ast.Store)
                and isinstance(n.value, ast.Name)
                and n.value.id in ("self", "cls")
            ):
                own.add(n.attr)
            elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                own.add(n.id)
            elif isinstance(n, ast.arg):
                own.add(n.arg)
    return own - KERAS_PRIVATE


def _private_uses(tree, own: set) -> set:
    """Private attributes read from objects zfkeras does not define (``x._attr``,
    ``getattr(x, "_attr")``) and imports of Keras/TensorFlow private modules."""
    found = set()
    for n in ast.walk(tree):
        name = None
        if isinstance(n, ast.Attribute):
            name = n.attr
            if n.attr == "src" and isinstance(n.value, ast.Name) and n.value.id == "keras":
                found.add("keras.src")
        elif (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name)
            and n.func.id in ("getattr", "hasattr", "setattr", "delattr")
            and len(n.args) > 1
            and isinstance(n.args[1], ast.Constant)
            and isinstance(n.args[1].value, str)
        ):
            name = n.args[1].value
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            modules = (
                [n.module or ""] if isinstance(n, ast.ImportFrom) else [a.name for a in n.names]
            )
            found.update(m for m in modules if m.startswith(("keras.src", "tensorflow.python")))
        if name and name.startswith("_") and not name.startswith("__") and name not in own:
            found.add(name)
    return found


def test_scanner_flags_private_keras_access():
    """The scanner below can fail: it flags each kind of private access in a made-up module."""
    code = (
        "import keras\nfrom keras.src.models import functional\n"
        "def f(m, x):\n    y = m._run_through_graph(x, None)\n"
        "    return hasattr(m, '_nodes_by_depth'), keras.src, y, m._private_thing\n"
    )
    assert _private_uses(ast.parse(code), set()) == {
        "keras.src.models",
        "_run_through_graph",
        "_nodes_by_depth",
        "keras.src",
        "_private_thing",
    }


def test_no_other_private_keras_attribute():
    files = sorted(ROOT.rglob("*.py"))
    trees = {f.relative_to(ROOT).as_posix(): ast.parse(f.read_text()) for f in files}
    own = _own_names(trees.values())
    found = {(path, name) for path, tree in trees.items() for name in _private_uses(tree, own)}
    assert not found - set(ALLOWED), (
        f"private Keras attributes used outside the allowed list (use public API, or add them "
        f"to ALLOWED with the reason): {sorted(found - set(ALLOWED))}"
    )
    assert not set(ALLOWED) - found, f"stale ALLOWED entries: {sorted(set(ALLOWED) - found)}"
    walk_files = {"methods/walk.py", "methods/graph.py", "methods/linear.py"}
    assert not any(path in walk_files for path, _ in found)


def test_allowed_private_attributes_still_exist():
    """Fails on a Keras upgrade that removes a private attribute the package relies on (only
    those in ``ALLOWED``, the ones zfkeras still reads). Checked on Keras ``CHECKED_KERAS``;
    on another version the attributes must still behave."""
    assert {name for _, name in ALLOWED} == {"_initial_epoch"}
    assert "_initial_epoch" in inspect.getsource(keras.callbacks.BackupAndRestore)
    assert "_initial_epoch" in inspect.getsource(keras.Model.fit)
    if keras.__version__ not in CHECKED_KERAS:
        print(f"Keras {keras.__version__}: private attributes present (checked on {CHECKED_KERAS})")
