"""SGD with a learning-rate multiplier per layer (Caffe's ``lr_mult``).

The first layer of a small network trained for a few thousand steps keeps most of its random
initialization: its gradient is small next to the He-normal draw, and the noise it leaves is
what a picture of the filters shows. Starting conv1 small and letting it learn faster (a
multiplier on its learning rate, as Caffe's ``lr_mult`` gives per layer) lets what the data
teaches dominate the filters within a CPU budget.
"""

from __future__ import annotations

import keras


def layer_of(variable) -> str:
    """The name of the layer a weight belongs to: the last component of its path before the
    variable name (``conv1`` for ``zfnet/conv1/kernel`` and ``outer/conv1/bias``; ``""`` for a
    path without one)."""
    parts = variable.path.split("/")
    return parts[-2] if len(parts) > 1 else ""


@keras.saving.register_keras_serializable(package="zfkeras")
class LayerwiseSGD(keras.optimizers.SGD):
    """``keras.optimizers.SGD`` whose step for a layer's variables is multiplied by that layer's
    entry in ``multipliers`` (``{"conv1": 10.0}``; layers not named keep 1).

    With SGD (and momentum) scaling a variable's gradient by ``m`` is the same as scaling its
    learning rate by ``m``; the decoupled weight decay keeps the base rate. A layer is matched by
    the last component of its variables' path before the variable name (``conv1/kernel`` and
    ``outer/conv1/bias`` both belong to ``conv1``).

    Raises:
        TypeError/ValueError: ``multipliers`` is not a dict of layer name -> positive number.
    """

    def __init__(self, multipliers: dict | None = None, **kwargs):
        multipliers = dict(multipliers or {})
        for name, m in multipliers.items():
            if not isinstance(name, str) or isinstance(m, bool) or not isinstance(m, (int, float)):
                raise TypeError(f"multipliers must map layer names to numbers, got {name!r}: {m!r}")
            if not m > 0:
                raise ValueError(f"multipliers[{name!r}] must be > 0, got {m!r}")
        super().__init__(**kwargs)
        self.multipliers = {k: float(v) for k, v in multipliers.items()}
        self._scales = None

    def _scale_of(self, variable) -> float:
        layer = layer_of(variable)
        return self.multipliers.get(layer, 1.0) if layer else 1.0

    def build(self, variables):
        super().build(variables)
        self._scales = [self._scale_of(v) for v in variables]

    def apply(self, grads, trainable_variables=None):
        if self.multipliers:
            scales = (
                self._scales
                if trainable_variables is None
                else [self._scale_of(v) for v in trainable_variables]
            )
            grads = [g if g is None or s == 1.0 else g * s for g, s in zip(grads, scales)]
        return super().apply(grads, trainable_variables)

    def get_config(self):
        return {**super().get_config(), "multipliers": dict(self.multipliers)}
