"""Solutions to chapter 01's exercises (the ZFNet architecture), and the mistakes they catch."""


def conv_output_size(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


def input_size(stack, out):
    side = out
    for kernel, stride in reversed(stack):  # from the top down
        side = (side - 1) * stride + kernel
    return side


def _input_size_upwards(stack, out):
    side = out
    for kernel, stride in stack:
        side = (side - 1) * stride + kernel
    return side


def _receptive_field_only(stack, out):
    return input_size(stack, 1)


def _kernel_per_unit(stack, out):
    side = out
    for kernel, stride in reversed(stack):
        side = side * stride + kernel - 1
    return side


ANSWERS = {
    "01.1": conv_output_size,
    "01.2": 5 * 5 * 48 * 128 + 128,
    "01.3": input_size,
}

MISTAKES = {
    "01.1": [
        lambda size, kernel, stride, pad: (size + 2 * pad - kernel) // stride,  # no first window
        lambda size, kernel, stride, pad: -(-(size + 2 * pad - kernel) // stride) + 1,  # ceil
        lambda size, kernel, stride, pad: (size + pad - kernel) // stride + 1,  # one side padded
    ],
    "01.2": [
        (5 * 5 * 96 * 256 + 256) // 2,  # halving the width halves the parameters (it quarters)
        5 * 5 * 48 * 128,  # the biases forgotten
        5 * 5 * 96 * 256 + 256,  # the paper-size count read off the summary
    ],
    "01.3": [
        _input_size_upwards,  # walked from the input up: the order of the layers ignored
        _receptive_field_only,  # the receptive field: the extra units cost nothing
        _kernel_per_unit,  # each extra unit costs a kernel, not a stride
    ],
}
