import warnings

import keras
import numpy as np
import pytest

import zfkeras
from zfkeras import figures
from zfkeras.methods import activations, filters


def tiny(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(inp)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="out")(x))


@pytest.fixture(scope="module")
def model():
    return tiny()


def mean_act(model, layer, x):
    return activations.activation_model(model, [layer])(x)[layer].numpy().mean(axis=(1, 2))


def test_ascent_increases_the_target_filter(model):
    fs = [0, 2, 5, 7]
    start = filters.visualize_filters(model, "c2", channels=fs, steps=1, learning_rate=1e-9)
    out = filters.visualize_filters(model, "c2", channels=fs, steps=30)
    a0, a1 = mean_act(model, "c2", start), mean_act(model, "c2", out)
    for i, f in enumerate(fs):
        # a wrong-sign step would drive the activation down to zero
        assert a1[i, f] > 10 * a0[i, f] + 0.05, (f, a0[i, f], a1[i, f])
        # pattern i excites its own filter more than the other patterns do
        others = [a1[j, f] for j in range(len(fs)) if j != i]
        assert a1[i, f] > max(others), (f, a1[:, f])


def test_regularized_increases_and_stays_in_range(model):
    out = filters.visualize_filters(
        model, "c2", channels=[1, 3], steps=25, recipe="regularized", input_range=(-1.0, 1.0)
    )
    start = filters.visualize_filters(
        model, "c2", channels=[1, 3], steps=1, learning_rate=1e-9, input_range=(-1.0, 1.0)
    )
    a0, a1 = mean_act(model, "c2", start), mean_act(model, "c2", out)
    assert a1[0, 1] > 5 * a0[0, 1] + 0.02 and a1[1, 3] > 5 * a0[1, 3] + 0.02
    assert out.min() >= -1 and out.max() <= 1 and np.isfinite(out).all()


def test_batched_equals_one_by_one_and_seeded(model):
    both = filters.visualize_filters(model, "c2", channels=[4, 6], steps=10, seed=3)
    alone = filters.visualize_filters(model, "c2", channels=6, steps=10, seed=3)
    assert both.shape == (2, 16, 16, 3) and alone.shape == (1, 16, 16, 3)
    np.testing.assert_allclose(both[1], alone[0], atol=1e-5)
    np.testing.assert_array_equal(
        both, filters.visualize_filters(model, "c2", channels=[4, 6], steps=10, seed=3)
    )
    assert not np.allclose(
        both, filters.visualize_filters(model, "c2", channels=[4, 6], steps=10, seed=4)
    )


def test_batch_size_and_no_old_keywords(model):
    ref = filters.visualize_filters(
        model, "c2", channels=[0, 3, 5], steps=4, seed=1, recipe="regularized"
    )
    chunked = filters.visualize_filters(
        model,
        "c2",
        channels=[0, 3, 5],
        steps=4,
        seed=1,
        recipe="regularized",
        batch_size=2,
        verbose=0,
    )
    np.testing.assert_allclose(chunked, ref, atol=1e-6)
    with pytest.raises(TypeError, match="filters"):
        filters.visualize_filters(model, "c2", steps=4, filters=[0, 3, 5])


def test_dead_filter_is_flat_with_a_warning():
    m = tiny(1)
    k, b = m.get_layer("c1").get_weights()
    k[..., 2], b[2] = 0.0, -1.0
    m.get_layer("c1").set_weights([k, b])
    with pytest.warns(RuntimeWarning, match=r"channels \[2\].*dead"):
        out = filters.visualize_filters(m, "c1", channels=[2, 3], steps=5, recipe="regularized")
    assert np.isfinite(out).all() and out[0].std() == 0 and out[1].std() > 0


def test_default_filters_size_and_nested():
    inner = tiny(2)
    outer = keras.Sequential([keras.Input((16, 16, 3)), inner])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = filters.visualize_filters(outer, "c1", steps=3, size=24)
    assert out.shape == (6, 24, 24, 3)
    np.testing.assert_allclose(
        out, filters.visualize_filters(inner, "c1", steps=3, size=24), atol=1e-5
    )
    assert zfkeras.visualize_filters is filters.visualize_filters


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(model="m"), TypeError, "model must be a keras.Model"),
        (dict(layer=3), TypeError, "layer must be a layer name"),
        (dict(layer="nope"), ValueError, "must name a layer.*'nope'"),
        (dict(layer="out"), ValueError, "4-D.*'out'"),
        (dict(channels=[8]), ValueError, r"channels must be in \[0, 8\) for layer 'c2', got \[8\]"),
        (dict(channels="a"), TypeError, "channels must be None, an int or a non-empty sequence"),
        (dict(channels=[]), TypeError, "channels must be"),
        (dict(channels=[1], filters=[2]), TypeError, "unexpected keyword argument 'filters'"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive int, got 0"),
        (dict(verbose="yes"), ValueError, "verbose must be 'auto', 0 or 1"),
        (dict(recipe="fancy"), ValueError, "recipe must be one of.*'fancy'"),
        (dict(steps=0), ValueError, r"^steps must be an int >= 1, got 0$"),
        (dict(steps=2.0), TypeError, "steps must be an int, got float"),
        (dict(seed=-1), ValueError, r"^seed must be an int in \[0, 2147483647\], got -1$"),
        (dict(seed=1.5), TypeError, r"^seed must be an int, got float 1.5$"),
        (dict(size=4), ValueError, "size must be.*4"),
        (dict(input_range=(1, 0)), ValueError, "input_range"),
    ],
)
def test_errors(model, kwargs, error, match):
    args = dict(model=model, layer="c2", steps=2) | kwargs
    with pytest.raises(error, match=match):
        filters.visualize_filters(**args)


def test_high_frequency_share_and_figure():
    checker = (np.indices((16, 16)).sum(0) % 2).astype(np.float32)[None, :, :, None]
    smooth = np.sin(np.linspace(0, np.pi, 16))[None, :, None, None] * np.ones((1, 16, 16, 1))
    flat = np.ones((1, 16, 16, 1))
    share = filters.high_frequency_share(np.concatenate([checker, smooth, flat]))
    np.testing.assert_allclose(share, [1.0, 0.0, 0.0], atol=0.02)
    fig = figures.patterns_figure({"a": np.zeros((3, 8, 8, 3)), "b": np.ones((2, 8, 8, 3))})
    assert len(fig.axes) == 6
    with pytest.raises(ValueError, match="patterns must be"):
        filters.high_frequency_share(np.zeros((8, 8)))
