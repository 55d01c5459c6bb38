import cv2
import numpy as np
import pytest

from zfkeras.data import concepts

KEYS = ("colour", "texture", "part", "object")
NOISE = 6  # documented: a palette-painted pixel lies within +-6 of its palette RGB per channel
# The design, written out by hand: which parts each class is built from.
DESIGN = {
    "face": {"eye", "mouth"},
    "cat": {"ear", "eye"},
    "robot": {"ear", "eye", "mouth", "wheel"},
    "car": {"window", "wheel"},
    "bus": {"window", "door", "wheel"},
    "house": {"window", "door"},
    "mug": {"handle"},
    "cupboard": {"door", "handle"},
    "suitcase": {"handle", "wheel"},
}


@pytest.fixture(scope="module")
def world():
    return concepts(45, seed=0, image_size=128)


def test_shapes_dtypes_and_names(world):
    n, s = 45, 128
    assert world.images.shape == (n, s, s, 3) and world.images.dtype == np.uint8
    assert world.labels.shape == (n,) and np.issubdtype(world.labels.dtype, np.integer)
    assert set(world.concept_maps) == set(KEYS) == set(world.concept_names)
    for k in KEYS:
        m, names = world.concept_maps[k], world.concept_names[k]
        assert m.shape == (n, s, s) and m.dtype == np.uint8
        assert names[0] == "none" and len(set(names)) == len(names)
        assert m.max() < len(names)
    assert world.concept_names["object"] == ["none", *world.class_names]
    assert 8 <= len(world.class_names) <= 10
    assert {"red", "green", "blue", "yellow", "white", "black"} <= set(
        world.concept_names["colour"]
    )
    assert {"plain", "dots", "checker", "stripes-horizontal", "stripes-vertical"} <= set(
        world.concept_names["texture"]
    )
    small = concepts(3, seed=1, image_size=64)
    assert small.images.shape == (3, 64, 64, 3)
    assert small.concept_maps["part"].shape == (3, 64, 64)


def test_balanced_classes(world):
    counts = np.bincount(world.labels, minlength=len(world.class_names))
    np.testing.assert_array_equal(counts, np.full(9, 5))


def test_deterministic_and_seed_dependent():
    a, b, c = concepts(6, seed=7), concepts(6, seed=7), concepts(6, seed=8)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    for k in KEYS:
        np.testing.assert_array_equal(a.concept_maps[k], b.concept_maps[k])
    assert np.abs(a.images.astype(int) - c.images).mean() > 10


def test_object_map_is_the_labelled_class(world):
    obj = world.concept_maps["object"]
    for i, y in enumerate(world.labels):
        assert set(np.unique(obj[i])) == {0, y + 1}
        assert 0.05 < (obj[i] > 0).mean() < 0.6  # one clearly visible object


def test_parts_inside_object_and_distractors_outside(world):
    part, obj = world.concept_maps["part"], world.concept_maps["object"]
    names = world.concept_names["part"]
    n_outside = 0
    for i, y in enumerate(world.labels):
        count, comp = cv2.connectedComponents((part[i] > 0).astype(np.uint8), connectivity=8)
        for k in range(1, count):
            inside = obj[i][comp == k] > 0
            assert inside.all() or not inside.any(), f"image {i}: a part straddles the object"
            n_outside += not inside.any()
        inner = {names[p] for p in np.unique(part[i][obj[i] > 0]) if p}
        assert inner == DESIGN[world.class_names[y]], f"image {i}"
    assert n_outside >= 45  # distractor parts: 2-4 per image, a few may not find room


def test_parts_recur_across_classes(world):
    part, obj = world.concept_maps["part"], world.concept_maps["object"]
    classes_with = {p: set() for p in range(1, len(world.concept_names["part"]))}
    for i in range(len(part)):
        for p in np.unique(part[i][obj[i] > 0]):
            if p:
                classes_with[p].add(int(world.labels[i]))
    assert all(len(c) >= 2 for c in classes_with.values()), classes_with


def test_colour_label_is_the_painted_palette_colour(world):
    names = world.concept_names["colour"]
    pal = np.array([(0, 0, 0)] + [world.palette[c] for c in names[1:]], int)
    # the named colours mean what they say
    r, g, b = (pal[names.index("red")], pal[names.index("green")], pal[names.index("blue")])
    assert r[0] >= 180 and max(r[1:]) <= 80 and b[2] >= 180 and max(b[:2]) <= 100
    assert g[1] >= 130 and g[1] - max(g[0], g[2]) >= 60
    y, w, k = (pal[names.index(c)] for c in ("yellow", "white", "black"))
    assert min(y[:2]) >= 190 and y[2] <= 80 and w.min() >= 220 and k.max() <= 40
    col, img = world.concept_maps["colour"], world.images.astype(int)
    painted = col > 0
    diff = np.abs(img[painted] - pal[col[painted]])
    assert diff.max() <= NOISE
    # the label is the nearest palette colour, and every palette colour is used
    dist = np.abs(img[painted][:, None, :] - pal[None, 1:, :]).max(-1)
    np.testing.assert_array_equal(dist.argmin(1) + 1, col[painted])
    assert set(np.unique(col)) == set(range(len(names)))
    assert 0.1 < (~painted).mean() < 0.9  # clutter (not from the palette) is labelled none


def _mean_step(img, region, axis):
    """Mean over pairs of neighbours along axis (0 = rows, 1 = columns), both inside region, of
    the summed absolute RGB difference."""
    step = np.abs(np.diff(img.astype(int), axis=axis + 1)).sum(-1)
    r = np.moveaxis(region, axis + 1, 1)
    return np.moveaxis(step, axis + 1, 1)[r[:, :-1] & r[:, 1:]].mean()


def test_textures(world):
    tex, col, part = (world.concept_maps[k] for k in ("texture", "colour", "part"))
    names, img = world.concept_names["texture"], world.images
    np.testing.assert_array_equal(tex == 0, col == 0)  # both "none" exactly on clutter
    assert (tex[part > 0] == names.index("plain")).all()  # parts are plain
    steps = {
        n: (_mean_step(img, tex == names.index(n), 0), _mean_step(img, tex == names.index(n), 1))
        for n in names[1:]
    }
    rows_h, cols_h = steps["stripes-horizontal"]
    rows_v, cols_v = steps["stripes-vertical"]
    # stripes change along one axis only (the other sees the +-6 noise alone: ~13 summed
    # over the channels); the other patterns change along both, unlike plain regions
    assert rows_h > 5 * cols_h and cols_v > 5 * rows_v, steps
    assert max(cols_h, rows_v) < 2 * 2 * NOISE, steps
    for n in ("dots", "checker", "stripes-diagonal"):
        assert min(steps[n]) > 1.5 * max(steps["plain"]), steps
        assert 0.8 < steps[n][0] / steps[n][1] < 1.25, steps


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n": 0}, ValueError, "n must be an int >= 1"),
        ({"n": -3}, ValueError, "n must"),
        ({"n": 2.0}, TypeError, "n must be an int"),
        ({"n": True}, TypeError, "n must be an int"),
        ({"n": 2, "seed": -1}, ValueError, "seed must be an int >= 0"),
        ({"n": 2, "seed": "a"}, TypeError, "seed must be an int"),
        ({"n": 2, "image_size": 32}, ValueError, "image_size must be an int >= 64"),
        ({"n": 2, "image_size": 128.0}, TypeError, "image_size must be an int"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        concepts(**kwargs)
