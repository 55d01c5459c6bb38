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
    array,
    close_array,
    close_number,
    each_case,
    function,
    rng,
    yours,
)
from zfkeras.exercises.registry import exercise

# --- 12 · feature evolution ----------------------------------------------------------------


@exercise(
    "12.1",
    "Implement relative_change(before, after): each filter's |after - before| / |before|",
    "Check the shape you return, one number per filter, and which axis of the kernel "
    "indexes the filters.",
    "Each filter is the slice of the kernel along its last axis: compare the length of its "
    "change with the length of the filter before, both over the three other axes.",
)
def _(answer):
    fn = function(answer, "relative_change(before, after) -> (filters,)")
    gen = rng(seed=121)
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
    "Run your function on the case in the message by hand: does the change rise above tol "
    "after the epoch you return?",
    "The first dip under tol is not enough: the layer has settled only from the epoch after "
    "which it never rises above tol again; when it never settles the answer is the number of "
    "epochs.",
)
def _(answer):
    fn = function(answer, "settle_epoch(changes, tol) -> int")
    cases = [[0.5, 0.05, 0.3, 0.08, 0.04, 0.02], [0.5, 0.4, 0.3], [0.01, 0.02], [0.3, 0.09, 0.2]]
    cases.append([0.3, 0.1, 0.05, 0.02])  # a change equal to tol is not below it

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
    "Compare your first and your last snapshot after training: are they different arrays "
    "with different values?",
    "At the end of every epoch store a copy of the layer's kernel values: the variable itself "
    "keeps changing, so storing it keeps only its latest values, again and again.",
)
def _(answer):
    fn = function(answer, "Snapshots(layer_name) -> keras.callbacks.Callback")
    callback = fn("conv1")
    if not isinstance(callback, keras.callbacks.Callback):
        raise Wrong(f"Snapshots(...) should make a keras.callbacks.Callback, got {type(callback)}")
    gen = rng(seed=123)
    model = _trainable(123)
    x, y = gen.normal(size=(16, 6, 6, 1)), gen.normal(size=(16, 2))  # two batches per epoch
    with yours("training with your callback"):
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
    first = array(snaps[0], kernel.shape, what="the first snapshot")
    moved = np.abs(first - array(snaps[-1], kernel.shape, what="the last snapshot")).max()
    if moved == 0:
        return False, "the first and the last snapshot are equal: store copies, not the variable"
    return True, f"3 snapshots; the kernel moved by up to {moved:.3g} between the first and last"


# --- 14 · architecture selection -----------------------------------------------------------


@exercise(
    "14.1",
    "Implement renormalize(kernel, radius): scale every filter whose RMS exceeds radius down to it",
    "Look at the filters the message names: were they above the radius before?",
    "Measure every filter's root mean square over its own weights (the last axis indexes "
    "filters); only the filters above the radius are scaled down to it, the others stay as "
    "they are (Zeiler & Fergus 2014, Sec. 3).",
)
def _(answer):
    fn = function(answer, "renormalize(kernel, radius) -> same shape")
    kernel = rng(seed=141).normal(size=(7, 7, 3, 6)) * np.array([0.02, 0.05, 0.09, 0.2, 0.5, 1.0])
    expected = kernel.copy()
    for f in range(6):
        rms = np.sqrt(np.mean(kernel[..., f] ** 2))
        if rms > 0.1:
            expected[..., f] *= 0.1 / rms
    return close_array(fn(kernel.copy(), 0.1), expected, atol=1e-8, what="renormalized kernel")


@exercise(
    "14.2",
    "Implement dead_filters(outputs, fraction): filters whose ReLU output is zero that often",
    "Count one filter's zeros by hand and compare the share with the fraction: is the "
    "boundary case included?",
    "A filter is dead when its share of zeros over all images and positions reaches the "
    "fraction; only the filter axis (the last one) survives.",
)
def _(answer):
    fn = function(answer, "dead_filters(outputs, fraction) -> (filters,) bool")
    gen = rng(seed=142)
    outputs = np.maximum(gen.normal(size=(6, 5, 5, 8)) - np.linspace(-0.5, 2.5, 8), 0)
    boundary = np.zeros(150)  # filter 2: exactly 144 zeros of 150, a share of 0.96
    boundary[gen.choice(150, 6, replace=False)] = gen.uniform(0.5, 1.0, size=6)
    outputs[..., 2] = boundary.reshape(6, 5, 5)
    flat = outputs.reshape(-1, 8)
    expected = np.array([np.mean(flat[:, f] == 0) >= 0.96 for f in range(8)])
    return close_array(fn(outputs.copy(), 0.96), expected, atol=0, rtol=0, what="dead flags")


@exercise(
    "14.3",
    "How many times the multiply-adds of an 11x11/4 conv1 does the 7x7/2 one cost (224 px, 96 "
    "filters)?",
    "Compute each layer's output side first (chapter 01's formula), then the multiply-adds of "
    "one output position.",
    "A convolution's multiply-adds are its output positions times the work at each: the "
    "window's area, times the input channels, times the filters. Only the positions and the "
    "window change between the two layers.",
)
def _(answer):
    cost = []
    for kernel, stride, pad in ((7, 2, 1), (11, 4, 0)):
        layer = keras.layers.Conv2D(96, kernel, strides=stride)
        side = layer.compute_output_shape((1, 224 + 2 * pad, 224 + 2 * pad, 3))[1]
        cost.append(side * side * kernel * kernel * 3 * 96)
    return close_number(answer, cost[0] / cost[1], rtol=0.005, what="cost ratio", reveal=False)


# --- 16 · ablation and generalization ------------------------------------------------------


@exercise(
    "16.1",
    "Implement freeze_through(model, name): freeze every layer up to and including `name`",
    "Print every layer's trainable flag after your function: is the named layer itself "
    "frozen, and are the layers after it trainable?",
    "Walk the layers in order: everything up to the named layer, that layer included, stops "
    "training; everything after it trains, even if it was frozen before.",
)
def _(answer):
    fn = function(answer, "freeze_through(model, name)")
    model = _trainable(161)
    names = [layer.name for layer in model.layers]
    model.layers[-1].trainable = False  # frozen before: after the call it must train
    fn(model, "conv1")
    expected = [names.index(n) > names.index("conv1") for n in names]
    got = [bool(layer.trainable) for layer in model.layers]
    if got == expected:
        return True, "layers through conv1 frozen, the rest trainable"
    return False, f"trainable flags {dict(zip(names, got))}, expected {dict(zip(names, expected))}"


@exercise(
    "16.2",
    "Implement few_shot(labels, per_class, seed): indices of `per_class` images of every class",
    "Count the classes of the images you picked, and look for repeated indices.",
    "For every class, find the positions of its images and draw the wanted number of them "
    "without replacement, with one generator seeded by the seed argument.",
)
def _(answer):
    fn = function(answer, "few_shot(labels, per_class, seed) -> indices")
    labels = rng(seed=162).integers(0, 5, size=60)  # about 12 per class: draws may repeat
    got = fn(labels.copy(), 6, 0)
    try:
        idx = np.asarray(got)
    except Exception as err:
        raise Wrong(f"return a 1-D array of integer indices, got {type(got).__name__}") from err
    if idx.ndim != 1 or not len(idx) or not np.issubdtype(idx.dtype, np.integer):
        raise Wrong(f"return a 1-D array of integer indices, got {idx.dtype} of shape {idx.shape}")
    if len(set(idx.tolist())) != len(idx) or idx.min() < 0 or idx.max() >= len(labels):
        return False, "indices must be distinct and inside the label array"
    counts = np.bincount(labels[idx], minlength=5)
    if not np.all(counts == 6):
        return False, f"images per class {counts.tolist()}, expected 6 each"
    again, other = (np.asarray(fn(labels.copy(), 6, seed)) for seed in (0, 1))
    if again.shape != idx.shape or not np.array_equal(np.sort(again), np.sort(idx)):
        return False, "the same seed gave another draw: use the seed argument, not a global state"
    if other.shape == idx.shape and np.array_equal(np.sort(other), np.sort(idx)):
        return False, "seeds 0 and 1 picked the same images: the draw should be random"
    return True, f"{len(idx)} distinct indices, 6 per class, one draw per seed"


@exercise(
    "16.3",
    "How many parameters do fc6 and fc7 hold together in ZFNet (6x6x256 inputs, 4096 units)?",
    "Count each layer alone: how many inputs, how many units, and what else each unit has.",
    "A dense layer connects every input to every unit and gives each unit a bias; fc6's "
    "inputs are the flattened pool5 maps. Removing both is the paper's first ablation "
    "(Table 3).",
)
def _(answer):
    total = 0
    for inputs in (6 * 6 * 256, 4096):
        layer = keras.layers.Dense(4096, kernel_initializer="zeros")
        layer.build((None, inputs))
        total += layer.count_params()
    return close_number(answer, total, rtol=0, atol=0.5, what="parameters", reveal=False)
