"""The one bilinear upsampling matrix, against np.interp (an independent interpolation)."""

import numpy as np
import pytest

from zfkeras.methods import upsampling


@pytest.mark.parametrize(
    "c0, stride, n, size", [(1.5, 4.0, 3, 12), (0.0, 2.0, 4, 7), (3.0, 5.0, 1, 9)]
)
def test_cell_weights_hold_and_fade(c0, stride, n, size):
    centres = c0 + stride * np.arange(n)
    pixels = np.arange(size)
    hold = upsampling.cell_weights(c0, stride, n, size, hold=True)
    fade = upsampling.cell_weights(c0, stride, n, size, hold=False)
    assert hold.shape == fade.shape == (size, n) and hold.dtype == np.float32
    for i in range(n):
        one = np.eye(n)[i]
        np.testing.assert_allclose(hold[:, i], np.interp(pixels, centres, one), atol=1e-6)
        edges = np.concatenate([[c0 - stride], centres, [centres[-1] + stride]])
        want = np.interp(pixels, edges, np.concatenate([[0], one, [0]]), left=0, right=0)
        np.testing.assert_allclose(fade[:, i], want, atol=1e-6)


def test_hat_is_the_bilinear_weight():
    w = upsampling.hat(np.array([[0.25, 2.0]]), 3)
    np.testing.assert_allclose(w, [[[0.75, 0.25, 0.0], [0.0, 0.0, 1.0]]])
