"""Feature evolution callback: snapshots at exactly the requested epochs, round trip, metric."""

import keras
import numpy as np
import pytest

from zfkeras import figures
from zfkeras.experiments import evolution


@pytest.fixture(scope="module")
def run():
    keras.utils.set_random_seed(0)
    x = keras.Input((12, 12, 3))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(x)
    h = keras.layers.MaxPooling2D(2, name="pool1")(h)
    h = keras.layers.Conv2D(5, 3, activation="relu", name="conv2")(h)
    y = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(h))
    model = keras.Model(x, y)
    model.compile("sgd", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    data = rng.normal(size=(16, 12, 12, 3)).astype("float32")
    cb = evolution.FeatureEvolution(
        data[:6], epochs=[2, 1, 4], layers=["conv1", "conv2"], channels=3, store_size=8
    )
    model.fit(data, np.arange(16) % 2, epochs=5, batch_size=8, verbose=0, callbacks=[cb])
    return model, cb, data


def test_snapshots_at_exactly_the_requested_epochs(run):
    _, cb, _ = run
    assert sorted(cb.snapshots) == [1, 2, 4]
    snap = cb.snapshots[4]
    assert snap["conv1"]["projection"].shape == (3, 8, 8, 3)
    assert snap["conv2"]["channel"].shape == (3,) and snap["conv1_kernel"].shape == (3, 3, 3, 4)


def test_strongest_image_is_found(run):
    model, cb, data = run
    acts = keras.Model(model.inputs, model.get_layer("conv2").output).predict(data[:6], verbose=0)
    snap = cb.snapshot()  # the final weights
    ch = snap["conv2"]["channel"]
    np.testing.assert_array_equal(snap["conv2"]["image"], acts.max((1, 2))[:, ch].argmax(0))
    np.testing.assert_allclose(snap["conv2"]["value"], acts.max((1, 2))[:, ch].max(0), rtol=1e-5)


def test_save_load_round_trip(run, tmp_path):
    _, cb, _ = run
    cb.save(tmp_path / "s.npz")
    back = evolution.load_snapshots(tmp_path / "s.npz")
    assert list(back) == [1, 2, 4]
    for e in back:
        p, q = cb.snapshots[e]["conv2"]["projection"], back[e]["conv2"]["projection"]
        assert np.abs(p - q).max() <= np.abs(p).max() / 127 + 1e-6  # int8 quantization
        np.testing.assert_array_equal(back[e]["conv2"]["image"], cb.snapshots[e]["conv2"]["image"])


def test_stabilization_by_hand():
    def snap(vectors):
        p = np.asarray(vectors, np.float32).reshape(1, 1, 2, 1)
        return {"conv1_kernel": np.zeros(1), "c": {"projection": p, "channel": np.array([0])}}

    snaps = {1: snap([1, 0]), 2: snap([0, 1]), 3: snap([0, 2]), 5: snap([0.1, 1])}
    s = evolution.stabilization(snaps, threshold=0.1, aligned=False)["c"]
    assert s["epochs"] == [2, 3, 5]
    np.testing.assert_allclose(s["change"], [1, 0, 1 - 1 / np.sqrt(1.01)], atol=1e-6)
    assert s["stable_from"] == 2
    assert evolution.stabilization(snaps, 0.001, aligned=False)["c"]["stable_from"] is None


def test_stabilization_aligned_ignores_position():
    def snap(r, c, image):
        p = np.zeros((1, 12, 12, 3), np.float32)
        p[0, r : r + 3, c : c + 3] = [[1, -1, 1]] * 3
        return {
            "conv1_kernel": np.zeros(1),
            "c": {"projection": p, "channel": np.array([0]), "image": np.array([image])},
        }

    snaps = {1: snap(2, 2, 4), 2: snap(6, 5, 9)}  # away from the border: same crop
    s = evolution.stabilization(snaps)["c"]
    assert s["change"][0] == pytest.approx(0, abs=1e-6) and s["jumps"] == [1.0]
    assert evolution.stabilization(snaps, aligned=False)["c"]["change"][0] == pytest.approx(1)


def test_figure(run):
    _, cb, _ = run
    fig = figures.evolution_figure(cb.snapshots)
    assert len(fig.axes) == 6 * 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(probe_images=np.zeros((3, 3))), "probe_images"),
        (dict(epochs=[0, 1]), "epochs"),
        (dict(layers="conv1"), "layers"),
        (dict(channels=0), "channels"),
    ],
)
def test_errors(kwargs, match):
    args = dict(probe_images=np.zeros((2, 12, 12, 3))) | kwargs
    with pytest.raises(ValueError, match=match):
        evolution.FeatureEvolution(**args)


def test_crop_to_signal():
    p = np.zeros((10, 12, 3))
    p[2, 3] = 1.0
    p[4, 4] = -0.5
    c = evolution.crop_to_signal(p, margin=0)
    assert c.shape == (3, 3, 3) and np.abs(c).sum() == np.abs(p).sum()
    assert evolution.crop_to_signal(np.zeros((4, 4, 3))).shape == (4, 4, 3)
    big = np.ones((6, 6, 3))
    assert evolution.crop_to_signal(big, margin=3).shape == (6, 6, 3)
