"""Central-difference gradient checking, the oracle for every backward pass."""
import numpy as np


def numerical_gradient(loss, array, eps=1e-3):
    """d loss() / d array by the five-point central difference, perturbing `array` in place one
    element at a time: (-f(+2e) + 8 f(+e) - 8 f(-e) + f(-2e)) / 12e. Its error is O(e^4), so a
    large step keeps float64 rounding small too: both stay near 1e-12 absolute, which lets even
    gradient elements near 1e-6 be checked to a relative 1e-6."""
    grad = np.zeros_like(array)
    flat, grad_flat = array.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        saved = flat[k]
        values = []
        for step in (2, 1, -1, -2):
            flat[k] = saved + step * eps
            values.append(loss())
        flat[k] = saved
        # Differences first: a loss that does not depend on the element gives exactly 0.
        grad_flat[k] = (8 * (values[1] - values[2]) - (values[0] - values[3])) / (12 * eps)
    return grad


def max_relative_error(analytic, numeric):
    """max |a - n| / max(|a| + |n|, 1e-8) over all elements (cs231n's measure)."""
    return float(np.max(np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), 1e-8)))
