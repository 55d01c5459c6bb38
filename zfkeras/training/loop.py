"""The one training loop (paper section 3): :func:`fit` trains a recipe's model on images in
memory, for :func:`zfkeras.training.train` and the ablation, renorm and transfer experiments.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zfkeras import data as zdata
from zfkeras.training.pipeline import make_datasets, steps_for
from zfkeras.training.recipe import Recipe, build_model, compile_model


@contextlib.contextmanager
def seeded(*, seed: int = 0):
    """Python's ``random`` and NumPy's global generator seeded with ``seed`` inside the block,
    and put back as they were after it (on an exception too).

    Keras draws the seed of every initializer and dropout layer built without one from Python's
    ``random``; building a model in this block makes its weights and dropout masks a function
    of ``seed`` without reseeding anything for the caller (``keras.utils.set_random_seed``
    would leave Python, NumPy and TensorFlow reseeded).
    """
    saved_python, saved_numpy = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(saved_python)
        np.random.set_state(saved_numpy)


@dataclass(frozen=True)
class Fitted:
    """What :func:`fit` returns.

    Attributes:
        model: the trained model.
        mean: the per-pixel mean of the training images (the model's preprocessing).
        history: the ``keras.callbacks.History`` of the run (``history.history``: per epoch).
        seconds: wall time of ``model.fit``.
    """

    model: keras.Model
    mean: np.ndarray
    history: keras.callbacks.History
    seconds: float


def fit(
    recipe: Recipe,
    images,
    labels,
    validation=None,
    *,
    initial_model: keras.Model | None = None,
    num_classes: int | None = None,
    steps_per_epoch: int | None = None,
    callbacks=(),
    strategy: tf.distribute.Strategy | None = None,
    verbose: int | str = "auto",
) -> Fitted:
    """Train ``recipe``'s model on uint8 images in memory: the one training loop of
    :func:`train` and the ablation, renorm and transfer experiments.

    Every random draw comes from ``recipe.seed`` (a recipe names its run, seed included): the
    initial weights and the dropout masks (Keras draws their seeds from Python's ``random``,
    seeded with ``recipe.seed`` for the call and restored after it, see :func:`seeded`), the
    shuffle and the augmentation (:func:`make_datasets`); the global random generators are
    left as they were. Then the per-pixel mean of ``images``, the augmented pipelines,
    :func:`build_model` and :func:`compile_model` (SGD with warm-up and cosine decay), and
    ``model.fit`` for ``recipe.epochs``.

    Args:
        recipe: the :class:`Recipe`.
        images, labels: uint8 ``(N, H, W, 3)`` training images and int labels ``(N,)``.
        validation: optional ``(images, labels)`` evaluated (centre crop) after every epoch.
        initial_model: train this model (from its current weights) instead of
            ``build_model(recipe, num_classes)``.
        num_classes: default ``max(labels) + 1``.
        steps_per_epoch: fixed steps per epoch (the batches run on into the next pass over the
            images); default one pass.
        callbacks: Keras callbacks for ``model.fit``.
        strategy: a ``tf.distribute`` strategy to build the model under (default: none).
        verbose: ``model.fit``'s verbosity.

    Returns:
        A :class:`Fitted`.
    """
    with seeded(seed=recipe.seed):  # the weights' and dropout's seeds; restored after
        mean = zdata.per_pixel_mean(images)
        val = validation if validation is not None else (images[:1], labels[:1])
        train_ds, val_ds = make_datasets(recipe, images, labels, val[0], val[1], mean)
        steps = steps_per_epoch or steps_for(len(images), batch_size=recipe.batch_size)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model = initial_model
            if model is None:
                classes = num_classes if num_classes is not None else int(np.max(labels)) + 1
                model = build_model(recipe, classes)
            compile_model(model, recipe, steps)
        t0 = time.time()
        hist = model.fit(
            train_ds,  # endless: an epoch is `steps` batches, one pass unless steps_per_epoch
            epochs=recipe.epochs,
            steps_per_epoch=steps,
            validation_data=val_ds if validation is not None else None,
            callbacks=list(callbacks),
            verbose=verbose,
            shuffle=False,
        )
    return Fitted(model, mean, hist, round(time.time() - t0, 1))
