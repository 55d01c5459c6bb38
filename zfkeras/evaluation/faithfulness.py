"""Sanity checks for explanations: cascading model randomization (Adebayo, Gilmer, Muelly,
Goodfellow, Hardt & Kim, "Sanity Checks for Saliency Maps", NeurIPS 2018).

An explanation that stays the same when the model's weights are replaced by random ones does
not explain the model. :func:`randomization_test` re-initializes the layers with weights from
the top (output side) down, cumulatively, and measures after each step how alike the
explanation still is to the original one (Spearman rank correlation of absolute values, SSIM:
:mod:`zfkeras.evaluation.similarity`).

The explanations (:func:`explain`, one 2-D map per image) come from the twelve methods of
:mod:`zfkeras.methods` that register themselves (:mod:`zfkeras.methods.registry`), named in
:data:`METHODS`: the three projections of the class score
(before the softmax) down to the image, :func:`zfkeras.methods.cam.class_projection` with
``mode`` ``"backprop"`` (the gradient), ``"guided"`` or ``"deconvnet"`` (paper section 2.1),
which use the one implementation of the ReLU rules (:mod:`zfkeras.methods.deconvnet.rules`);
``"gradcam"`` and ``"guided_gradcam"``; ``"occlusion"``; and, each under its function's name
with its defaults, ``"smoothgrad"``, ``"integrated_gradients"``, ``"gradcam_plus_plus"``,
``"layercam"``, ``"scorecam"`` and ``"rise"``. Other settings: pass a callable, for instance
``functools.partial(zfkeras.rise, samples=500)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from zfkeras.evaluation.similarity import normalize, spearman, ssim
from zfkeras.methods import checks, registry
from zfkeras.methods.cache import all_layers, clear_cache
from zfkeras.methods.checks import BATCH_SIZE, SEED, VERBOSE

METHODS = tuple(registry.METHODS)
"""The names of the registered methods (:mod:`zfkeras.methods.registry`), as ``explain`` takes
them."""


PASS_BELOW = 0.5
"""The course's pass mark for the randomization check: a method passes when the Spearman rank
correlation of its maps with the trained network's stays below 0.5 once the classifier (or
more) is re-initialized, its whole 95% interval below (chapters 09, 11 and 17). Adebayo et al.
show the curves and name no threshold; 0.5 is this course's choice."""


def _method(method):
    """``method``: a registered name or a callable (returned as given)."""
    if not (callable(method) or (isinstance(method, str) and method in registry.METHODS)):
        raise ValueError(
            f"method must be one of {tuple(registry.METHODS)} or a callable (model, images, "
            f"class_index) -> maps, got {method!r}"
        )
    return method


def cascade_layers(model: keras.Model) -> list:
    """The layers :func:`randomization_test` re-initializes, in its order: every layer with
    trainable weights, from the output side down (nested models are entered, not counted
    themselves). Step ``i`` of the cascade, seeded ``seed + i``, re-initializes entry ``i - 1``.

    Raises:
        TypeError: ``model`` is not a Keras model.
    """
    leaves = reversed(list(all_layers(checks.check_model(model))))
    return [lay for lay in leaves if lay.trainable_weights and not isinstance(lay, keras.Model)]


def explain(
    model: keras.Model,
    images,
    method: str | Callable,
    class_index=None,
    *,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
) -> np.ndarray:
    """2-D explanation maps of the class score, one per image.

    Args:
        model: a single-input classifier.
        images: model inputs ``(N, H, W, C)``.
        method: one of :data:`METHODS`, or a callable ``(model, images, class_index) -> maps``
            returning ``(N, h, w)`` or ``(N, h, w, C)``.
        class_index: ``None`` (the predicted class), an int, or one int per image.
        batch_size: model inputs per compiled pass.
        verbose: ``"auto"``, 0 or 1 (the methods' progress bars).

    Returns:
        ``(N, h, w)`` float32: image size for every method but ``"occlusion"`` (the grid of
        occluder positions: patch ``max(1, round(min(H, W) / 8))`` px, stride half of it; the
        value is the drop of the class probability). Channels are reduced by the sum of
        absolute values (projections, Guided Grad-CAM, callables returning 4-D maps).

    Raises:
        TypeError/ValueError: bad model, images, method, class_index, batch_size or verbose.
    """
    x = checks.images(checks.check_model(model), images)
    checks.batch_size(batch_size)
    checks.verbose(verbose)
    cls = checks.predicted_classes(model, x, class_index, batch_size=batch_size)
    if callable(_method(method)):
        maps = np.asarray(method(model, x, cls), np.float32)
    else:
        run = registry.METHODS[method]
        maps = np.asarray(run(model, x, cls, batch_size=batch_size, verbose=verbose), np.float32)
    if maps.ndim == 4:
        maps = np.abs(maps).sum(-1)
    if maps.ndim != 3 or len(maps) != len(x) or not np.all(np.isfinite(maps)):
        raise ValueError(
            f"method {method!r} must return finite (N, h, w) or (N, h, w, C) maps "
            f"with N = {len(x)}, got shape {maps.shape}"
        )
    return maps.astype(np.float32)


def reinitialize(layer, *, seed: int = SEED) -> None:
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


@dataclass(frozen=True)
class Randomization:
    """What :func:`randomization_test` measured.

    Attributes:
        layers: ``("original", name of the layer randomized at each step, ...)``.
        spearman: float64 ``(steps,)``, mean over images of the Spearman rank correlation of the
            absolute maps with the original explanation (1 at step 0 by definition).
        ssim: float64 ``(steps,)``, mean SSIM of the absolute maps scaled to [0, 1].
        maps: float32 ``(steps, N, h, w)``, the 2-D explanations.
    """

    layers: tuple[str, ...]
    spearman: np.ndarray
    ssim: np.ndarray
    maps: np.ndarray


def randomization_test(
    model: keras.Model,
    images,
    method: str | Callable,
    class_index=None,
    *,
    cascade: bool = True,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
    seed: int = SEED,
) -> Randomization:
    """Model-parameter randomization test (Adebayo et al., 2018).

    Works on a clone (``keras.models.clone_model`` + the original weights): ``model`` itself
    is never changed, and the clone is released at the end. The layers with trainable weights
    are re-initialized from the output side down with their own initializers (see
    :func:`reinitialize`), step ``i`` seeded by ``seed + i``: cumulatively (``cascade=True``:
    after step ``i`` the top ``i`` layers are random) or one at a time (``cascade=False``: the
    others keep their trained weights). The class explained stays the original model's
    (``class_index=None``: its top class per image).

    Args:
        model: a single-input classifier (clonable: custom layers need ``get_config``).
        images: model inputs ``(N, H, W, C)``.
        method: see :func:`explain`.
        class_index: ``None``, an int, or one int per image.
        cascade: cumulative (True) or independent (False) randomization.
        batch_size: model inputs per compiled pass.
        verbose: ``"auto"``, 0 or 1: one progress bar over the steps.
        seed: seed of the re-initialization.

    Returns:
        A :class:`Randomization`.

    Raises:
        TypeError/ValueError: bad model, images, method, class_index, batch_size, verbose or
            seed.
    """
    x = checks.images(checks.check_model(model), images)
    verbose = checks.verbose(verbose)
    batch_size = checks.batch_size(batch_size)
    seed = checks.seed(seed)
    _method(method)
    cls = checks.predicted_classes(model, x, class_index, batch_size=batch_size)
    clone = keras.models.clone_model(model)
    original = model.get_weights()
    clone.set_weights(original)
    layers = cascade_layers(clone)
    quiet = {"batch_size": batch_size, "verbose": 0}
    first = explain(clone, x, method, cls, **quiet)
    names, rho, sim, maps = ["original"], [1.0], [1.0], [first]
    ref = np.abs(first)
    bar = checks.Progress(len(layers), verbose=verbose, unit_name="layer")
    for step, layer in enumerate(layers, start=1):
        if not cascade:
            clone.set_weights(original)
        reinitialize(layer, seed=seed + step)
        m = explain(clone, x, method, cls, **quiet)
        names.append(layer.name)
        rho.append(float(spearman(ref, np.abs(m)).mean()))
        sim.append(float(ssim(normalize(ref), normalize(np.abs(m))).mean()))
        maps.append(m)
        bar.update(step)
    clear_cache(clone)
    return Randomization(tuple(names), np.array(rho), np.array(sim), np.stack(maps))
