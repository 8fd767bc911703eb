"""The cells' gate math on vectors (seqkit.cells.lanes) against the scalar loops it replaced:
the same bits at every run length around the vector widths, every offset, both float types,
and across the nonlinearities' whole range (saturated, zero, subnormal, infinite, NaN)."""
import numba
import numpy as np
import pytest

from seqkit.cells import gru, lstm, rnn
from seqkit.cells.activations import sigmoid, tanh

SIZES = [1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65]


# The row loops the kernels ran before, Numba vectorizing them, kept as the reference.

@numba.njit
def sigmoid_of_biased(out, bias, one):
    for k in range(out.size):
        out[k] = sigmoid(out[k] + bias[k], one)


@numba.njit
def tanh_of_biased(out, bias, one):
    for k in range(out.size):
        out[k] = tanh(out[k] + bias[k], one)


@numba.njit
def scalar_activate(h, bias_hh, relu, lo, hi):
    one, zero = h.dtype.type(1), h.dtype.type(0)
    for b in range(h.shape[0]):
        for j in range(lo, hi):
            s = h[b, j] + bias_hh[j]
            h[b, j] = (s if s > zero else zero) if relu else tanh(s, one)


@numba.njit
def scalar_activation_gradients(dh, h, relu, dpre, lo, hi):
    zero, one = h.dtype.type(0), h.dtype.type(1)
    for b in range(h.shape[0]):
        for j in range(lo, hi):
            dpre[b, j] = (dh[b, j] if h[b, j] > zero else zero) if relu else dh[b, j] * (one - h[b, j] * h[b, j])


@numba.njit
def scalar_gates_to_state(gates, bias_hh, c_prev, c, h, lo, hi):
    H, one = c.shape[1], c.dtype.type(1)
    for b in range(gates.shape[0]):
        row = gates[b]
        sigmoid_of_biased(row[lo:hi], bias_hh[lo:hi], one)
        sigmoid_of_biased(row[H + lo:H + hi], bias_hh[H + lo:H + hi], one)
        tanh_of_biased(row[2 * H + lo:2 * H + hi], bias_hh[2 * H + lo:2 * H + hi], one)
        sigmoid_of_biased(row[3 * H + lo:3 * H + hi], bias_hh[3 * H + lo:3 * H + hi], one)
        for j in range(lo, hi):
            c[b, j] = row[H + j] * c_prev[b, j] + row[j] * row[2 * H + j]
            h[b, j] = row[3 * H + j] * tanh(c[b, j], one)


@numba.njit
def scalar_gate_gradients(gates, dgates, lo, hi, c_prev, c, dh, dc, dc_prev):
    H, one = c.shape[1], c.dtype.type(1)
    for b in range(gates.shape[0]):
        row, drow = gates[b], dgates[b]
        for j in range(lo, hi):
            i, f, g, o = row[j], row[H + j], row[2 * H + j], row[3 * H + j]
            tanh_c = tanh(c[b, j], one)
            dcj = dc[b, j] + dh[b, j] * o * (one - tanh_c * tanh_c)
            drow[j] = dcj * g * i * (one - i)
            drow[H + j] = dcj * c_prev[b, j] * f * (one - f)
            drow[2 * H + j] = dcj * i * (one - g * g)
            drow[3 * H + j] = dh[b, j] * tanh_c * o * (one - o)
            dc_prev[b, j] = dcj * f


@numba.njit
def vector_gate_gradients(gates, dgates, lo, hi, c_prev, c, dh, dc, dc_prev):
    for b in range(gates.shape[0]):
        lstm._gate_gradients_row(gates[b], dgates[b], c_prev[b], c[b], dh[b], dc[b], dc_prev[b], lo, hi)


@numba.njit
def scalar_gru_gates(cache, x, bias_hh, h_prev, h, lo, hi, add_rz_bias):
    H, one = h.shape[1], h.dtype.type(1)
    for b in range(h.shape[0]):
        row = cache[b]
        if add_rz_bias:
            sigmoid_of_biased(row[lo:hi], bias_hh[lo:hi], one)
            sigmoid_of_biased(row[H + lo:H + hi], bias_hh[H + lo:H + hi], one)
        for j in range(lo, hi):
            row[3 * H + j] += bias_hh[2 * H + j]
            row[2 * H + j] = tanh(x[b, 2 * H + j] + row[j] * row[3 * H + j], one)
            h[b, j] = (one - row[H + j]) * row[2 * H + j] + row[H + j] * h_prev[b, j]


@numba.njit
def scalar_gru_gradients(cache, dh, h_prev, dx, dhp, lo, hi):
    H, one = h_prev.shape[1], h_prev.dtype.type(1)
    for b in range(h_prev.shape[0]):
        row = cache[b]
        for j in range(lo, hi):
            r, z, n, hn = row[j], row[H + j], row[2 * H + j], row[3 * H + j]
            dx[b, 2 * H + j] = dh[b, j] * (one - z) * (one - n * n)
            dx[b, j] = dx[b, 2 * H + j] * hn * r * (one - r)
            dx[b, H + j] = dh[b, j] * (h_prev[b, j] - n) * z * (one - z)
            dhp[b, 2 * H + j] = dx[b, 2 * H + j] * r
            dhp[b, j], dhp[b, H + j] = dx[b, j], dx[b, H + j]


@numba.njit
def scalar_reset_path(cache, dh, dh_prev, lo, hi):
    H = dh.shape[1]
    for b in range(dh.shape[0]):
        for j in range(lo, hi):
            dh_prev[b, j] += dh[b, j] * cache[b, H + j]


def values(rng, shape, dtype):
    """Normal values at several scales, with the edges of the float type sprinkled in."""
    x = rng.standard_normal(shape) * rng.choice([0.01, 1.0, 5.0, 60.0], shape)
    edges = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e3, -1e3, np.finfo(dtype).tiny / 4, -1e-30], dtype)
    x.flat[rng.choice(x.size, min(x.size, 12), replace=False)] = rng.choice(edges, min(x.size, 12))
    return x.astype(dtype)


def assert_same_bits(ours, theirs):
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    kind = np.int32 if ours.dtype == np.float32 else np.int64
    assert np.array_equal(np.where(np.isnan(ours), 0, ours).view(kind), np.where(np.isnan(theirs), 0, theirs).view(kind))


def runs(H):
    """(lo, hi) runs of a row of H units: all of it, a start and an end off the vector width."""
    return sorted({(0, H), (min(3, H), H), (0, max(H - 2, 0)), (H // 3, H - H // 4)})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("H", SIZES)
def test_forward_gate_math_on_vectors_gives_the_scalar_loops_bits(dtype, H):
    rng = np.random.default_rng(H)
    B = 3
    bias, c_prev = values(rng, 4 * H, dtype), values(rng, (B, H), dtype)
    for lo, hi in runs(H):
        gates = values(rng, (B, 4 * H), dtype)
        results = []
        for gate_math in (lstm._gates_to_state, scalar_gates_to_state):
            out = gates.copy(), np.full((B, H), 7, dtype), np.full((B, H), 7, dtype)
            gate_math(out[0], bias, c_prev, out[1], out[2], lo, hi)
            results.append(out)
        for ours, theirs in zip(*results):
            assert_same_bits(ours, theirs)
        assert np.all(results[0][1][:, :lo] == 7) and np.all(results[0][2][:, hi:] == 7)  # no unit outside the run


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("H", SIZES)
def test_gate_gradients_on_vectors_give_the_scalar_loops_bits(dtype, H):
    rng = np.random.default_rng(100 + H)
    B = 3
    with np.errstate(over="ignore"):
        gates = np.concatenate([1 / (1 + np.exp(-values(rng, (B, 2 * H), dtype))), np.tanh(values(rng, (B, H), dtype)),
                                1 / (1 + np.exp(-values(rng, (B, H), dtype)))], axis=1).astype(dtype)
    c_prev, c, dh, dc = (values(rng, (B, H), dtype) for _ in range(4))
    for lo, hi in runs(H):
        results = []
        for gate_gradients in (vector_gate_gradients, scalar_gate_gradients):
            out = np.full((B, 4 * H), 7, dtype), np.full((B, H), 7, dtype)
            gate_gradients(gates, out[0], lo, hi, c_prev, c, dh, dc, out[1])
            results.append(out)
        for ours, theirs in zip(*results):
            assert_same_bits(ours, theirs)
        assert np.all(results[0][1][:, :lo] == 7) and np.all(results[0][1][:, hi:] == 7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("H", SIZES)
def test_gru_gate_math_and_gradients_on_vectors_give_the_scalar_loops_bits(dtype, H):
    rng = np.random.default_rng(200 + H)
    B = 3
    bias, h_prev, x, dh = values(rng, 3 * H, dtype), values(rng, (B, H), dtype), values(rng, (B, 3 * H), dtype), \
        values(rng, (B, H), dtype)
    for lo, hi in runs(H):
        for add_rz_bias in (True, False):
            cache = values(rng, (B, 4 * H), dtype)
            results = []
            for gate_math in (gru._finish_gates, scalar_gru_gates):
                out = cache.copy(), np.full((B, H), 7, dtype)
                gate_math(out[0], x, bias, h_prev, out[1], lo, hi, add_rz_bias)
                results.append(out)
            for ours, theirs in zip(*results):
                assert_same_bits(ours, theirs)
            assert np.all(results[0][1][:, :lo] == 7) and np.all(results[0][1][:, hi:] == 7)
        results = []
        for gradients, reset_path in ((gru._gate_gradients, gru._add_reset_path),
                                      (scalar_gru_gradients, scalar_reset_path)):
            out = np.full((B, 3 * H), 7, dtype), np.full((B, 3 * H), 7, dtype), h_prev.copy()
            gradients(cache, dh, h_prev, out[0], out[1], lo, hi)
            reset_path(cache, dh, out[2], lo, hi)
            results.append(out)
        for ours, theirs in zip(*results):
            assert_same_bits(ours, theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("H", SIZES)
def test_rnn_activations_and_their_gradients_on_vectors_give_the_scalar_loops_bits(dtype, H):
    rng = np.random.default_rng(300 + H)
    B = 3
    bias, dh = values(rng, H, dtype), values(rng, (B, H), dtype)
    for lo, hi in runs(H):
        for relu in (False, True):
            h = values(rng, (B, H), dtype)
            ours, theirs = h.copy(), h.copy()
            rnn._activate(ours, bias, relu, lo, hi)
            scalar_activate(theirs, bias, relu, lo, hi)
            assert_same_bits(ours, theirs)
            results = []
            for gradients in (rnn._activation_gradients, scalar_activation_gradients):
                dpre = np.full((B, H), 7, dtype)
                gradients(dh, ours, relu, dpre, lo, hi)
                results.append(dpre)
            assert_same_bits(*results)
            assert np.all(results[0][:, :lo] == 7) and np.all(results[0][:, hi:] == 7)
