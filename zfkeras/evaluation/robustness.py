"""How much of a picture's effect on its unit survives small transforms (chapter 08).

A feature visualization that drives its unit only pixel-exact is an adversarial pattern, not a
feature. The natural number, the activation after random transforms divided by the activation
before, is unstable: a picture that barely drives its unit (an activation near 0) divides by
almost nothing (the course printed 5156%). :func:`activation_change` measures the change
instead in units of what the unit does on natural images, which never vanishes.
"""

from __future__ import annotations

import numpy as np


def activation_change(own, moved, reference) -> float:
    """The mean change of each unit's activation under transforms, in units of ``reference``.

    ``mean_u (moved_u - own_u) / reference_u``: 0 when the transforms leave the activations as
    they were, -1 when they take away as much as the unit's reference activation (for example
    its strongest mean activation on any natural image), positive when the moved pictures drive
    the units harder. Unlike ``moved / own`` it stays finite and small when ``own`` is near 0.

    Args:
        own: ``(U,)`` each unit's activation on its picture.
        moved: ``(U,)`` or ``(D, U)`` the activation on transformed copies (averaged over ``D``).
        reference: ``(U,)`` positive, each unit's scale.

    Raises:
        ValueError: shapes that do not match, non-finite values, or a reference <= 0.
    """
    own = np.asarray(own, np.float64)
    moved = np.asarray(moved, np.float64)
    ref = np.asarray(reference, np.float64)
    moved = moved.mean(0) if moved.ndim == 2 else moved
    if own.ndim != 1 or moved.shape != own.shape or ref.shape != own.shape or not len(own):
        raise ValueError(
            f"own, moved and reference must be (U,) (moved may be (D, U)), got shapes "
            f"{np.shape(own)}, {np.shape(moved)} and {np.shape(reference)}"
        )
    if not (np.all(np.isfinite(own)) and np.all(np.isfinite(moved)) and np.all(np.isfinite(ref))):
        raise ValueError("own, moved and reference must be finite, got NaN or inf values")
    if np.any(ref <= 0):
        raise ValueError(f"reference must be positive for every unit, got {ref.min()}")
    return float(np.mean((moved - own) / ref))
