import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from zfkeras import data


# ----------------------------------------------------------------- CIFAR-10 folder loader
def test_cifar10_from_folder(cifar_dir):
    x, y = data.cifar10("test", data_dir=cifar_dir, limit=3)
    assert x.shape == (30, 32, 32, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(y, np.repeat(np.arange(10), 3))
    # independent decoder: TensorFlow's JPEG reader on the same file
    first = os.path.join(
        cifar_dir,
        "test",
        "airplane",
        sorted(os.listdir(os.path.join(cifar_dir, "test", "airplane")))[0],
    )
    ref = tf.io.decode_image(tf.io.read_file(first), channels=3).numpy().astype(int)
    diff = np.abs(ref - x[0].astype(int))  # decoders differ slightly in chroma upsampling
    assert diff.mean() < 1.5 and diff.max() <= 10
    assert np.abs(ref[..., ::-1] - x[0].astype(int)).mean() > 5  # RGB, not BGR


def test_cifar10_environment_variable(tmp_path, monkeypatch):
    for c, name in enumerate(data.CIFAR10_CLASSES):
        d = tmp_path / "train" / name
        d.mkdir(parents=True)
        img = np.full((32, 32, 3), 10 * c, np.uint8)
        img[0, 0] = (255, 0, 0)  # BGR on disk: blue
        cv2.imwrite(str(d / "a.png"), img)
    monkeypatch.setenv("ZFKERAS_CIFAR10", str(tmp_path))
    x, y = data.cifar10("train")
    assert x.shape == (10, 32, 32, 3)
    np.testing.assert_array_equal(y, np.arange(10))
    assert tuple(x[0, 0, 0]) == (0, 0, 255)  # returned as RGB
    assert x[7, 5, 5, 0] == 70


def test_cifar10_missing_folder_names_path_variable_layout(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(data.DatasetFolderError) as err:
        data.cifar10("test", data_dir=missing)
    msg = str(err.value)
    assert str(missing) in msg and "ZFKERAS_CIFAR10" in msg and "<class name>" in msg
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, ValueError)


def test_cifar10_malformed_folder(tmp_path):
    (tmp_path / "test" / "airplane").mkdir(parents=True)
    with pytest.raises(ValueError, match="missing") as err:
        data.cifar10("test", data_dir=tmp_path)
    assert "automobile" in str(err.value) and "ZFKERAS_CIFAR10" in str(err.value)


@pytest.mark.parametrize(
    "kwargs, match", [({"split": "val"}, "split"), ({"split": "test", "limit": 0}, "limit")]
)
def test_cifar10_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.cifar10(**kwargs, data_dir="/nonexistent")


# ----------------------------------------------------------------- synthetic shapes
@pytest.fixture(scope="module")
def ds():
    return data.shapes(300, seed=7, image_size=64)


def test_shapes_structure(ds):
    n = 300
    assert ds.images.shape == (n, 64, 64, 3) and ds.images.dtype == np.uint8
    assert ds.masks.shape == (n, 64, 64) and ds.masks.dtype == bool
    assert ds.labels.shape == (n,) and set(ds.labels) == set(range(5))
    assert ds.class_names == list(data.SHAPES_CLASSES)
    assert all(ds.parts[p].shape == (n, 2) for p in data.FACE_PARTS)


def test_shapes_deterministic():
    a, b = data.shapes(20, seed=3), data.shapes(20, seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert not np.array_equal(a.images, data.shapes(20, seed=4).images)


def _extreme(img):
    """Object colours are < 45 or > 210 in every channel; the background is 70-185 +- noise."""
    return np.all((img < 60) | (img > 195), axis=-1)


def test_masks_cover_the_object(ds):
    inside, outside = [], []
    for img, m, lab in zip(ds.images, ds.masks, ds.labels):
        core = cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        if ds.class_names[lab] != "face":
            inside.append(_extreme(img)[core].mean())
        ring = cv2.dilate(m.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~m
        outside.append(_extreme(img)[ring].mean())
    assert np.mean(inside) > 0.97  # the object's pixels are inside the mask
    assert np.mean(outside) < 0.15  # and the mask does not spill onto background


def test_face_parts(ds):
    faces = np.flatnonzero(np.array(ds.class_names)[ds.labels] == "face")
    others = np.flatnonzero(np.array(ds.class_names)[ds.labels] != "face")
    assert len(faces) > 20
    assert np.isnan(ds.parts["left_eye"][others]).all()
    for i in faces:
        img = ds.images[i].astype(int)
        body = np.median(img[ds.masks[i]], axis=0)
        le, re, mo = (ds.parts[p][i] for p in data.FACE_PARTS)
        assert le[1] < re[1] and mo[0] > (le[0] + re[0]) / 2 - 1  # viewer's left; mouth below
        for r, c in (le, re, mo):
            r, c = int(round(r)), int(round(c))
            assert ds.masks[i][r, c]
            assert np.abs(img[r, c] - body).max() > 100  # the part is drawn in another colour


@pytest.mark.parametrize(
    "kwargs, match",
    [({"n": 0}, "n must"), ({"image_size": 16}, "image_size"), ({"classes": ("blob",)}, "classes")],
)
def test_shapes_bad_arguments(kwargs, match):
    args = {"n": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        data.shapes(**args)


# ----------------------------------------------------------------- preprocessing
def test_per_pixel_mean():
    x = np.random.default_rng(0).integers(0, 256, (50, 5, 6, 3), dtype=np.uint8)
    np.testing.assert_allclose(data.per_pixel_mean(x, batch=7), x.mean(0), rtol=1e-6)
    with pytest.raises(ValueError, match="images"):
        data.per_pixel_mean(x[0])


def test_crop_resize_identity_and_centre_box():
    x = np.random.default_rng(1).normal(size=(2, 16, 16, 3)).astype("float32")
    full = data.crop_boxes(2, 1.0)
    np.testing.assert_allclose(data.crop_resize(x, 16, full).numpy(), x, atol=1e-5)
    box = data.crop_boxes(1, 1.125)[0]
    np.testing.assert_allclose(box, [1 / 18, 1 / 18, 17 / 18, 17 / 18], atol=1e-6)


def test_ten_crops_corners_centre_and_mirrors():
    x = np.random.default_rng(2).normal(size=(3, 20, 20, 3)).astype("float32")
    crops = data.ten_crops(x, 12, 1.25).numpy()
    assert crops.shape == (10, 3, 12, 12, 3)
    s = 1 / 1.25
    expected_boxes = [
        [0, 0, s, s],
        [0, 1 - s, s, 1],
        [1 - s, 0, 1, s],
        [1 - s, 1 - s, 1, 1],
        [(1 - s) / 2, (1 - s) / 2, (1 + s) / 2, (1 + s) / 2],
    ]
    for i, b in enumerate(expected_boxes):
        ref = tf.image.crop_and_resize(x, np.tile(b, (3, 1)), np.arange(3), (12, 12)).numpy()
        np.testing.assert_allclose(crops[i], ref, atol=1e-5)
        np.testing.assert_allclose(crops[i + 5], ref[:, :, ::-1], atol=1e-4)


def test_augment_batch_is_crop_or_mirror():
    x = np.random.default_rng(3).integers(0, 256, (16, 24, 24, 3), dtype=np.uint8)
    mean = np.full((24, 24, 3), 100.0, np.float32)
    out = data.augment_batch(x, mean, 24, 1.0, seed=tf.constant([1, 2])).numpy()
    ref = (x.astype(np.float32) - 100) / 64
    flipped = [np.allclose(o, r[:, ::-1], atol=1e-4) for o, r in zip(out, ref)]
    same = [np.allclose(o, r, atol=1e-4) for o, r in zip(out, ref)]
    assert all(a or b for a, b in zip(flipped, same))
    assert 0 < sum(flipped) < 16  # both happen


def test_centre_crop_equals_explicit_centre_box():
    x = np.random.default_rng(4).normal(size=(3, 20, 20, 3)).astype("float32")
    s = 1 / 1.25
    box = [(1 - s) / 2, (1 - s) / 2, (1 + s) / 2, (1 + s) / 2]
    ref = tf.image.crop_and_resize(x, np.tile(box, (3, 1)), np.arange(3), (12, 12)).numpy()
    np.testing.assert_allclose(data.centre_crop(x, 12, 1.25).numpy(), ref, atol=1e-5)
