"""LSTM kernels, PyTorch's equations and gate order (i, f, g, o):

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      f = sigmoid(W_if x + b_if + W_hf h + b_hf)
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)         o = sigmoid(W_io x + b_io + W_ho h + b_ho)
    c' = f * c + i * g
    h' = o * tanh(c')

The four gates are stacked along the last axis (4H), blocks in order i, f, g, o, as in
PyTorch's weight_ih (4H, I) and weight_hh (4H, H). State (h, c): states[0] is h, states[1] c.
Cache per step: the post-activation gates (B, 4H). No scratch. The signatures are those of
seqkit.cells; the input arrives projected, xproj = x @ weight_ih.T + bias_ih.
"""
import numpy as np

from seqkit._jit import kernel
from seqkit.cells.activations import (
    column_sums,
    gradient_product,
    hidden_product,
    sigmoid_of_sum,
    tanh,
    tanh_of_sum,
    weight_for_gradient,
)
from seqkit.cells.registry import Cell, Kernels


@kernel
def lstm_step_forward(xproj_t, states, t, weight_hh, bias_hh, cache_t):
    """One step: states[:, t] -> states[:, t + 1]; cache_t (B, 4H) receives the gates i, f, g, o."""
    h_prev, c_prev, h, c, gates = states[0, t], states[1, t], states[0, t + 1], states[1, t + 1], cache_t
    H, one = h.shape[1], h.dtype.type(1)
    hidden_product(h_prev, weight_hh, gates)
    for b in range(h.shape[0]):
        row, x = gates[b], xproj_t[b]
        sigmoid_of_sum(row[:2 * H], x[:2 * H], bias_hh[:2 * H], one)  # i, f
        tanh_of_sum(row[2 * H:3 * H], x[2 * H:3 * H], bias_hh[2 * H:3 * H], one)  # g
        sigmoid_of_sum(row[3 * H:], x[3 * H:], bias_hh[3 * H:], one)  # o
        _lstm_state(row[:H], row[H:2 * H], row[2 * H:3 * H], row[3 * H:], c_prev[b], c[b], h[b], one)


@kernel
def _lstm_state(i, f, g, o, c_prev, c, h, one):
    """c = f * c_prev + i * g and h = o * tanh(c), over one row."""
    for j in range(c.size):
        c[j] = f[j] * c_prev[j] + i[j] * g[j]
        h[j] = o[j] * tanh(c[j], one)


@kernel
def lstm_step_backward(dstate, states, t, cache_t, weight_hh, dxproj_t, dstate_prev, scratch_t):
    """Back through one step: dstate (2, B, H) = dLoss/d(h, c) after it. Writes dxproj_t (B, 4H),
    the gradient of the gate pre-activations (also that of bias_hh), and dstate_prev (2, B, H)."""
    _step_backward(dstate, states, t, cache_t, weight_hh, weight_for_gradient(weight_hh, dxproj_t.shape[0]),
                   dxproj_t, dstate_prev)


@kernel
def _step_backward(dstate, states, t, cache_t, weight_hh, turned, dxproj_t, dstate_prev):
    """lstm_step_backward, given weight_for_gradient's pair (the sequence's backward makes it
    once; lstm_step_backward, once a step)."""
    dh, dc, c_prev, c, gates = dstate[0], dstate[1], states[1, t], states[1, t + 1], cache_t
    H, one = c.shape[1], c.dtype.type(1)
    for b in range(c.shape[0]):
        row, drow = gates[b], dxproj_t[b]
        _lstm_gate_gradients(row[:H], row[H:2 * H], row[2 * H:3 * H], row[3 * H:], c_prev[b], c[b],
                             dh[b], dc[b], drow[:H], drow[H:2 * H], drow[2 * H:3 * H], drow[3 * H:],
                             dstate_prev[1, b], one)
    gradient_product(dxproj_t, weight_hh, turned, dstate_prev[0])


@kernel
def _lstm_gate_gradients(i, f, g, o, c_prev, c, dh, dc, di, df, dg, do, dc_prev, one):
    """Over one row: the pre-activation gradients di, df, dg, do and dc_prev from dh, dc."""
    for j in range(c.size):
        tanh_c = tanh(c[j], one)
        dcj = dc[j] + dh[j] * o[j] * (one - tanh_c * tanh_c)
        di[j] = dcj * g[j] * i[j] * (one - i[j])
        df[j] = dcj * c_prev[j] * f[j] * (one - f[j])
        dg[j] = dcj * i[j] * (one - g[j] * g[j])
        do[j] = dh[j] * tanh_c * o[j] * (one - o[j])
        dc_prev[j] = dcj * f[j]


@kernel
def lstm_forward(xproj, states, weight_hh, bias_hh, cache):
    """T steps of lstm_step_forward: states (2, T + 1, B, H), cache (T, B, 4H)."""
    for t in range(xproj.shape[0]):
        lstm_step_forward(xproj[t], states, t, weight_hh, bias_hh, cache[t])


@kernel
def lstm_backward(dy, dfinal, states, cache, weight_hh, dxproj, dinitial, dweight_hh, dbias_hh, scratch):
    """BPTT through lstm_forward (see seqkit.cells for the arguments)."""
    T, B, H = dy.shape
    dstate = dfinal.copy()
    dstate[0] += dy[T - 1]
    turned = weight_for_gradient(weight_hh, B)
    for t in range(T - 1, -1, -1):
        # dinitial serves as every step's dstate_prev: after step 0 it holds the answer.
        _step_backward(dstate, states, t, cache[t], weight_hh, turned, dxproj[t], dinitial)
        if t > 0:
            dstate[:] = dinitial
            dstate[0] += dy[t - 1]
    dpre_rows = dxproj.reshape(T * B, 4 * H)
    np.dot(dpre_rows.T, states[0, :T].reshape(T * B, H), dweight_hh)
    column_sums(dpre_rows, dbias_hh)


def set_forget_bias(params, hidden_size, forget_bias):
    """Set the forget gate's effective bias (bias_ih + bias_hh) to forget_bias; None (the default)
    leaves the initialisation's, as nn.LSTM does. Jozefowicz et al. (2015) set 1.0 so that the
    cell remembers early on; on character-level text it learns slower (bench/quality.py)."""
    if forget_bias is not None:
        params["bias_ih"][hidden_size:2 * hidden_size] = forget_bias
        params["bias_hh"][hidden_size:2 * hidden_size] = 0


CELL = Cell("lstm", gates=4, state_size=2, cache_size=4,
            kernels=Kernels(lstm_step_forward, lstm_step_backward, lstm_forward, lstm_backward),
            options={"forget_bias": None}, initialize=set_forget_bias)
