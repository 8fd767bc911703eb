"""The flat gradient buffer: every parameter's gradient as an aligned view of one array, so that
processes (seqkit.training.group) sum them all in a single call and each starts on a cache line."""
import numpy as np

GRADIENT_ALIGNMENT = 64  # bytes: each gradient in the flat buffer starts on a cache line


def _aligned_size(array):
    """Elements an array's gradient takes in the flat buffer: its own, rounded up to a cache line."""
    return -(-array.nbytes // GRADIENT_ALIGNMENT) * GRADIENT_ALIGNMENT // array.itemsize


def gradient_buffer_size(parameters):
    """Elements of a flat buffer that holds a gradient for each parameter, each aligned."""
    return sum(_aligned_size(array) for array in parameters.values())


def aligned_zeros(size, dtype):
    """A zeroed 1-d array of `size` whose first element starts on a cache line."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros(size + GRADIENT_ALIGNMENT // itemsize, dtype)
    offset = (-raw.ctypes.data % GRADIENT_ALIGNMENT) // itemsize
    return raw[offset:offset + size]


def gradient_views(parameters, buffer):
    """Zeroed views of buffer shaped like each parameter, in order, one after another: every
    gradient lives in the one flat array, which processes sum in a single call."""
    views, start = {}, 0
    for name, array in parameters.items():
        views[name] = buffer[start:start + array.size].reshape(array.shape)
        views[name][...] = 0
        start += _aligned_size(array)
    return views
