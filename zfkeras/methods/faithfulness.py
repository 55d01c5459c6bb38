"""Sanity checks for explanations: cascading model randomization (Adebayo, Gilmer, Muelly,
Goodfellow, Hardt & Kim, "Sanity Checks for Saliency Maps", NeurIPS 2018) and the pointing
game (Zhang et al., 2016) for the maps of every method.

An explanation that stays the same when the model's weights are replaced by random ones does
not explain the model. :func:`randomization_test` re-initializes the layers with weights from
the top (output side) down, cumulatively, and measures after each step how alike the
explanation still is to the original one (Spearman rank correlation of absolute values, SSIM).

Methods (``explain``): ``"gradcam"`` and ``"guided_gradcam"`` (:mod:`zfkeras.cam`),
``"occlusion"`` (:func:`zfkeras.occlusion_sensitivity`) and three projections of the class
score (before the softmax) down to the image: ``"backprop"`` (the gradient), ``"guided"``
(guided backpropagation) and ``"deconvnet"`` (paper section 2.1: the ReLU passes the positive
part of the signal coming down). ``zfkeras.Deconvnet`` projects one unit of a convolutional
chain and stops below ``Flatten``/``Dense``; to project a class score through the classifier
these three are gradients with every ReLU's backward rule replaced (``tf.custom_gradient``), the
max pooling switches and transposed convolutions being the gradient's own. They work on any
model whose ReLUs are ``relu`` activations of layers or plain ``ReLU`` layers (other layers pass
the gradient).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from zfkeras.methods import cam, checks
from zfkeras.methods.occlusion import occlusion_sensitivity
from zfkeras.methods.pointing import peak_scores
from zfkeras.methods.similarity import normalize, spearman, ssim
from zfkeras.models import pre_softmax

METHODS = ("deconvnet", "guided", "backprop", "gradcam", "guided_gradcam", "occlusion")


def _rule_relu(rule: str):
    @tf.custom_gradient
    def relu(x):
        def grad(dy):
            up = tf.nn.relu(dy)  # deconvnet: only the positive part of the signal goes down
            return up * tf.cast(x > 0, dy.dtype) if rule == "guided" else up

        return tf.nn.relu(x), grad

    relu.__name__ = f"relu_{rule}"
    return relu


def _leaves(model) -> list:
    out = []
    for layer in model.layers:
        out.extend(_leaves(layer) if isinstance(layer, keras.Model) else [layer])
    return out


@contextlib.contextmanager
def _relu_rule(model, rule: str):
    """Every ReLU of ``model`` (layer activations, plain ``ReLU`` layers) with ``rule``'s
    backward pass while inside; restored on exit."""
    fn, undo = _rule_relu(rule), []
    try:
        for layer in _leaves(model):
            act = getattr(layer, "activation", None)
            if getattr(act, "__name__", "") == "relu":
                layer.activation = fn
                undo.append((layer, "activation", act))
            elif (
                isinstance(layer, keras.layers.ReLU)
                and layer.max_value is None
                and not layer.negative_slope
                and not layer.threshold
            ):
                layer.call = fn
                undo.append((layer, "call", None))
        yield
    finally:
        for layer, name, old in undo:
            if old is None:
                del layer.__dict__[name]
            else:
                setattr(layer, name, old)


def _projection(model, images, cls, rule, batch_size):
    def make():
        logits = pre_softmax(model)

        @tf.function(
            input_signature=[
                tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32),
                tf.TensorSpec((None,), tf.int32),
            ]
        )
        def run(x, c):
            with tf.GradientTape() as tape:
                tape.watch(x)
                score = tf.reduce_sum(tf.gather(logits(x, training=False), c, axis=1, batch_dims=1))
            return tape.gradient(score, x)

        return run

    run = checks.cached(model, ("faithfulness", rule), make)
    guard = _relu_rule(model, rule) if rule != "backprop" else contextlib.nullcontext()
    with guard:
        return np.concatenate(
            [
                run(tf.constant(images[b], tf.float32), tf.constant(cls[b], tf.int32)).numpy()
                for b in checks.batches(len(images), batch_size)
            ]
        )


def explain(
    model: keras.Model, images, class_index, method: str | Callable, batch_size: int = 64
) -> np.ndarray:
    """2-D explanation maps of the class score, one per image.

    Args:
        model: a single-input classifier.
        images: model inputs ``(N, H, W, C)``.
        class_index: ``(N,)`` ints, the class explained for each image.
        method: one of :data:`METHODS`, or a callable ``(model, images, class_index) -> maps``
            returning ``(N, h, w)`` or ``(N, h, w, C)``.
        batch_size: images per compiled pass (projection methods).

    Returns:
        ``(N, h, w)`` float32: image size for every method but ``"occlusion"`` (the grid of
        occluder positions: patch ``max(1, round(min(H, W) / 8))`` px, stride half of it; the
        value is the drop of the class probability). Channels are reduced by the sum of
        absolute values (projections, Guided Grad-CAM, callables returning 4-D maps).
    """
    x = np.asarray(images, np.float32)
    cls = np.asarray(class_index, np.int32)
    if callable(method):
        maps = np.asarray(method(model, x, cls), np.float32)
    elif method in ("deconvnet", "guided", "backprop"):
        maps = _projection(model, x, cls, method, batch_size)
    elif method == "gradcam":
        maps = cam.gradcam(model, x, cls, batch_size=batch_size)
    elif method == "guided_gradcam":
        maps = cam.guided_gradcam(model, x, cls, batch_size=batch_size)
    elif method == "occlusion":
        patch = max(1, round(min(x.shape[1:3]) / 8))
        maps = []
        for img, c in zip(x, cls):
            r = occlusion_sensitivity(model, img, patch, max(1, patch // 2), int(c), batch_size=128)
            maps.append(r["base_probability"] - r["probability"])
        maps = np.stack(maps)
    else:
        raise ValueError(
            f"method must be one of {METHODS} or a callable (model, images, "
            f"class_index) -> maps, got {method!r}"
        )
    if maps.ndim == 4:
        maps = np.abs(maps).sum(-1)
    if maps.ndim != 3 or len(maps) != len(x) or not np.all(np.isfinite(maps)):
        raise ValueError(
            f"method {method!r} must return finite (N, h, w) or (N, h, w, C) maps "
            f"with N = {len(x)}, got shape {maps.shape}"
        )
    return maps.astype(np.float32)


def reinitialize(layer, seed: int) -> None:
    """Draw ``layer``'s weights again from its own initializers (``kernel_initializer`` for
    ``kernel``, ``gamma_initializer`` for ``gamma``, ...) seeded by ``seed``. A variable without
    an initializer attribute gets normal noise with the mean and standard deviation of its
    current values; integer variables (seed-generator states) are left alone."""
    rng = np.random.default_rng(seed)
    for j, v in enumerate(layer.weights):
        if not np.issubdtype(np.dtype(v.dtype), np.floating):
            continue
        init = getattr(layer, f"{v.name}_initializer", None)
        if init is not None:
            init = keras.initializers.get(init)
            cfg = init.get_config()
            if "seed" in cfg:
                cfg["seed"] = seed * 1009 + j
            value = np.asarray(type(init).from_config(cfg)(tuple(v.shape), dtype=v.dtype))
        else:
            old = np.asarray(v)
            value = rng.normal(old.mean(), old.std(), old.shape)
        v.assign(value.astype(np.dtype(v.dtype)))


def _check(model, images) -> np.ndarray:
    checks.check_model(model)
    return checks.images(model, images)


def predicted_classes(
    model: keras.Model, images, class_index=None, batch_size: int = checks.BATCH_SIZE
) -> np.ndarray:
    """``(N,)`` int32: ``class_index`` broadcast to the images, or the model's top class.

    Raises ``TypeError``/``ValueError`` as :func:`zfkeras.methods.checks.class_index`."""
    x = _check(model, images)
    batch_size = checks.batch_size(batch_size)
    c = checks.class_index(class_index, len(x), int(model.outputs[0].shape[-1]))
    if class_index is None:
        c = np.argmax(model.predict(x, batch_size=batch_size, verbose=0), -1).astype(np.int32)
    return c


def randomization_test(
    model: keras.Model,
    method: str | Callable,
    images,
    class_index=None,
    cascade: bool = True,
    seed: int = 0,
    *,
    verbose: int = 1,
) -> dict:
    """Model-parameter randomization test (Adebayo et al., 2018).

    Works on a clone (``keras.models.clone_model`` + the original weights): ``model`` itself
    is never changed. The layers with trainable weights are re-initialized from the output
    side down with their own initializers (see :func:`reinitialize`), step ``i`` seeded by
    ``seed + i``: cumulatively (``cascade=True``: after step ``i`` the top ``i`` layers are
    random) or one at a time (``cascade=False``: the others keep their trained weights). The
    class explained stays the original model's (``class_index=None``: its top class per image).

    Args:
        model: a single-input classifier (clonable: custom layers need ``get_config``).
        method: see :func:`explain`.
        images: model inputs ``(N, H, W, C)``.
        class_index: ``None``, an int, or one int per image.
        cascade: cumulative (True) or independent (False) randomization.
        seed: seed of the re-initialization.
        verbose: 1 shows a progress bar over the steps (more than three layers).

    Returns:
        A dict: ``layers`` (``["original", name of the layer randomized at each step]``),
        ``spearman`` and ``ssim`` (float64 ``(steps,)``: mean over images of the Spearman rank
        correlation of the absolute maps, and of the SSIM of the absolute maps scaled to
        [0, 1], with the original explanation; 1 at step 0 by definition) and ``maps``
        (float32 ``(steps, N, h, w)``, the 2-D explanations).

    Raises:
        TypeError/ValueError: bad model, method, images or class_index.
    """
    x = _check(model, images)
    verbose = checks.verbose(verbose)
    if not (callable(method) or method in METHODS):
        raise ValueError(
            f"method must be one of {METHODS} or a callable (model, images, "
            f"class_index) -> maps, got {method!r}"
        )
    cls = predicted_classes(model, x, class_index)
    clone = keras.models.clone_model(model)
    original = model.get_weights()
    clone.set_weights(original)
    layers = [layer for layer in reversed(_leaves(clone)) if layer.trainable_weights]
    first = explain(clone, x, cls, method)
    names, rho, sim, maps = ["original"], [1.0], [1.0], [first]
    ref = np.abs(first)
    bar = checks.Progress(len(layers), verbose if len(layers) > 3 else 0, unit_name="layer")
    for step, layer in enumerate(layers, start=1):
        if not cascade:
            clone.set_weights(original)
        reinitialize(layer, seed + step)
        m = explain(clone, x, cls, method)
        names.append(layer.name)
        rho.append(float(spearman(ref, np.abs(m)).mean()))
        sim.append(float(ssim(normalize(ref), normalize(np.abs(m))).mean()))
        maps.append(m)
        bar.update(step)
    return {
        "layers": names,
        "spearman": np.array(rho),
        "ssim": np.array(sim),
        "maps": np.stack(maps),
    }


def pointing_game(maps, masks, tolerance: int = 0) -> np.ndarray:
    """The pointing game for the maps of any method: does the peak lie on the object?

    Unlike :func:`zfkeras.methods.cam.pointing_game` (one peak per map, the first argmax),
    every pixel holding the map's maximum counts: the score of an image is the fraction of its
    peak pixels that lie within ``tolerance`` pixels (square window) of the mask, so a map
    whose maximum is a plateau is not judged by an arbitrary pixel of it. With a single peak
    the score is that function's hit (0 or 1). A flat map (no peak) scores 0. Both are
    :func:`zfkeras.methods.pointing.peak_scores`.

    Args:
        maps: ``(N, H, W)``, or ``(N, H, W, C)`` reduced by the sum of absolute values over
            channels; the size of the masks.
        masks: ``(N, H, W)`` bool object masks.
        tolerance: int >= 0.

    Returns:
        ``(N,)`` float64 in [0, 1]; its mean is the hit rate.
    """
    m = np.asarray(maps, np.float64)
    masks = np.asarray(masks)
    if m.ndim == 4:
        m = np.abs(m).sum(-1)
    if masks.ndim != 3 or masks.dtype != bool:
        raise ValueError(
            f"masks must be (N, H, W) bool, got shape {masks.shape} dtype {masks.dtype}"
        )
    if m.shape != masks.shape:
        raise ValueError(
            f"maps must be (N, H, W) or (N, H, W, C) with (N, H, W) = "
            f"{masks.shape} (the masks), got shape {np.shape(maps)}"
        )
    if not np.all(np.isfinite(m)):
        raise ValueError("maps must be finite, got NaN or inf values")
    if not isinstance(tolerance, (int, np.integer)) or tolerance < 0:
        raise ValueError(f"tolerance must be an int >= 0, got {tolerance!r}")
    return peak_scores(m, masks, int(tolerance))


def __getattr__(name: str):
    """``deletion_curve``, ``insertion_curve`` and ``Curve`` live in
    :mod:`zfkeras.methods.deletion`; they are part of this module's public face too."""
    if name in {"Curve", "deletion_curve", "insertion_curve"}:
        from zfkeras.methods import deletion

        return getattr(deletion, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
