import numpy as np
import pytest

import zfkeras
from zfkeras import data, training


def test_unknown_name():
    with pytest.raises(ValueError, match="zfnet-cifar10"):
        zfkeras.pretrained("resnet")


def test_missing_files_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("ZFKERAS_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="make weights"):
        zfkeras.pretrained("zfnet-shapes")


@pytest.fixture(scope="module")
def cifar_test(cifar_dir):
    return data.cifar10("test", data_dir=cifar_dir)


@pytest.mark.parametrize("name, arch", [("zfnet-cifar10", "zfnet"), ("alexnet-cifar10", "alexnet")])
def test_cifar_bundles(name, arch, cifar_test):
    b = zfkeras.pretrained(name)
    assert b.class_names == list(data.CIFAR10_CLASSES)
    assert b.info["recipe"]["arch"] == arch and b.info["recipe"]["epochs"] > 0
    assert "python -m zfkeras.train" in b.info["command"]
    x, y = cifar_test
    # recomputed here, on the whole test set, through the bundle's own preprocess
    probs = b.model.predict(b.preprocess(x), batch_size=500, verbose=0)
    acc = float(np.mean(probs.argmax(1) == y))
    assert acc == pytest.approx(b.info["test_accuracy"], abs=0.003)
    if name == "zfnet-cifar10":
        assert acc >= 0.80
    assert b.preprocess(x[:2]).shape == (2,) + tuple(b.model.input.shape[1:])
    with pytest.raises(ValueError, match="images"):
        b.preprocess(np.zeros((2, 28, 28, 3), np.uint8))


def test_cifar_recipes_identical():
    a = zfkeras.pretrained("zfnet-cifar10").info["recipe"]
    b = zfkeras.pretrained("alexnet-cifar10").info["recipe"]
    assert {k: v for k, v in a.items() if k != "arch"} == {k: v for k, v in b.items()
                                                             if k != "arch"}


def test_shapes_bundle_on_unseen_images():
    b = zfkeras.pretrained("zfnet-shapes")
    ds = data.shapes(1000, seed=999, image_size=b.model.input.shape[1])
    assert b.class_names == ds["class_names"]
    acc = training.evaluate(b.model, ds["images"], ds["labels"], np.asarray(b.info["mean"],
                            np.float32), 1.0)
    assert acc >= 0.98
    x = b.preprocess(ds["images"][:4])
    np.testing.assert_allclose(b.deprocess(x).astype(int), ds["images"][:4].astype(int), atol=1)
