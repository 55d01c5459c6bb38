"""Ablation variants: the layers that remain, their sizes, a few training steps."""

import keras
import numpy as np
import pytest

from zfkeras import training
from zfkeras.experiments import ablation


@pytest.fixture(scope="module")
def recipe():
    return training.Recipe(
        dataset="shapes",
        image_size=64,
        width=0.125,
        fc_units=16,
        epochs=1,
        batch_size=8,
        train_size=16,
        test_size=8,
    )


def names(model):
    return [lay.name for lay in model.layers if not isinstance(lay, keras.layers.InputLayer)]


@pytest.mark.parametrize("remove", [ablation.FC, ablation.CONV34, ablation.FC + ablation.CONV34])
def test_removed_layers_are_gone(recipe, remove):
    full = ablation.build_variant(recipe, 5)
    m = ablation.build_variant(recipe, 5, remove)
    assert names(m) == [n for n in names(full) if n not in remove]
    assert m.output.shape[-1] == 5
    assert m.count_params() < full.count_params()
    x = np.zeros((2, 64, 64, 3), "float32")
    np.testing.assert_allclose(m.predict(x, verbose=0).sum(1), 1, rtol=1e-5)


def test_without_fc_goes_straight_to_softmax(recipe):
    m = ablation.build_variant(recipe, 5, ablation.FC)
    assert m.get_layer("predictions").input.shape[-1] == m.get_layer("flatten").output.shape[-1]


def test_width(recipe):
    wide = ablation.build_variant(recipe, 5, width=0.25)
    assert wide.get_layer("conv1").filters == 24 and wide.get_layer("conv5").filters == 64


def test_fresh_weights_and_renorm_kept(recipe):
    full = ablation.build_variant(recipe, 5)
    copy = ablation.remove_layers(full, ())
    assert copy.get_layer("conv1").kernel_constraint is not None
    assert not np.allclose(
        copy.get_layer("conv1").kernel.numpy(), full.get_layer("conv1").kernel.numpy()
    )


def test_train_variant_runs(recipe):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (16, 64, 64, 3), dtype=np.uint8)
    y = np.arange(16) % 5
    res = ablation.train_variant(
        ablation.build_variant(recipe, 5, ablation.FC), recipe, x, y, x[:8], y[:8]
    )
    assert set(res.row()) == {"test_accuracy", "train_accuracy", "params", "seconds"}
    assert res.epochs is None and 0 <= res.test_accuracy <= 1


def test_errors(recipe):
    with pytest.raises(ValueError, match="remove must name layers"):
        ablation.build_variant(recipe, 5, ("conv9",))
