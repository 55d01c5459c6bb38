"""The exercise checkers: each accepts its reference solution and rejects a planted mistake.

The solutions live in ``solutions/NN_<name>.py``; the wrong answers below are the mistakes a
learner makes (an off-by-one, a missing ReLU, the wrong axis, a wrong sign).
"""

import importlib
import json
import pathlib
import re
import sys
from collections import Counter

import keras
import numpy as np
import pytest
import tensorflow as tf

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import zfkeras.exercises as ex  # noqa: E402


def _solutions() -> dict:
    answers = {}
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.py")):
        answers.update(importlib.import_module(f"solutions.{path.stem}").ANSWERS)
    return answers


SOLUTIONS = _solutions()
IDS = [e.id for e in ex.catalog()]


def _sol(exercise_id):
    return SOLUTIONS[exercise_id]


def _class_model_descends(model, c):
    x = tf.Variable(tf.zeros((1, 12, 12, 3)))
    for _ in range(10):
        with tf.GradientTape() as tape:
            score = model(x)[0, c]
        x.assign(tf.clip_by_value(x - 0.1 * tf.sign(tape.gradient(score, x)), -1, 1))
    return x.numpy()


def _fool_unbounded(model, image, target, eps):
    x = tf.constant(image)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = model(x)[0, target]
    return (x + 10 * eps * tf.sign(tape.gradient(score, x))).numpy()


class _SnapshotsOfVariable(keras.callbacks.Callback):
    def __init__(self, layer_name):
        super().__init__()
        self.layer_name, self.snapshots = layer_name, []

    def on_epoch_end(self, epoch, logs=None):
        self.snapshots.append(self.model.get_layer(self.layer_name).kernel)  # no copy


def _freeze_before(model, name):
    names = [layer.name for layer in model.layers]
    for k, layer in enumerate(model.layers):
        layer.trainable = k >= names.index(name)  # the named layer stays trainable


def _pointing_swapped(saliency, mask, tolerance):
    r, c = np.unravel_index(np.argmax(saliency), saliency.shape)
    rows, cols = np.nonzero(mask)
    return bool(np.any((abs(rows - c) <= tolerance) & (abs(cols - r) <= tolerance)))


def _pearson(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


WRONG = {
    "01.1": lambda size, kernel, stride, pad: (size + 2 * pad - kernel) // stride,  # no + 1
    "01.2": 5 * 5 * 96 * 256,  # no biases
    "01.3": lambda stack: (sum(k for k, _ in stack) - len(stack) + 1, 1),  # strides ignored
    "02.1": lambda train, images: images - train.mean(axis=(0, 1, 2)),  # per channel
    "02.2": lambda image, size: _sol("02.2")(image[::-1], size)[:, ::-1],  # flipped up-down
    "02.3": lambda probs, labels, k: _sol("02.3")(probs, labels, max(k - 1, 1)),  # off by one
    "03.1": lambda acts: np.mean(acts == 0, axis=(1, 2, 3)),  # per image
    "03.2": lambda model, names: keras.Model(
        model.input, [model.get_layer(n).input for n in names]
    ),  # inputs, one layer too early
    "03.3": float(np.mean(np.maximum(np.random.default_rng(0).normal(size=256) - 0.5, 0) == 0)),
    "04.1": lambda values, switches, shape: np.zeros(shape),
    "04.2": lambda x, size, stride: _sol("04.2")(x, size, size),  # non-overlapping
    "04.3": lambda maps, kernel: _sol("04.3")(maps, kernel[::-1, ::-1]),  # unflipped
    "05.1": lambda maps, k: np.stack(
        [
            np.argsort(-maps[..., c].ravel())[:k] // (maps.shape[1] * maps.shape[2])
            for c in range(maps.shape[-1])
        ]
    ),  # one image counted several times
    "05.2": lambda stack, row, col: np.array(_sol("05.2")(stack, row, col)) - 1,
    "05.3": lambda image, top, left, size: image[
        max(top, 0) : top + size, max(left, 0) : left + size
    ],
    "06.1": lambda acts, q: np.quantile(acts.reshape(-1, acts.shape[-1]), q, axis=0),
    "06.2": lambda u, c: float(np.mean([np.sum(a & b) / np.sum(a | b) for a, b in zip(u, c)])),
    "06.3": lambda iou, threshold: int(np.sum(iou.max(axis=1) > threshold)),  # units
    "07.1": lambda x, grad, rule: grad * (x > 0),  # the gradient for every rule
    "07.2": "guided",
    "07.3": lambda x, w1, w2, j: (w2[:, j] * (x @ w1 > 0)) @ w1.T,  # the plain gradient
    "08.1": lambda model, image, channel, step: _sol("08.1")(model, image, channel, -step),
    "08.2": _class_model_descends,
    "08.3": lambda w: -w / np.linalg.norm(w),
    "08.4": lambda features, target, shape: np.zeros(shape),
    "09.1": lambda *args: 16 * _sol("09.1")(*args),  # a sum over the 8x8 map, not a mean
    "09.2": lambda maps, weights: maps @ weights,  # no ReLU
    "09.3": _pointing_swapped,  # row and column swapped
    "10.1": lambda score, image, size, stride, fill: _sol("10.1")(
        score, image[:-1, :-1], size, stride, fill
    ),
    "10.2": (32 // 5) ** 2,
    "10.3": 2.0,
    "11.1": lambda score, image, saliency, steps, fill: _sol("11.1")(
        score, image, -saliency, steps, fill
    ),
    "11.2": lambda curve: float(np.mean(curve)),
    "11.3": _pearson,
    "12.1": lambda before, after: np.sqrt(
        np.sum((after - before) ** 2, axis=(1, 2, 3)) / np.sum(before**2, axis=(1, 2, 3))
    ),
    "12.2": lambda changes, tol: next((e for e, c in enumerate(changes) if c < tol), len(changes)),
    "12.3": _SnapshotsOfVariable,
    "13.1": _fool_unbounded,
    "13.2": lambda image, dx, dy, fill: np.roll(image, (dy, dx), axis=(0, 1)),
    "13.3": 0.0,
    "14.1": lambda kernel, radius: (
        kernel * radius / np.sqrt(np.mean(kernel**2, axis=(0, 1, 2)))
    ),  # every filter, small ones too
    "14.2": lambda outputs, fraction: np.mean(outputs == 0, axis=(0, 1, 2)) > 1,
    "14.3": 49 / 121,
    "15.1": lambda eps: float(np.mean(np.sign(eps)[:, None] != np.sign(eps)[None])),  # i = j
    "15.2": lambda image, row, col, size, fill: _sol("15.2")(
        image, row + size // 2, col + size // 2, size, fill
    ),  # corner, not centre
    "15.3": 0.0,
    "16.1": _freeze_before,
    "16.2": lambda labels, per_class, seed: np.arange(per_class),
    "16.3": 6 * 6 * 256 * 4096 + 4096 * 4096,
}


def test_catalog_covers_every_chapter():
    catalog = ex.catalog()
    per_chapter = Counter(e.chapter for e in catalog)
    assert sorted(per_chapter) == list(range(1, 17))
    assert min(per_chapter.values()) >= 3 and len(catalog) >= 48
    assert all(isinstance(e, ex.Exercise) and e.title for e in catalog)
    assert len({e.id for e in catalog}) == len(catalog)
    with pytest.raises(Exception, match="frozen|assign"):
        catalog[0].title = "x"


def test_every_exercise_has_a_solution_and_a_planted_mistake():
    assert set(SOLUTIONS) == set(IDS)
    assert set(WRONG) == set(IDS)


@pytest.mark.parametrize("exercise_id", IDS)
def test_accepts_the_solution(exercise_id, capsys):
    assert ex.check(exercise_id, SOLUTIONS[exercise_id]) is True
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", IDS)
def test_rejects_a_planted_mistake(exercise_id, capsys):
    assert ex.check(exercise_id, WRONG[exercise_id]) is False
    out = capsys.readouterr().out
    assert "not yet" in out and "hint:" in out


@pytest.mark.parametrize("exercise_id", IDS)
def test_none_is_not_attempted(exercise_id, capsys):
    assert ex.check(exercise_id, None) is False
    out = capsys.readouterr().out
    assert "not attempted" in out and out.count("\n") == 1


def _raises(*args):
    raise RuntimeError("learner's bug")


@pytest.mark.parametrize("garbage", ["hello", [1, 2], np.zeros((2, 3)), _raises, object(), True])
@pytest.mark.parametrize("exercise_id", IDS)
def test_garbage_is_rejected_without_raising(exercise_id, garbage, capsys):
    assert ex.check(exercise_id, garbage) is False
    assert "not yet" in capsys.readouterr().out


def test_unknown_id_names_the_argument():
    with pytest.raises(ValueError, match="exercise_id"):
        ex.check("99.9", 1)


@pytest.mark.parametrize("exercise_id", IDS)
def test_each_exercise_has_its_cell_in_its_chapter(exercise_id):
    (path,) = (ROOT / "chapters").glob(f"{exercise_id[:2]}_*.ipynb")
    cells = json.loads(path.read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells]
    call = f'zfkeras.exercises.check("{exercise_id}", answer)'
    (at,) = [k for k, c in enumerate(cells) if c["cell_type"] == "code" and call in sources[k]]
    assert sources[at].rstrip().endswith(call) and "answer = None" in sources[at]
    assert cells[at - 1]["cell_type"] == "markdown" and f"Exercise {exercise_id}" in sources[at - 1]
    section = sources.index(next(s for s in sources if s.startswith("## Exercises")))
    found = next(k for k, s in enumerate(sources) if re.match(r"## The paper found", s))
    assert section < at < found, "exercises sit before 'The paper found / we found'"
