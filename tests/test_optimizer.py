"""LayerwiseSGD: per-layer learning-rate multipliers, checked against SGD written out by hand;
the photometric augmentation against its definition."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zfkeras import data as zdata
from zfkeras.training import LayerwiseSGD


def _model():
    keras.utils.set_random_seed(3)
    inp = keras.Input((4,))
    h = keras.layers.Dense(3, activation="relu", name="a")(inp)
    out = keras.layers.Dense(2, name="b")(h)
    return keras.Model(inp, out)


def test_steps_match_sgd_by_hand():
    model = _model()
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    y = np.random.default_rng(1).normal(size=(8, 2)).astype("float32")
    lr, mu, mult = 0.1, 0.9, {"a": 3.0}
    opt = LayerwiseSGD(mult, learning_rate=lr, momentum=mu)
    w = [v.numpy().copy() for v in model.trainable_variables]
    velocity = [np.zeros_like(v) for v in w]
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        # plain momentum SGD with the layer's rate multiplied, by hand
        for i, (v, g) in enumerate(zip(model.trainable_variables, grads)):
            m = mult.get(v.path.split("/")[0], 1.0)
            velocity[i] = mu * velocity[i] - lr * m * g.numpy()
            w[i] = w[i] + velocity[i]
        opt.apply(grads, model.trainable_variables)
        for v, ref in zip(model.trainable_variables, w):
            np.testing.assert_allclose(v.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_no_multiplier_is_sgd_and_config_round_trip():
    m1, m2 = _model(), _model()
    x = np.ones((2, 4), "float32")
    opts = [LayerwiseSGD(None, learning_rate=0.05), keras.optimizers.SGD(0.05)]
    for model, opt in zip((m1, m2), opts):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x))
        opt.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
    for a, b in zip(m1.trainable_variables, m2.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    opt = LayerwiseSGD({"conv1": 10}, learning_rate=0.01, momentum=0.9)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(again, LayerwiseSGD) and again.multipliers == {"conv1": 10.0}


@pytest.mark.parametrize(
    "mult, err, match",
    [
        ({"a": 0}, ValueError, r"multipliers\['a'\] must be > 0"),
        ({"a": "x"}, TypeError, "multipliers must map layer names to numbers"),
        ({1: 2.0}, TypeError, "multipliers must map layer names to numbers"),
    ],
)
def test_errors(mult, err, match):
    with pytest.raises(err, match=match):
        LayerwiseSGD(mult)


def test_photometric_batch():
    x = tf.random.stateless_normal([4, 9, 9, 3], [1, 2])
    seed = tf.constant([5, 6])
    np.testing.assert_array_equal(zdata.photometric_batch(x).numpy(), x.numpy())
    # colour jitter alone is an affine map per image and channel: y = g * x + o
    y = zdata.photometric_batch(x, colour_jitter=0.3, seed=seed).numpy()
    xs = x.numpy().reshape(4, -1, 3)
    for i in range(4):
        for c in range(3):
            g, o = np.polyfit(xs[i, :, c], y[i].reshape(-1, 3)[:, c], 1)
            assert 0.7 <= g <= 1.3
            np.testing.assert_allclose(y[i, ..., c], g * x.numpy()[i, ..., c] + o, atol=1e-4)
    # blur with probability 1 is the binomial filter (checked at an inner pixel)
    b = zdata.photometric_batch(x, blur=1.0, seed=seed).numpy()
    taps = np.array([1, 4, 6, 4, 1]) / 16
    ref = np.einsum("i,j,ijc->c", taps, taps, x.numpy()[0, 2:7, 2:7])
    np.testing.assert_allclose(b[0, 4, 4], ref, atol=1e-5)
    # two passes are the 9-tap binomial (1 8 28 56 70 56 28 8 1) / 256, worked out by hand
    b2 = zdata.photometric_batch(x, blur=1.0, seed=seed, blur_passes=2).numpy()
    taps9 = np.array([1, 8, 28, 56, 70, 56, 28, 8, 1]) / 256
    ref9 = np.einsum("i,j,ijc->c", taps9, taps9, x.numpy()[1, 0:9, 0:9])
    np.testing.assert_allclose(b2[1, 4, 4], ref9, atol=1e-5)
    # and smoother: less energy in the neighbour differences than one pass
    assert np.abs(np.diff(b2, axis=1)).mean() < np.abs(np.diff(b, axis=1)).mean()
    with pytest.raises(ValueError, match="blur_passes must be >= 1, got 0"):
        zdata.photometric_batch(x, blur=1.0, blur_passes=0)
    with pytest.raises(TypeError, match="blur_passes must be an int, got float"):
        zdata.photometric_batch(x, blur=1.0, blur_passes=1.5)
    with pytest.raises(ValueError, match="blur must be a probability"):
        zdata.photometric_batch(x, blur=2.0)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        zdata.photometric_batch(x, noise=-1.0)


def test_layer_of_names_the_layer_a_weight_belongs_to():
    from zfkeras.training.optimizer import layer_of

    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="conv1")], name="outer")
    model = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2, name="fc")])
    assert [layer_of(v) for v in model.weights] == ["conv1", "conv1", "fc", "fc"]
    assert layer_of(keras.Variable(1.0, name="lonely")) == ""


def test_hide_patches_hides_whole_grid_squares():
    # Hide-and-Seek: every square of the grid (from the top-left corner, the last row and column
    # narrower) is either untouched or all 0, checked square by square in a plain loop
    x = tf.random.stateless_normal([6, 37, 29, 3], [3, 4]) + 5.0  # no pixel is 0 by chance
    y = zdata.hide_patches(x, 0.5, 8, seed=tf.constant([1, 2])).numpy()
    xn = x.numpy()
    hidden = []
    for i in range(6):
        for r in range(0, 37, 8):
            for c in range(0, 29, 8):
                block, orig = y[i, r : r + 8, c : c + 8], xn[i, r : r + 8, c : c + 8]
                if (block == 0).all():
                    hidden.append(True)
                else:
                    np.testing.assert_array_equal(block, orig)
                    hidden.append(False)
    assert len(hidden) == 6 * 5 * 4
    assert 0.3 < np.mean(hidden) < 0.7  # 120 squares, each hidden with probability 0.5
    # the same seed gives the same squares; another seed other ones
    np.testing.assert_array_equal(y, zdata.hide_patches(x, 0.5, 8, seed=tf.constant([1, 2])))
    assert not np.array_equal(y, zdata.hide_patches(x, 0.5, 8, seed=tf.constant([1, 3])))
    # the hidden share follows the probability over many squares
    many = zdata.hide_patches(tf.ones([64, 64, 64, 1]), 0.25, 4, seed=7).numpy()
    assert abs((many == 0).mean() - 0.25) < 0.01
    np.testing.assert_array_equal(zdata.hide_patches(x, 0.0, 8).numpy(), xn)
    assert (zdata.hide_patches(x, 1.0, 8).numpy() == 0).all()


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"hide": 1.5}, ValueError, r"hide must be a probability in \[0, 1\], got 1.5"),
        ({"hide": -0.1}, ValueError, "hide must be a probability"),
        ({"hide": 0.5, "patch": 0}, ValueError, "patch must be >= 1 pixel, got 0"),
        ({"hide": 0.5, "patch": 4.0}, TypeError, "patch must be an int"),
    ],
)
def test_hide_patches_errors(kwargs, err, match):
    with pytest.raises(err, match=match):
        zdata.hide_patches(tf.zeros([1, 8, 8, 3]), **kwargs)


def test_pipeline_hides_patches_only_in_training():
    from zfkeras.training import Recipe
    from zfkeras.training.pipeline import make_datasets

    rng = np.random.default_rng(0)
    x = rng.integers(1, 255, (8, 32, 32, 3)).astype(np.uint8)
    y = np.arange(8) % 2
    mean = np.full((32, 32, 3), 300.0, np.float32)  # far from every pixel: no 0 but the hidden
    r = Recipe(
        dataset="shapes", image_size=32, crop_scale=1.0, batch_size=8, hide=0.5, hide_patch=8
    )
    train, test = make_datasets(r, x, y, x, y, mean)
    xb = next(iter(train))[0].numpy()
    zero = (xb == 0).all(-1)
    assert 0.2 < zero.mean() < 0.8
    blocks = zero.reshape(8, 4, 8, 4, 8).transpose(0, 1, 3, 2, 4).reshape(8, 16, 64)
    assert (blocks.all(-1) | ~blocks.any(-1)).all()  # whole 8x8 squares
    assert not (next(iter(test))[0].numpy() == 0).all(-1).any()  # testing hides nothing


def test_neutral_defaults_train_as_before_the_fields_existed():
    # a stored recipe without these fields is read back with their defaults (from_dict), and a
    # pipeline at those values must make the batches the fields' absence made (hide=0 is the
    # identity and leaves every other draw alone)
    from zfkeras.training import Recipe
    from zfkeras.training.pipeline import make_datasets

    assert set(Recipe.NEUTRAL_FIELDS) <= set(Recipe.__dataclass_fields__)
    read_back = Recipe.from_dict({"dataset": "shapes"})
    assert (read_back.hide, read_back.label_smoothing) == (0.0, 0.0)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, (8, 32, 32, 3)).astype(np.uint8)
    y = np.arange(8) % 2
    mean = x.mean(0).astype(np.float32)
    base = dict(
        dataset="shapes", image_size=32, batch_size=8, colour_jitter=0.2, noise=0.1, blur=0.5
    )
    a = next(iter(make_datasets(Recipe(**base), x, y, x, y, mean)[0]))[0].numpy()
    b = next(iter(make_datasets(Recipe(**base, hide_patch=5), x, y, x, y, mean)[0]))[0].numpy()
    np.testing.assert_array_equal(a, b)
    # and the same augmentation written out without the hiding step
    from zfkeras.training.pipeline import batch_seeds, shuffled_batches

    index = next(iter(shuffled_batches(8, batch_size=8, seed=0))).numpy()
    seed = next(iter(batch_seeds(seed=0)))
    ref = zdata.augment_batch(tf.gather(tf.constant(x), index), mean, 32, 1.125, seed=seed)
    ref = zdata.photometric_batch(ref, 0.2, 0.1, 0.5, seed=seed + 2).numpy()
    np.testing.assert_allclose(a, ref, atol=1e-6)


def test_smoothed_sparse_crossentropy_by_hand():
    from zfkeras.training.recipe import SmoothedSparseCrossentropy

    logits = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([0, 1])
    e = 0.3
    target = np.full((2, 3), e / 3)
    target[np.arange(2), labels] += 1 - e
    want = -(target * np.log(probs)).sum(1).mean()
    got = float(SmoothedSparseCrossentropy(e)(labels[:, None], probs))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    plain = float(keras.losses.SparseCategoricalCrossentropy()(labels, probs))
    np.testing.assert_allclose(
        float(SmoothedSparseCrossentropy(0.0)(labels, probs)), plain, rtol=1e-5
    )
    cfg = SmoothedSparseCrossentropy(e).get_config()
    assert SmoothedSparseCrossentropy.from_config(cfg).label_smoothing == e
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0, 1\), got 1.0"):
        SmoothedSparseCrossentropy(1.0)
