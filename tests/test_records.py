"""The experiments' JSON records: a result dataclass written by cli.write_record is read back
by cli.read_record as the same dataclass, with the command and Keras version filled in."""

import json

import keras
import pytest

from zfkeras import config
from zfkeras.experiments import ablation, cli, probes, transfer


def test_write_then_read_gives_the_same_result(tmp_path):
    result = ablation.Ablation(
        recipe={"epochs": 2}, train_images=10, test_images=4, patience=None, rows=[{"v": 1}]
    )
    cli.write_record(result, tmp_path / "a.json", "zfkeras.experiments.ablation", ["--x", "1"])
    raw = json.loads((tmp_path / "a.json").read_text())  # read here without the library
    assert raw["command"] == "python -m zfkeras.experiments.ablation --x 1"
    assert raw["keras"] == keras.__version__ and raw["rows"] == [{"v": 1}]
    back = ablation.load_ablation(tmp_path / "a.json")
    assert back.recipe == {"epochs": 2} and back.rows == [{"v": 1}] and back.patience is None
    assert (back.command, back.keras) == (raw["command"], keras.__version__)
    assert result.command is None  # the result itself is not changed


def test_generalization_rows_come_back_as_few_shot(tmp_path):
    row = probes.FewShot(per_class=2, frozen=0.5, fine_tuned=0.6, scratch=0.25)
    result = probes.Generalization("src", "shapes", ["a"], 8, 1, 1, [row])
    cli.write_record(result, tmp_path / "g.json", "m", [])
    assert json.loads((tmp_path / "g.json").read_text())["rows"] == [
        {"per_class": 2, "frozen": 0.5, "fine_tuned": 0.6, "scratch": 0.25}
    ]
    assert probes.load_generalization(tmp_path / "g.json").rows == [row]


@pytest.mark.parametrize(
    "name, read",
    [
        ("transfer-cifar10.json", transfer.load_transfer),
        ("ablation-shapes.json", ablation.load_ablation),
        ("generalization-shapes.json", probes.load_generalization),
    ],
)
def test_the_shipped_records_load(name, read):
    path = config.shipped_file(name)
    raw = json.loads(path.read_text())
    result = read(path)
    assert result.command == raw["command"] and len(result.rows) == len(raw["rows"])


def test_a_file_of_another_result_is_refused(tmp_path):
    (tmp_path / "t.json").write_text(json.dumps({"recipe": {}, "source_classes": []}))
    with pytest.raises(ValueError, match=r"record of Ablation.*unknown keys \['source_classes'\]"):
        ablation.load_ablation(tmp_path / "t.json")
    (tmp_path / "g.json").write_text(json.dumps({"source": "x"}))
    with pytest.raises(ValueError, match=r"missing keys \['class_names'"):
        probes.load_generalization(tmp_path / "g.json")
