"""Solutions to chapter 07's exercises (backprop, deconvnet and guided backprop at a ReLU), and
the mistakes they catch."""

import numpy as np


def relu_backward(x, grad, mode):
    if mode == "backprop":
        return grad * (x > 0)
    if mode == "deconvnet":
        return np.maximum(grad, 0)
    if mode == "guided":
        return np.maximum(grad, 0) * (x > 0)
    raise ValueError(f"mode must be 'backprop', 'deconvnet' or 'guided', got {mode!r}")


def guided(x, w1, w2, j):
    h = x @ w1
    return relu_backward(h, w2[:, j], "guided") @ w1.T


def _deconvnet_reads_x(x, grad, mode):
    if mode == "deconvnet":
        return grad * (x > 0)
    return relu_backward(x, grad, mode)


def _guided_is_deconvnet(x, grad, mode):
    return relu_backward(x, grad, "deconvnet" if mode == "guided" else mode)


def _old_words(x, grad, mode):
    if mode == "gradient":
        return grad * (x > 0)
    return relu_backward(x, grad, mode) if mode != "backprop" else None


ANSWERS = {"07.1": relu_backward, "07.2": {"backprop", "guided"}, "07.3": guided}

MISTAKES = {
    "07.1": [
        lambda x, grad, mode: grad * (x > 0),  # backprop for every mode
        _deconvnet_reads_x,  # the deconvnet gated by the forward input
        _guided_is_deconvnet,  # guided without its forward gate
        _old_words,  # the old word "gradient" instead of "backprop"
    ],
    "07.2": [
        {"backprop", "guided", "deconvnet"},  # the projection depends on the image, so its rule
        # was taken to read x: the rule at one ReLU confused with the whole projection
        {"deconvnet"},  # the question read backwards: the one mode that ignores x
        {"backprop"},  # guided's forward gate forgotten
        "guided",  # backprop's gate forgotten
    ],
    "07.3": [
        lambda x, w1, w2, j: (w2[:, j] * (x @ w1 > 0)) @ w1.T,  # the plain gradient
        lambda x, w1, w2, j: np.maximum(w2[:, j], 0) @ w1.T,  # the deconvnet: no forward gate
        lambda x, w1, w2, j: np.maximum(w2[:, j] @ w1.T, 0) * (x > 0),  # gated at the input
    ],
}
