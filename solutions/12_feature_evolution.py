"""Solutions to chapter 12's exercises (how far filters move, when they settle, snapshots)."""

import keras
import numpy as np


def relative_change(before, after):
    axes = tuple(range(before.ndim - 1))
    return np.sqrt(np.sum((after - before) ** 2, axis=axes) / np.sum(before**2, axis=axes))


def settle_epoch(changes, tol):
    epoch = len(changes)
    while epoch > 0 and changes[epoch - 1] < tol:
        epoch -= 1
    return epoch


class Snapshots(keras.callbacks.Callback):
    def __init__(self, layer_name):
        super().__init__()
        self.layer_name, self.snapshots = layer_name, []

    def on_epoch_end(self, epoch, logs=None):
        kernel = self.model.get_layer(self.layer_name).kernel
        self.snapshots.append(np.array(keras.ops.convert_to_numpy(kernel)))


ANSWERS = {"12.1": relative_change, "12.2": settle_epoch, "12.3": Snapshots}
