"""LSTM kernels, PyTorch's equations and gate order (i, f, g, o):

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      f = sigmoid(W_if x + b_if + W_hf h + b_hf)
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)         o = sigmoid(W_io x + b_io + W_ho h + b_ho)
    c' = f * c + i * g
    h' = o * tanh(c')

Letters: T time steps, B batch, H hidden size; the four gates are stacked along the last axis
(4H), blocks in order i, f, g, o, as in PyTorch's weight_ih (4H, I) and weight_hh (4H, H).
The input arrives already projected, xproj = x @ weight_ih.T + bias_ih of shape (T, B, 4H),
computed for all steps at once by the caller; these kernels run the recurrence.
All arrays are C-contiguous and of one float dtype.
"""
import numpy as np

from seqkit._jit import kernel
from seqkit.cells.activations import column_sums, sigmoid_of_sum, tanh, tanh_of_sum


@kernel
def lstm_step_forward(xproj_t, h_prev, c_prev, weight_hh, bias_hh, gates, h, c):
    """One step from xproj_t (B, 4H) and the state h_prev, c_prev (B, H).

    Writes gates (B, 4H), the post-activation values of i, f, g, o, and the new state h, c (B, H)."""
    H, one = h.shape[1], h.dtype.type(1)
    np.dot(h_prev, weight_hh.T, gates)
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
def lstm_step_backward(dh, dc, c_prev, gates, c, weight_hh, dpre, dh_prev, dc_prev):
    """Back through one step, given dh, dc (B, H): dLoss/d(h, c) of this step's output state.

    Writes dpre (B, 4H), the gradient of the gate pre-activations (equal to that of xproj_t and
    of bias_hh), and dh_prev, dc_prev (B, H)."""
    H, one = c.shape[1], c.dtype.type(1)
    for b in range(c.shape[0]):
        row, drow = gates[b], dpre[b]
        _lstm_gate_gradients(row[:H], row[H:2 * H], row[2 * H:3 * H], row[3 * H:], c_prev[b], c[b],
                             dh[b], dc[b], drow[:H], drow[H:2 * H], drow[2 * H:3 * H], drow[3 * H:],
                             dc_prev[b], one)
    np.dot(dpre, weight_hh, dh_prev)


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
def lstm_forward(xproj, weight_hh, bias_hh, hs, cs, gates):
    """Run T steps. hs, cs (T + 1, B, H) hold the initial state in hs[0], cs[0] and receive the
    state after each step in hs[1:], cs[1:]: the outputs are y = hs[1:], the final state
    (hs[-1], cs[-1]). gates (T, B, 4H) receives the post-activation gates.
    (hs, cs, gates) is the cache for backward."""
    for t in range(xproj.shape[0]):
        lstm_step_forward(xproj[t], hs[t], cs[t], weight_hh, bias_hh, gates[t], hs[t + 1], cs[t + 1])


@kernel
def lstm_backward(dy, dh_final, dc_final, weight_hh, hs, cs, gates, dpre, dh0, dc0, dweight_hh, dbias_hh):
    """BPTT through lstm_forward. dy (T, B, H) is dLoss/dy; dh_final, dc_final (B, H) those of
    the final state.

    Writes dpre (T, B, 4H), the gradient of xproj (and of bias_ih); dh0, dc0 (B, H), that of the
    initial state; dweight_hh (4H, H) and dbias_hh (4H,)."""
    T, B, H = dy.shape
    dh = dh_final + dy[T - 1]
    dc = dc_final.copy()
    for t in range(T - 1, -1, -1):
        # dh0, dc0 serve as the per-step dh_prev, dc_prev: after step 0 they hold the answer.
        lstm_step_backward(dh, dc, cs[t], gates[t], cs[t + 1], weight_hh, dpre[t], dh0, dc0)
        if t > 0:
            np.add(dh0, dy[t - 1], dh)
            dc[:] = dc0
    dpre_rows = dpre.reshape(T * B, 4 * H)
    np.dot(dpre_rows.T, hs[:T].reshape(T * B, H), dweight_hh)
    column_sums(dpre_rows, dbias_hh)
