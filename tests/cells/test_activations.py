"""The exp and the gate nonlinearities the kernels are built on, against NumPy (the per-step
products are tests/cells/test_recurrence.py's)."""
import numba
import numpy as np
import pytest

from seqkit.cells.activations import exp_nonpositive, sigmoid, tanh

ULP = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}


@numba.njit
def apply(function, x):
    out = np.empty_like(x)
    one = x.dtype.type(1)
    for k in range(x.size):
        out[k] = function(x[k], one)
    return out


@numba.njit
def exp_of(x, one):
    return exp_nonpositive(x)


def arguments(dtype, low):
    rng = np.random.default_rng(0)
    x = np.concatenate([-np.logspace(-30, np.log10(-low), 20000), rng.uniform(low, 0, 20000),
                        [0.0, -0.0, -1e-300 if dtype == np.float64 else -1e-40, low]])
    return x.astype(dtype)


@pytest.mark.parametrize("dtype, low, max_ulps", [(np.float32, -87.0, 1.0), (np.float64, -708.0, 1.5)])
def test_exp_nonpositive_is_within_an_ulp_or_so(dtype, low, max_ulps):
    x = arguments(dtype, low)
    ours = apply(exp_of, x).astype(np.longdouble)
    exact = np.exp(x.astype(np.longdouble))
    ulps = np.abs(ours - exact) / np.spacing(exact.astype(dtype)).astype(np.longdouble)
    assert np.max(ulps) <= max_ulps
    assert apply(exp_of, np.array([0.0], dtype))[0] == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_nonpositive_edges(dtype):
    out = apply(exp_of, np.array([-1e4, -np.inf, np.nan], dtype))
    tiny = np.finfo(dtype).tiny
    assert 0 <= out[0] <= 1.01 * tiny and 0 <= out[1] <= 1.01 * tiny  # the smallest normal at most
    assert np.isnan(out[2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_tanh_match_numpy_and_never_overflow(dtype):
    x = np.concatenate([np.linspace(-30, 30, 10001), [-1e4, 1e4, -1e-8, 1e-8, 0.0]]).astype(dtype)
    exact = x.astype(np.longdouble)
    ours_sigmoid, ours_tanh = apply(sigmoid, x), apply(tanh, x)
    exact_sigmoid = 1 / (1 + np.exp(-exact))
    # Relative error within 3 ulp where the value is normal; the tanh formula is exact to one
    # ulp of 1 in absolute terms, as tanh(0) = 0 allows.
    normal = exact_sigmoid > np.finfo(dtype).tiny
    assert np.max(np.abs(ours_sigmoid - exact_sigmoid)[normal] / exact_sigmoid[normal]) <= 3 * ULP[dtype]
    assert np.max(np.abs(ours_tanh - np.tanh(exact))) <= 2 * ULP[dtype]
    assert np.all((ours_sigmoid >= 0) & (ours_sigmoid <= 1)) and np.all(np.abs(ours_tanh) <= 1)
    assert np.isnan(apply(sigmoid, np.array([np.nan], dtype))[0])
    assert np.isnan(apply(tanh, np.array([np.nan], dtype))[0])
