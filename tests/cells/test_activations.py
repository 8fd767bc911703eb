"""The exp, the gate nonlinearities and the per-step products the kernels are built on, against
NumPy."""
import numba
import numpy as np
import pytest

from seqkit.cells.activations import (
    TURNED_GRADIENT_BATCHES,
    TURNED_GRADIENT_SIZE,
    exp_nonpositive,
    gradient_product,
    hidden_product,
    sigmoid,
    tanh,
    weight_for_gradient,
)

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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_per_step_products_equal_numpy_whichever_way_round_they_run(dtype):
    """hidden_product and gradient_product run turned round at some batches and weight sizes;
    at each, on both sides of every threshold, they give the plain product."""
    rng = np.random.default_rng(0)
    low, high = TURNED_GRADIENT_BATCHES
    for gates, hidden in ((4, 16), (4, 182)):  # weight_hh below and above TURNED_GRADIENT_SIZE
        weight_hh = rng.standard_normal((gates * hidden, hidden)).astype(dtype)
        for batch in (1, low - 1, low, 32, 63, high, high + 1):
            h, dgates = (rng.standard_normal(shape).astype(dtype) for shape in ((batch, hidden), (batch, gates * hidden)))
            gates_out, hidden_out = np.empty((batch, gates * hidden), dtype), np.empty((batch, hidden), dtype)
            hidden_product(h, weight_hh, gates_out)
            np.testing.assert_allclose(gates_out, h @ weight_hh.T, rtol=1e-5, atol=1e-4)
            weight_hh_t, product = weight_for_gradient(weight_hh, batch)
            turned = low <= batch <= high and weight_hh.size >= TURNED_GRADIENT_SIZE
            assert weight_hh_t.size == (weight_hh.size if turned else 0) and product.size == (batch * hidden if turned else 0)
            gradient_product(dgates, weight_hh, (weight_hh_t, product), hidden_out)
            np.testing.assert_allclose(hidden_out, dgates @ weight_hh, rtol=1e-5, atol=1e-4)
