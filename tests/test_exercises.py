"""The exercise checkers: each accepts its reference solution and rejects every planted mistake.

The solutions and the mistakes live in ``solutions/NN_<name>.py`` (``ANSWERS`` and
``MISTAKES``: at least three wrong answers per exercise, one of them the conceptual mistake the
exercise is about, each with a comment naming the idea it embodies).
"""

import ast
import importlib
import json
import pathlib
import re
import sys
from collections import Counter

import keras
import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import zfkeras.exercises as ex  # noqa: E402
from zfkeras.exercises import projections, registry  # noqa: E402


def _modules():
    paths = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.py"))
    return {p: importlib.import_module(f"solutions.{p.stem}") for p in paths}


MODULES = _modules()
SOLUTIONS = {k: v for m in MODULES.values() for k, v in m.ANSWERS.items()}
MISTAKES = {k: v for m in MODULES.values() for k, v in m.MISTAKES.items()}
IDS = [e.id for e in ex.catalog()]
PLANTED = [(i, k) for i in IDS for k in range(len(MISTAKES.get(i, [])))]


@pytest.fixture(autouse=True)
def _fresh_kernel():
    registry._forget()
    yield
    registry._forget()


def test_catalog_covers_every_chapter():
    catalog = ex.catalog()
    per_chapter = Counter(e.chapter for e in catalog)
    assert sorted(per_chapter) == list(range(1, 17))
    assert min(per_chapter.values()) >= 3 and len(catalog) >= 48
    assert all(isinstance(e, ex.Exercise) and e.title for e in catalog)
    assert len({e.id for e in catalog}) == len(catalog)
    with pytest.raises(Exception, match="frozen|assign"):
        catalog[0].title = "x"


def test_every_exercise_has_a_solution_and_three_mistakes():
    assert set(SOLUTIONS) == set(IDS)
    assert set(MISTAKES) == set(IDS)
    assert all(len(MISTAKES[i]) >= 3 for i in IDS)


def test_every_mistake_says_what_idea_it_embodies():
    for path in MODULES:
        tree = ast.parse(path.read_text())
        (table,) = [
            n.value
            for n in tree.body
            if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "MISTAKES"
        ]
        lines = path.read_text().splitlines()
        for wrongs in table.values:
            for wrong in wrongs.elts:
                own = lines[wrong.lineno - 1 : wrong.end_lineno]
                after = lines[wrong.end_lineno].strip() if wrong.end_lineno < len(lines) else ""
                said = any("  # " in line for line in own) or after.startswith("# ")
                assert said, f"{path.name}:{wrong.lineno}: say what idea this mistake embodies"


@pytest.mark.parametrize("exercise_id", IDS)
def test_accepts_the_solution(exercise_id, capsys):
    assert ex.check(exercise_id, SOLUTIONS[exercise_id]) is True
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize(("exercise_id", "k"), PLANTED, ids=[f"{i}-{k}" for i, k in PLANTED])
def test_rejects_every_planted_mistake(exercise_id, k, capsys):
    assert ex.check(exercise_id, MISTAKES[exercise_id][k]) is False
    out = capsys.readouterr().out
    assert "not yet" in out and "hint:" in out and "checker error" not in out


NUMBERS = [i for i in IDS if isinstance(SOLUTIONS[i], (int, float))]


@pytest.mark.parametrize("exercise_id", [*NUMBERS, "07.2"])
def test_a_miss_never_prints_the_answer(exercise_id, capsys):
    answer = SOLUTIONS[exercise_id]
    shown = (
        [f"{answer:.6g}", f"{answer:.5g}", f"{answer:.3g}", f"{answer:,}"]
        if exercise_id in NUMBERS
        else ["backprop", "guided"]
    )
    for wrong in MISTAKES[exercise_id]:
        ex.check(exercise_id, wrong)
        ex.check(exercise_id, wrong)
        out = capsys.readouterr().out
        if exercise_id == "07.2":
            out = out.split("the idea:")[0]  # the idea may name the modes once
            out = out.replace(repr(wrong) if isinstance(wrong, str) else "", "")
        leaked = [text for text in shown if text in out]
        assert not leaked, f"{exercise_id}: {leaked} in {out!r}"


def _any_unit_exceeds(iou, threshold):
    return int(np.sum((iou > threshold).any(axis=0)))


def _one_position(model, images, layer, class_index):
    split = keras.Model(model.input, [model.get_layer(layer).output, model.output])
    import tensorflow as tf

    with tf.GradientTape() as tape:
        maps, scores = split(images)
        score = scores[0, class_index]
    return tape.gradient(score, maps).numpy()[0, 2, 3]


def _softmax_mean(model, images, layer, class_index):
    split = keras.Model(model.input, [model.get_layer(layer).output, model.output])
    import tensorflow as tf

    with tf.GradientTape() as tape:
        maps, scores = split(images)
        score = scores[0, class_index]
    return tape.gradient(score, maps).numpy()[0].mean(axis=(0, 1))


def _ignores_tolerance(saliency, mask, tolerance):
    r, c = np.unravel_index(np.argmax(saliency), saliency.shape)
    return bool(mask[r, c])


@pytest.mark.parametrize(
    ("exercise_id", "wrong"),
    [
        ("06.3", _any_unit_exceeds),
        ("09.1", _one_position),
        ("09.1", _softmax_mean),
        ("09.3", _ignores_tolerance),
        ("15.1", lambda eps: SOLUTIONS["15.1"](np.where(eps > 0, 1.0, -1.0))),
    ],
)
def test_rejects_the_mistakes_the_issue_found(exercise_id, wrong, capsys):
    assert ex.check(exercise_id, wrong) is False
    assert "not yet" in capsys.readouterr().out


def test_none_is_not_attempted(capsys):
    for exercise_id in IDS:
        assert ex.check(exercise_id, None) is False
        out = capsys.readouterr().out
        assert "not attempted" in out and out.count("\n") == 1, exercise_id
    assert all(registry._STATE.get(i) is None for i in IDS)


def _raises(*args):
    raise RuntimeError("learner's bug")


GARBAGE = ["hello", [1, 2], np.zeros((2, 3)), _raises, object(), True, lambda *a: "hello"]


@pytest.mark.parametrize("exercise_id", IDS)
def test_garbage_is_rejected_without_raising(exercise_id, capsys):
    for garbage in GARBAGE:
        assert ex.check(exercise_id, garbage) is False, garbage
        out = capsys.readouterr().out
        assert "not yet" in out and "checker error" not in out, (garbage, out)


def test_unknown_id_names_the_argument():
    with pytest.raises(ValueError, match="exercise_id"):
        ex.check("99.9", 1)
    with pytest.raises(ValueError, match="exercise_id"):
        ex.hints("1.1")


def test_hints_are_staged(capsys):
    where, idea = ex.hints("06.3")
    wrong = MISTAKES["06.3"][1]
    ex.check("06.3", wrong)
    first = capsys.readouterr().out
    assert "case 1 of 2" in first and "expected 2, got 3" in first  # what differs, and where
    assert where in first and idea not in first
    ex.check("06.3", wrong)
    second = capsys.readouterr().out
    assert where in second and idea in second


FORMULA = [
    r"\blambda\b",
    r"\bdef \w",
    r"\bimport \w",
    r"\b(np|numpy|keras|tf|ops)\.",
    r"[A-Za-z_][\w.]*[(\[]",  # a call or an index: name( or name[
    r"[\w)\]]\s*(\*\*|//|[*@%])\s*[\w(\[]",  # products, powers, floor division
    r"[\w)\]] [-+/] [\w(\[]",  # sums, differences, quotients written out
    r"\w[+]\w",
    r"[\w)\]]\s*(<=|>=|==|!=|<|>)\s*[\w(\[-]",  # comparisons
    r"\w\s*=\s*[\w(\[-]",  # assignments and keyword arguments
]


def _solution_expressions(path) -> set[str]:
    """Every compound expression of a solution module, without spaces (6 characters or more)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.expr, ast.keyword)) and not isinstance(
            node, (ast.Name, ast.Constant, ast.Attribute)
        ):
            text = re.sub(r"\s", "", ast.unparse(node))
            if len(text) >= 6:
                found.add(text)
    return found


@pytest.mark.parametrize("exercise_id", IDS)
def test_hints_hold_no_code_or_formula(exercise_id):
    (path,) = [p for p in MODULES if p.name.startswith(exercise_id[:2])]
    expressions = _solution_expressions(path)
    answer = SOLUTIONS[exercise_id]
    for hint in ex.hints(exercise_id):
        assert len(hint) > 30, hint
        for pattern in FORMULA:
            assert not re.search(pattern, hint), f"{exercise_id}: {pattern!r} in {hint!r}"
        flat = re.sub(r"\s", "", hint)
        leaked = [e for e in expressions if e in flat]
        assert not leaked, f"{exercise_id}: the solution's {leaked} in {hint!r}"
        if isinstance(answer, (int, float)):
            for text in (f"{answer}", f"{answer:,}", f"{answer:.3g}", f"{answer:.2f}"):
                assert text not in hint, f"{exercise_id}: the answer {text} in {hint!r}"


def test_the_hint_check_can_fail():
    leaky = [
        "out = floor((size + 2 * pad - kernel) / stride) + 1",
        "keras.ops.conv_transpose does it",
        "average over axis 0 only: train.mean(axis=0)",
        "Keep grad where x > 0",
        "use lambda w: w / norm",
    ]
    for hint in leaky:
        assert any(re.search(p, hint) for p in FORMULA), hint
    expressions = _solution_expressions(next(p for p in MODULES if p.name.startswith("14")))
    assert "np.minimum(1.0,radius/rms)" in expressions


def _mutate(model, *args, **kwargs):
    """A learner function that wrecks the model it is given: weights, flags, training."""
    for layer in model.layers:
        layer.set_weights([np.full(w.shape, 3.0) for w in layer.get_weights()])
    model.compile(keras.optimizers.SGD(10.0), "mse")
    x = np.ones((2, *model.input_shape[1:]), "float32")
    model.fit(x, np.ones((2, *model.output_shape[1:]), "float32"), epochs=1, verbose=0)
    for layer in model.layers:
        layer.trainable = False
    return None


MODEL_EXERCISES = ["03.2", "08.1", "08.2", "08.4", "09.1", "13.1", "16.1"]


def test_a_mutating_learner_cannot_change_a_later_check(capsys):
    def messages():
        out = {}
        for exercise_id in MODEL_EXERCISES:
            assert ex.check(exercise_id, SOLUTIONS[exercise_id]) is True, exercise_id
            out[exercise_id] = capsys.readouterr().out
        return out

    before = messages()
    for exercise_id in MODEL_EXERCISES:
        assert ex.check(exercise_id, _mutate) is False
        assert "checker error" not in capsys.readouterr().out
    assert messages() == before


def test_a_checker_error_is_not_a_wrong_answer(monkeypatch, capsys):
    def broken(*args):
        raise ZeroDivisionError("the checker's own bug")

    monkeypatch.setattr(projections, "pool_reference", broken)
    assert ex.check("04.2", SOLUTIONS["04.2"]) is False
    out = capsys.readouterr().out
    assert "checker error" in out and "ZeroDivisionError" in out and "not yet" not in out
    assert "hint" not in out and registry._STATE.get("04.2") is None


def test_the_learner_s_own_error_is_a_wrong_answer(capsys):
    assert ex.check("04.2", _raises) is False
    out = capsys.readouterr().out
    assert "not yet" in out and "RuntimeError: learner's bug" in out
    assert "checker error" not in out and registry._STATE["04.2"] == "wrong"


def test_progress_prints_each_state_by_chapter(capsys):
    ex.check("01.1", SOLUTIONS["01.1"])
    ex.check("01.2", MISTAKES["01.2"][0])
    ex.check("02.1", MISTAKES["02.1"][0])
    ex.check("02.1", SOLUTIONS["02.1"])
    ex.check("03.1", None)
    capsys.readouterr()
    assert ex.progress() is None
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "chapter 01: 1 of 3 right" and "chapter 02: 1 of 3 right" in lines
    rows = {line.split()[0]: line for line in lines if line.startswith("  ")}
    assert list(rows) == IDS
    titles = {e.id: e.title for e in ex.catalog()}
    for exercise_id, state in [("01.1", "right"), ("01.2", "wrong"), ("02.1", "right")]:
        assert rows[exercise_id].split(None, 1)[1].startswith(state)
        assert rows[exercise_id].endswith(titles[exercise_id])
    assert all("not attempted" in rows[i] for i in IDS if i not in {"01.1", "01.2", "02.1"})
    chapters = [line for line in lines if line.startswith("chapter")]
    assert len(chapters) == 16 and lines.index(chapters[1]) == 4


def test_the_modes_are_the_library_s_words(capsys):
    relu_backward = SOLUTIONS["07.1"]
    assert ex.check("07.1", lambda x, grad, mode: relu_backward(x, grad, mode)) is True
    assert "'backprop'" in ex.catalog()[IDS.index("07.1")].title
    assert not any("gradient'" in e.title or "rule" in e.title for e in ex.catalog())


@pytest.mark.parametrize("exercise_id", IDS)
def test_each_exercise_has_its_cell_in_its_chapter(exercise_id):
    (path,) = (ROOT / "chapters").glob(f"{exercise_id[:2]}_*.ipynb")
    cells = json.loads(path.read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells]
    call = f'zfkeras.exercises.check("{exercise_id}", answer);'
    (at,) = [k for k, c in enumerate(cells) if c["cell_type"] == "code" and call in sources[k]]
    assert sources[at].rstrip().endswith(call) and "answer = None" in sources[at]
    assert not [o for o in cells[at]["outputs"] if o["output_type"] == "execute_result"]
    title = ex.catalog()[IDS.index(exercise_id)].title
    assert cells[at - 1]["cell_type"] == "markdown"
    assert sources[at - 1].startswith(f"**Exercise {exercise_id}** · {title}\n")
    section = sources.index(next(s for s in sources if s.startswith("## Exercises")))
    found = next(k for k, s in enumerate(sources) if re.match(r"## The paper found", s))
    assert section < at < found, "exercises sit before 'The paper found / we found'"
