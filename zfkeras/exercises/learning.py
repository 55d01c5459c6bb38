"""Exercises of chapters 12, 14 and 16: feature evolution, the first layer's design, ablation
and transfer.

References: NumPy loops and freshly built Keras layers (Zeiler & Fergus 2014, Sec. 3, 4.1,
5.1-5.2, Fig. 4 and 6, Tables 3-7).
"""

from __future__ import annotations

import keras
import numpy as np

from zfkeras.exercises.compare import (
    Wrong,
    close_array,
    close_number,
    each_case,
    function,
    rng,
)
from zfkeras.exercises.registry import exercise

# --- 12 · feature evolution ----------------------------------------------------------------


@exercise(
    "12.1",
    "Implement relative_change(before, after): each filter's |after - before| / |before|",
    "Filters are indexed by the last axis of a (k, k, C_in, filters) kernel: sum over the "
    "other three.",
)
def _(answer):
    fn = function(answer, "relative_change(before, after) -> (filters,)")
    gen = rng(121)
    before = gen.normal(size=(3, 3, 2, 5))
    after = before + gen.normal(scale=np.linspace(0.01, 1, 5), size=before.shape)
    expected = [
        np.sqrt(np.sum((after[..., f] - before[..., f]) ** 2) / np.sum(before[..., f] ** 2))
        for f in range(5)
    ]
    return close_array(fn(before.copy(), after.copy()), np.array(expected), what="changes")


@exercise(
    "12.2",
    "Implement settle_epoch(changes, tol): the first epoch from which every change stays below tol",
    "The first dip under tol is not enough: the layer has settled only if it never rises above "
    "tol again; return len(changes) when it never settles.",
)
def _(answer):
    fn = function(answer, "settle_epoch(changes, tol) -> int")
    cases = [[0.5, 0.05, 0.3, 0.08, 0.04, 0.02], [0.5, 0.4, 0.3], [0.01, 0.02], [0.3, 0.09, 0.2]]

    def compare(changes):
        expected = len(changes)
        for e in range(len(changes) - 1, -1, -1):
            if changes[e] >= 0.1:
                break
            expected = e
        return close_number(fn(list(changes), 0.1), expected, what=f"epoch for {changes}")

    return each_case(cases, compare)


def _trainable(seed: int) -> keras.Model:
    init = keras.initializers.GlorotUniform(seed=seed)
    x = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(2, 3, activation="relu", kernel_initializer=init, name="conv1")(x)
    z = keras.layers.Dense(2, kernel_initializer=init)(keras.layers.Flatten()(h))
    model = keras.Model(x, z)
    model.compile(keras.optimizers.SGD(0.5), "mse")
    return model


@exercise(
    "12.3",
    "Implement a Keras callback Snapshots(layer_name) that keeps the layer's kernel every epoch",
    "In on_epoch_end append a copy (np.array(layer.kernel), not the variable itself) to "
    "self.snapshots; the layer is self.model.get_layer(layer_name).",
)
def _(answer):
    fn = function(answer, "Snapshots(layer_name) -> keras.callbacks.Callback")
    callback = fn("conv1")
    if not isinstance(callback, keras.callbacks.Callback):
        raise Wrong(f"Snapshots(...) should make a keras.callbacks.Callback, got {type(callback)}")
    gen = rng(123)
    model = _trainable(123)
    x, y = gen.normal(size=(8, 6, 6, 1)), gen.normal(size=(8, 2))
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[callback])
    snaps = getattr(callback, "snapshots", None)
    if not isinstance(snaps, (list, tuple)) or len(snaps) != 3:
        raise Wrong(
            f"after 3 epochs callback.snapshots should be a list of 3 kernels, got {snaps!r}"[:200]
        )
    kernel = keras.ops.convert_to_numpy(model.get_layer("conv1").kernel)
    ok, msg = close_array(snaps[-1], kernel, what="the last snapshot")
    if not ok:
        return ok, msg
    moved = np.abs(np.asarray(snaps[0]) - np.asarray(snaps[-1])).max()
    if moved == 0:
        return False, "the first and the last snapshot are equal: store copies, not the variable"
    return True, f"3 snapshots; the kernel moved by up to {moved:.3g} between the first and last"


# --- 14 · architecture selection -----------------------------------------------------------


@exercise(
    "14.1",
    "Implement renormalize(kernel, radius): scale every filter whose RMS exceeds radius down to it",
    "RMS per filter (the last axis) over the other axes; filters under the radius stay as "
    "they are (Zeiler & Fergus 2014, Sec. 3).",
)
def _(answer):
    fn = function(answer, "renormalize(kernel, radius) -> same shape")
    kernel = rng(141).normal(size=(7, 7, 3, 6)) * np.array([0.02, 0.05, 0.09, 0.2, 0.5, 1.0])
    expected = kernel.copy()
    for f in range(6):
        rms = np.sqrt(np.mean(kernel[..., f] ** 2))
        if rms > 0.1:
            expected[..., f] *= 0.1 / rms
    return close_array(fn(kernel.copy(), 0.1), expected, atol=1e-8, what="renormalized kernel")


@exercise(
    "14.2",
    "Implement dead_filters(outputs, fraction): filters whose ReLU output is zero that often",
    "outputs has shape (images, height, width, filters): a filter is dead when its share of "
    "zeros over all images and positions is at least `fraction`.",
)
def _(answer):
    fn = function(answer, "dead_filters(outputs, fraction) -> (filters,) bool")
    outputs = np.maximum(rng(142).normal(size=(6, 5, 5, 8)) - np.linspace(-0.5, 2.5, 8), 0)
    flat = outputs.reshape(-1, 8)
    expected = np.array([np.mean(flat[:, f] == 0) >= 0.95 for f in range(8)])
    return close_array(fn(outputs.copy(), 0.95), expected, atol=0, rtol=0, what="dead flags")


@exercise(
    "14.3",
    "How many times the multiply-adds of an 11x11/4 conv1 does the 7x7/2 one cost (224 px, 96 "
    "filters)?",
    "Output size: 7x7/2 with padding 1 gives 110, 11x11/4 without padding gives 54; cost = "
    "output positions x kernel area x 3 x 96.",
)
def _(answer):
    cost = []
    for kernel, stride, pad in ((7, 2, 1), (11, 4, 0)):
        layer = keras.layers.Conv2D(96, kernel, strides=stride)
        side = layer.compute_output_shape((1, 224 + 2 * pad, 224 + 2 * pad, 3))[1]
        cost.append(side * side * kernel * kernel * 3 * 96)
    return close_number(answer, cost[0] / cost[1], rtol=0.005, what="cost ratio")


# --- 16 · ablation and generalization ------------------------------------------------------


@exercise(
    "16.1",
    "Implement freeze_through(model, name): freeze every layer up to and including `name`",
    "Walk model.layers in order, set trainable = False through the named layer (inclusive) and "
    "True after it.",
)
def _(answer):
    fn = function(answer, "freeze_through(model, name)")
    model = _trainable(161)
    names = [layer.name for layer in model.layers]
    fn(model, "conv1")
    expected = [names.index(n) > names.index("conv1") for n in names]
    got = [bool(layer.trainable) for layer in model.layers]
    if got == expected:
        return True, "layers through conv1 frozen, the rest trainable"
    return False, f"trainable flags {dict(zip(names, got))}, expected {dict(zip(names, expected))}"


@exercise(
    "16.2",
    "Implement few_shot(labels, per_class, seed): indices of `per_class` images of every class",
    "Draw per class, without replacement: np.random.default_rng(seed).choice(np.flatnonzero("
    "labels == c), per_class, replace=False).",
)
def _(answer):
    fn = function(answer, "few_shot(labels, per_class, seed) -> indices")
    labels = rng(162).integers(0, 5, size=200)
    idx = np.asarray(fn(labels.copy(), 6, 0))
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise Wrong(f"return a 1-D array of integer indices, got {idx.dtype} of shape {idx.shape}")
    if len(set(idx.tolist())) != len(idx) or idx.min() < 0 or idx.max() >= len(labels):
        return False, "indices must be distinct and inside the label array"
    counts = np.bincount(labels[idx], minlength=5)
    if np.all(counts == 6):
        return True, f"{len(idx)} distinct indices, 6 per class"
    return False, f"images per class {counts.tolist()}, expected 6 each"


@exercise(
    "16.3",
    "How many parameters do fc6 and fc7 hold together in ZFNet (6x6x256 inputs, 4096 units)?",
    "fc6: 9216 x 4096 weights + 4096 biases; fc7: 4096 x 4096 + 4096. Removing them is the "
    "paper's first ablation (Table 3).",
)
def _(answer):
    total = 0
    for inputs in (6 * 6 * 256, 4096):
        layer = keras.layers.Dense(4096, kernel_initializer="zeros")
        layer.build((None, inputs))
        total += layer.count_params()
    return close_number(answer, total, rtol=0, atol=0.5, what="parameters")
