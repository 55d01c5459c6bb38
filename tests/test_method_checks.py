"""The twelve-method checks of chapter 11 (zfkeras.experiments.method_checks): the tiled occluder
against a loop over its squares, the partial cascade against randomization_test, the random
references drawn in image order, and the shipped record."""

import json

import keras
import numpy as np
import pytest

from zfkeras import config
from zfkeras.evaluation.faithfulness import randomization_test
from zfkeras.experiments import cli, method_checks


def _tiny(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 2))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    h = keras.layers.Flatten(name="flat")(h)
    h = keras.layers.Dense(6, activation="relu", name="fc")(h)
    logits = keras.layers.Dense(3, name="logits")(h)
    model = keras.Model(inp, keras.layers.Activation("softmax", name="prob")(logits))
    x = np.random.default_rng(seed).normal(size=(5, 12, 12, 2)).astype(np.float32)
    return model, x, keras.Model(inp, logits)


def test_tiled_occlusion_is_the_drop_of_the_score_under_each_square():
    model, x, logits = _tiny()
    cls = np.array([0, 1, 2, 0, 1])
    got = method_checks.tiled_occlusion(model, x, cls, parts=3, batch_size=12)  # 1 image a pass
    want = np.zeros(x.shape[:3], np.float32)
    base = logits.predict(x, verbose=0)[np.arange(5), cls]
    for r0 in range(0, 12, 4):
        for c0 in range(0, 12, 4):
            hidden = x.copy()
            hidden[:, r0 : r0 + 4, c0 : c0 + 4] = 0.0
            drop = base - logits.predict(hidden, verbose=0)[np.arange(5), cls]
            want[:, r0 : r0 + 4, c0 : c0 + 4] = drop[:, None, None]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        method_checks.tiled_occlusion(model, x, cls, parts=3), got, rtol=1e-5, atol=1e-6
    )


def test_classifier_random_is_the_cascade_of_randomization_test():
    model, x, _ = _tiny()
    weights = [w.copy() for w in model.get_weights()]
    r = randomization_test(model, x, "backprop", [0, 1, 2, 0, 1], verbose=0)
    assert r.layers[1:3] == ("logits", "fc")
    got = method_checks.classifier_random(model, x, "backprop", [0, 1, 2, 0, 1], down_to="fc")
    np.testing.assert_allclose(got, r.maps[2], rtol=1e-5, atol=1e-6)
    for w, v in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(w, v)  # the model itself is left as it was
    with pytest.raises(ValueError, match="down_to must name a layer with weights"):
        method_checks.classifier_random(model, x, "backprop", 0, down_to="flat")


def test_references_are_drawn_in_image_order():
    few, many = method_checks.reference_maps(2, 8), method_checks.reference_maps(5, 8)
    assert method_checks.REFERENCES == ("random map", "image centre")
    np.testing.assert_array_equal(few[0], many[0, :2])  # the noise: the first images alike
    assert many[1].sum(axis=(1, 2)).tolist() == [4.0] * 5 and many[1, 0, 3:5, 3:5].all()


def test_the_twelve_and_bad_arguments():
    methods = {
        n: method_checks.explainer(n, parts=4, rise_samples=10) for n in method_checks.TWELVE
    }
    assert methods["rise"].keywords["samples"] == 10 and methods["gradcam"] == "gradcam"
    assert methods["occlusion"].keywords["parts"] == 4
    with pytest.raises(ValueError, match="name must be one of"):
        method_checks.explainer("lime")
    with pytest.raises(ValueError, match="first"):
        method_checks.measure(first=0)
    with pytest.raises(TypeError, match="per_class"):
        method_checks.measure(per_class=2.5)


def test_record_round_trip(tmp_path):
    result = method_checks.MethodChecks(
        {"first": None}, {"images": [1], "spearman": {"rise": [0.5]}}, {}, {}, {}
    )
    cli.write_record(result, tmp_path / "m.json", method_checks.MODULE, ["--out", "m.json"])
    back = method_checks.load_method_checks(tmp_path / "m.json")
    assert back.randomization == result.randomization
    assert back.command == f"python -m {method_checks.MODULE} --out m.json"


def test_the_shipped_record_is_a_full_run_of_the_twelve():
    path = config.shipped_file("method-checks.json")
    raw = json.loads(path.read_text())
    record = method_checks.load_method_checks(path)
    assert record.command == raw["command"] and record.settings["first"] is None
    assert set(record.randomization["spearman"]) == set(method_checks.TWELVE)
    n = len(record.randomization["images"])
    assert n >= 20 and all(len(v) == n for v in record.randomization["spearman"].values())
    names = {*method_checks.TWELVE, *method_checks.REFERENCES}
    for check in ("shapes: object", "concepts: object", "concepts: parts"):
        scores = record.pointing[check]["scores"]
        assert set(scores) == names and len(record.pointing[check]["images"]) >= 20
        assert all(len(v) == len(record.pointing[check]["images"]) for v in scores.values())
    for curves in (record.deletion, record.insertion):
        assert set(curves["auc"]) == {*method_checks.TWELVE, "random"}
        assert all(len(v) == len(curves["images"]) >= 20 for v in curves["auc"].values())


def test_cascade_layers_by_hand():
    from zfkeras.evaluation.faithfulness import cascade_layers

    inner = keras.Sequential([keras.Input((6, 6, 4)), keras.layers.Conv2D(2, 1, name="c2")])
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, name="c1"),
            keras.layers.MaxPooling2D(1, name="pool"),
            inner,
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(3, name="out"),
        ]
    )
    # from the output down, weighted leaves only: the nested model entered, pooling skipped
    assert [lay.name for lay in cascade_layers(model)] == ["out", "c2", "c1"]
    with pytest.raises(TypeError, match="model"):
        cascade_layers("not a model")
