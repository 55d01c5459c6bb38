"""Architecture seed study: a tiny quick-mode study, checked against numbers recomputed by hand
from the saved kernels and the saved run folders."""

import json
import os
from dataclasses import replace

import keras
import numpy as np
import pytest

from zfkeras import data as zdata
from zfkeras.experiments import architecture


@pytest.fixture(scope="module")
def study(tmp_path_factory, cifar_dir):
    os.environ["ZFKERAS_QUICK"] = "1"
    tmp = tmp_path_factory.mktemp("architecture")
    recipe = architecture.budget(
        width=0.125, fc_units=16, train_size=64, test_size=32, batch_size=32, epochs=1
    )
    result = architecture.run_study(
        recipe, tmp / "runs", seeds=(0, 1), eval_size=30, probes=4, data_dir=cifar_dir
    )
    architecture.save_study(result, tmp / "study.npz", "test")
    return tmp, recipe, result


def concentration_by_hand(kernel, top=4):
    shares = []
    for f in range(kernel.shape[-1]):
        power = 0
        for c in range(kernel.shape[2]):
            k = kernel[:, :, c, f].astype(np.float64)
            power = power + np.abs(np.fft.fft2(k - k.mean())) ** 2
        p = np.sort(power.ravel())[::-1]
        shares.append(p[:top].sum() / p.sum())
    return float(np.mean(shares))


def middle_band_by_hand(kernel, size=32):
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(size) * 2, np.fft.fftfreq(size) * 2))
    middle = (radius >= 1 / 3) & (radius < 2 / 3)
    shares = []
    for f in range(kernel.shape[-1]):
        power = 0
        for c in range(kernel.shape[2]):
            k = kernel[:, :, c, f].astype(np.float64)
            power = power + np.abs(np.fft.fft2(k - k.mean(), s=(size, size))) ** 2
        shares.append(power[middle].sum() / power.sum())
    return float(np.mean(shares))


def test_saved_numbers_match_the_kernels_and_the_summary(study):
    tmp, _, _ = study
    back = architecture.load_study(tmp / "study.npz")
    assert back.command == "test" and sorted(back.runs) == [
        "alexnet-seed0",
        "alexnet-seed1",
        "zfnet-seed0",
        "zfnet-seed1",
    ]
    summary = architecture.summarize(back)
    for arch, size in (("zfnet", 7), ("alexnet", 11)):
        kernels = [back.runs[f"{arch}-seed{s}"].conv1_kernel for s in (0, 1)]
        assert kernels[0].shape[:3] == (size, size, 3)
        conc = [concentration_by_hand(k) for k in kernels]
        mid = [middle_band_by_hand(k) for k in kernels]
        s = summary.archs[arch]
        np.testing.assert_allclose(s["concentration"].values, conc, rtol=1e-5)
        np.testing.assert_allclose(s["middle_band"].values, mid, rtol=1e-5)
        assert s["concentration"].mean == pytest.approx(sum(conc) / 2, rel=1e-5)
        spread = abs(conc[0] - conc[1]) / np.sqrt(2)  # sample std of two values
        assert s["concentration"].std == pytest.approx(spread, rel=1e-4, abs=1e-9)
        assert s["middle_band"].min == pytest.approx(min(mid), rel=1e-5)


def test_accuracy_matches_the_saved_model(study, cifar_dir):
    tmp, recipe, result = study
    x, y = zdata.cifar10("test", cifar_dir, limit=3)
    folder = tmp / "runs" / "alexnet-seed1"
    model = keras.saving.load_model(folder / "model.keras", compile=False)
    mean = np.asarray(json.loads((folder / "model.json").read_text())["mean"], np.float32)
    probs = model.predict(
        zdata.centre_crop(zdata.normalize(x, mean), recipe.image_size, recipe.crop_scale),
        verbose=0,
    )
    acc = float(np.mean(probs.argmax(1) == y))
    assert result.runs["alexnet-seed1"].metrics["test_accuracy"] == pytest.approx(acc)
    assert result.eval_size == 30


def test_finished_runs_are_loaded_not_retrained(study, cifar_dir):
    tmp, recipe, result = study
    stamp = (tmp / "runs" / "zfnet-seed0" / "model.json").stat().st_mtime_ns
    again = architecture.run_study(
        recipe, tmp / "runs", ("zfnet",), (0,), eval_size=30, probes=4, data_dir=cifar_dir
    )
    assert (tmp / "runs" / "zfnet-seed0" / "model.json").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(
        again.runs["zfnet-seed0"].conv1_kernel, result.runs["zfnet-seed0"].conv1_kernel
    )


def test_merge_studies_adds_seeds_and_lists_both_commands(study, tmp_path):
    _, _, result = study

    def part(seed, command):
        runs = {k: r for k, r in result.runs.items() if r.seed == seed}
        return replace(result, runs=runs, command=command)

    merged = architecture._merge_studies(part(0, "first"), part(1, "second"))
    assert sorted(merged.runs) == sorted(result.runs)
    assert merged.commands == ["first", "second"] and merged.command is None
    architecture.save_study(merged, tmp_path / "m.npz", "third")
    back = architecture.load_study(tmp_path / "m.npz")
    assert back.commands == ["first", "second", "third"]
    assert back.command == "first && second && third"
    np.testing.assert_array_equal(
        back.runs["zfnet-seed1"].conv1_kernel, result.runs["zfnet-seed1"].conv1_kernel
    )
    # the merged summary is the summary of the whole study
    whole, parts = architecture.summarize(result), architecture.summarize(back)
    assert (
        parts.archs["zfnet"]["test_accuracy"].values == whole.archs["zfnet"]["test_accuracy"].values
    )
    with pytest.raises(ValueError, match=r"both studies hold the runs \['alexnet-seed0'"):
        architecture._merge_studies(part(0, "a"), part(0, "b"))
    other = replace(part(1, "b"), probes=result.probes + 1)
    with pytest.raises(ValueError, match=r"differ in \['probes'\]"):
        architecture._merge_studies(part(0, "a"), other)


def test_merge_studies_reads_a_recipe_written_before_a_field_existed(study):
    _, _, result = study
    old = replace(result, runs={}, recipe=dict(result.recipe))
    del old.recipe["reinit"]  # as an older zfkeras wrote it
    merged = architecture._merge_studies(old, replace(result, command="new"))
    assert merged.recipe == result.recipe and sorted(merged.runs) == sorted(result.runs)
    other = replace(result, recipe={**result.recipe, "lr": 1.0})
    with pytest.raises(ValueError, match=r"differ in \['recipe'\]"):
        architecture._merge_studies(old, other)


def test_runs_record_the_validated_measures(study):
    # issue 27: edges (oriented energy), bands per filter width and the grid at conv1's stride
    from zfkeras.experiments import diagnostics

    _, _, result = study
    for r in result.runs.values():
        k, m = r.conv1_kernel, r.metrics
        assert m["oriented"] == pytest.approx(diagnostics.oriented_energy(k).mean())
        assert m["middle_band_width"] == pytest.approx(diagnostics.relative_bands(k)[:, 1].mean())
        assert 0 <= m["conv2_grid"] <= 1
