"""Solutions to chapter 01's exercises (the ZFNet architecture)."""


def conv_output_size(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


def receptive_field(stack):
    size, jump = 1, 1
    for kernel, stride in stack:
        size += (kernel - 1) * jump
        jump *= stride
    return size, jump


ANSWERS = {
    "01.1": conv_output_size,
    "01.2": 5 * 5 * 96 * 256 + 256,
    "01.3": receptive_field,
}
