"""Solutions to chapter 12's exercises (how far filters move, when they settle, snapshots), and
the mistakes they catch."""

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


class _SnapshotsOfVariable(Snapshots):
    def on_epoch_end(self, epoch, logs=None):
        self.snapshots.append(self.model.get_layer(self.layer_name).kernel)  # no copy


class _SnapshotsEveryBatch(Snapshots):
    def on_train_batch_end(self, batch, logs=None):
        super().on_epoch_end(batch, logs)


class _SnapshotsAtEpochStart(Snapshots):
    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        pass


ANSWERS = {"12.1": relative_change, "12.2": settle_epoch, "12.3": Snapshots}

MISTAKES = {
    "12.1": [
        lambda before, after: np.sqrt(
            np.sum((after - before) ** 2, axis=(1, 2, 3)) / np.sum(before**2, axis=(1, 2, 3))
        ),  # the first axis taken for the filters
        lambda before, after: relative_change(before, after) ** 2,  # squared norms
        lambda before, after: np.sqrt(np.sum((after - before) ** 2, axis=(0, 1, 2))),  # absolute
    ],
    "12.2": [
        lambda changes, tol: next((e for e, c in enumerate(changes) if c < tol), len(changes)),
        # the first dip under tol: it may rise again
        lambda changes, tol: max(settle_epoch(changes, tol) - 1, 0),  # the last epoch above tol
        lambda changes, tol: settle_epoch([c - 1e-12 for c in changes], tol),  # tol itself below
    ],
    "12.3": [
        _SnapshotsOfVariable,  # the variable itself: every snapshot shows the latest kernel
        _SnapshotsEveryBatch,  # a snapshot every batch, not every epoch
        _SnapshotsAtEpochStart,  # taken before each epoch trains
    ],
}
