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
    schedule = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=10)  # 2 steps per epoch
    model.compile(keras.optimizers.SGD(schedule), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    data = rng.normal(size=(16, 12, 12, 3)).astype("float32")
    cb = evolution.FeatureEvolution(
        data[:6], epochs=[2, 1, 4], layers=["conv1", "conv2"], channels=3, store_size=8
    )
    weights = []  # every layer's weights before training and after each epoch, kept by hand
    keep = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: weights.append(model.get_weights()),
        on_epoch_end=lambda epoch, logs: weights.append(model.get_weights()),
    )
    model.fit(data, np.arange(16) % 2, epochs=5, batch_size=8, verbose=0, callbacks=[keep, cb])
    return model, cb, data, weights


def test_snapshots_at_exactly_the_requested_epochs(run):
    cb = run[1]
    assert sorted(cb.snapshots) == [1, 2, 4]
    snap = cb.snapshots[4]
    assert list(snap.layers) == ["conv1", "conv2"]
    assert snap.layers["conv1"].projection.shape == (3, 8, 8, 3)
    assert snap.layers["conv2"].channel.shape == (3,) and snap.conv1_kernel.shape == (3, 3, 3, 4)


def test_strongest_image_is_found(run):
    model, cb, data, _ = run
    acts = keras.Model(model.inputs, model.get_layer("conv2").output).predict(data[:6], verbose=0)
    snap = cb.snapshot()  # the final weights
    conv2 = snap.layers["conv2"]
    ch = conv2.channel
    np.testing.assert_array_equal(conv2.image, acts.max((1, 2))[:, ch].argmax(0))
    np.testing.assert_allclose(conv2.value, acts.max((1, 2))[:, ch].max(0), rtol=1e-5)


def test_save_load_round_trip(run, tmp_path):
    cb = run[1]
    cb.save(tmp_path / "s.npz")
    back = evolution.load_snapshots(tmp_path / "s.npz").snapshots
    assert list(back) == [1, 2, 4]
    for e in back:
        ours, theirs = cb.snapshots[e].layers["conv2"], back[e].layers["conv2"]
        p, q = ours.projection, theirs.projection
        assert np.abs(p - q).max() <= np.abs(p).max() / 127 + 1e-6  # int8 quantization
        np.testing.assert_array_equal(theirs.image, ours.image)
        np.testing.assert_array_equal(theirs.value, ours.value)
        kernel = cb.snapshots[e].conv1_kernel
        np.testing.assert_array_equal(back[e].conv1_kernel, kernel.astype(np.float16))


def _snap(vectors):
    p = np.asarray(vectors, np.float32).reshape(1, 1, 2, 1)
    return evolution.Snapshot(np.zeros(1), {"c": evolution.LayerSnapshot(np.array([0]), p)})


def test_stabilization_by_hand():
    snaps = {1: _snap([1, 0]), 2: _snap([0, 1]), 3: _snap([0, 2]), 5: _snap([0.1, 1])}
    s = evolution.stabilization(snaps, threshold=0.1, aligned=False).layers["c"]
    assert s.epochs == [2, 3, 5]
    np.testing.assert_allclose(s.change, [1, 0, 1 - 1 / np.sqrt(1.01)], atol=1e-6)
    assert s.stable_from == 2
    assert evolution.stabilization(snaps, 0.001, aligned=False).layers["c"].stable_from is None


def test_stabilization_keeps_each_units_change():
    def two(u, v):  # two units, each a (1, 2, 1) projection
        p = np.asarray([u, v], np.float32).reshape(2, 1, 2, 1)
        layer = evolution.LayerSnapshot(np.array([0, 1]), p)
        return evolution.Snapshot(np.zeros(1), {"c": layer})

    snaps = {1: two([1, 0], [1, 1]), 2: two([0, 1], [1, 1]), 4: two([0, 3], [-1, -1])}
    s = evolution.stabilization(snaps, aligned=False).layers["c"]
    np.testing.assert_allclose(s.unit_change, [[1, 0], [0, 2]], atol=1e-6)  # 1 - cos per unit
    np.testing.assert_allclose(s.change, [0.5, 1.0], atol=1e-6)  # their means


def test_trace_by_hand(run):
    model, cb, _, weights = run
    assert cb.trace["epoch"] == [1, 2, 3, 4, 5]
    lr = [0.1 * 0.5 * (1 + np.cos(np.pi * 2 * e / 10)) for e in range(5)]  # at each start
    np.testing.assert_allclose(cb.trace["lr"], lr, atol=1e-7)
    for name in ("conv1", "conv2"):
        k = [i for i, w in enumerate(model.weights) if w.path.startswith(name + "/")]
        flat = [np.concatenate([np.ravel(w[i]) for i in k]) for w in weights]
        by_hand = [np.sqrt(np.sum((b - a) ** 2) / np.sum(a**2)) for a, b in zip(flat, flat[1:])]
        np.testing.assert_allclose(cb.trace["weight_change"][name], by_hand, rtol=1e-5)
    assert cb.trace["weight_change"]["conv1"][-1] > 0


def test_trace_round_trip(run, tmp_path):
    cb = run[1]
    cb.save(tmp_path / "s.npz")
    back = evolution.load_trace(tmp_path / "s.npz")
    np.testing.assert_array_equal(back["epoch"], cb.trace["epoch"])
    np.testing.assert_allclose(back["lr"], cb.trace["lr"], rtol=1e-6)
    np.testing.assert_allclose(
        back["weight_change"]["conv2"], cb.trace["weight_change"]["conv2"], rtol=1e-6
    )
    assert list(evolution.load_snapshots(tmp_path / "s.npz").snapshots) == [1, 2, 4]
    evolution.save_snapshots(cb.snapshots, tmp_path / "old.npz")  # a file without a trace
    assert evolution.load_trace(tmp_path / "old.npz") is None
    fig = figures.weight_change_figure(back, lr_fraction=0.5)
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    assert len(fig.axes[0].patches) == 2  # epochs 4 and 5 start below half the peak rate


def test_stabilization_ignores_intervals_without_learning_rate():
    # changes 1 (epochs 1-2), 1 (2-3), 0 (3-5); the rate has decayed to nothing after epoch 3
    snaps = {1: _snap([1, 0]), 2: _snap([0, 1]), 3: _snap([1, 0]), 5: _snap([1, 0])}
    lr = {1: 0.1, 2: 0.1, 3: 0.05, 4: 0.001, 5: 0.0}
    assert evolution.stabilization(snaps, 0.1, aligned=False).layers["c"].stable_from == 3
    s = evolution.stabilization(snaps, 0.1, aligned=False, lr=lr, lr_fraction=0.1).layers["c"]
    assert s.counted == [True, True, False] and s.stable_from is None
    s = evolution.stabilization(snaps, 0.1, aligned=False, lr=lr, lr_fraction=0.005).layers["c"]
    assert s.counted == [True, True, True] and s.stable_from == 3
    with pytest.raises(ValueError, match="epochs \\[4\\]"):
        evolution.stabilization(snaps, lr={1: 0.1, 2: 0.1, 3: 0.1, 5: 0.1})
    with pytest.raises(ValueError, match="lr_fraction"):
        evolution.stabilization(snaps, lr=lr, lr_fraction=2)


def test_stabilization_aligned_ignores_position():
    def snap(r, c, image):
        p = np.zeros((1, 12, 12, 3), np.float32)
        p[0, r : r + 3, c : c + 3] = [[1, -1, 1]] * 3
        c = evolution.LayerSnapshot(np.array([0]), p, image=np.array([image]))
        return evolution.Snapshot(np.zeros(1), {"c": c})

    snaps = {1: snap(2, 2, 4), 2: snap(6, 5, 9)}  # away from the border: same crop
    s = evolution.stabilization(snaps).layers["c"]
    assert s.change[0] == pytest.approx(0, abs=1e-6) and s.jumps == [1.0]
    assert evolution.stabilization(snaps, aligned=False).layers["c"].change[0] == pytest.approx(1)


def test_figure(run):
    cb = run[1]
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
