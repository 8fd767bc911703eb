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
from seqkit.cells.activations import sigmoid, tanh


@kernel
def lstm_step_forward(xproj_t, h_prev, c_prev, weight_hh, bias_hh, gates, h, c):
    """One step from xproj_t (B, 4H) and the state h_prev, c_prev (B, H).

    Writes gates (B, 4H), the post-activation values of i, f, g, o, and the new state h, c (B, H)."""
    H, one = h.shape[1], h.dtype.type(1)
    np.dot(h_prev, weight_hh.T, gates)
    for b in range(h.shape[0]):
        for j in range(H):
            i = sigmoid(gates[b, j] + xproj_t[b, j] + bias_hh[j], one)
            f = sigmoid(gates[b, H + j] + xproj_t[b, H + j] + bias_hh[H + j], one)
            g = tanh(gates[b, 2 * H + j] + xproj_t[b, 2 * H + j] + bias_hh[2 * H + j], one)
            o = sigmoid(gates[b, 3 * H + j] + xproj_t[b, 3 * H + j] + bias_hh[3 * H + j], one)
            gates[b, j] = i
            gates[b, H + j] = f
            gates[b, 2 * H + j] = g
            gates[b, 3 * H + j] = o
            c[b, j] = f * c_prev[b, j] + i * g
            h[b, j] = o * tanh(c[b, j], one)


@kernel
def lstm_step_backward(dh, dc, c_prev, gates, c, weight_hh, dpre, dh_prev, dc_prev):
    """Back through one step, given dh, dc (B, H): dLoss/d(h, c) of this step's output state.

    Writes dpre (B, 4H), the gradient of the gate pre-activations (equal to that of xproj_t and
    of bias_hh), and dh_prev, dc_prev (B, H)."""
    H, one = c.shape[1], c.dtype.type(1)
    for b in range(c.shape[0]):
        for j in range(H):
            i = gates[b, j]
            f = gates[b, H + j]
            g = gates[b, 2 * H + j]
            o = gates[b, 3 * H + j]
            tanh_c = tanh(c[b, j], one)
            dcj = dc[b, j] + dh[b, j] * o * (one - tanh_c * tanh_c)
            dpre[b, j] = dcj * g * i * (one - i)
            dpre[b, H + j] = dcj * c_prev[b, j] * f * (one - f)
            dpre[b, 2 * H + j] = dcj * i * (one - g * g)
            dpre[b, 3 * H + j] = dh[b, j] * tanh_c * o * (one - o)
            dc_prev[b, j] = dcj * f
    np.dot(dpre, weight_hh, dh_prev)


@kernel
def lstm_forward(xproj, h0, c0, weight_hh, bias_hh):
    """Run T steps from the state h0, c0 (B, H).

    Returns y (T, B, H) the hidden states, c (T, B, H) the cell states, gates (T, B, 4H)
    post-activation. The final state is (y[-1], c[-1]); (y, c, gates) is the cache for backward."""
    T, B, H = xproj.shape[0], h0.shape[0], h0.shape[1]
    y = np.empty((T, B, H), h0.dtype)
    c = np.empty((T, B, H), h0.dtype)
    gates = np.empty((T, B, 4 * H), h0.dtype)
    for t in range(T):
        if t == 0:
            lstm_step_forward(xproj[0], h0, c0, weight_hh, bias_hh, gates[0], y[0], c[0])
        else:
            lstm_step_forward(xproj[t], y[t - 1], c[t - 1], weight_hh, bias_hh, gates[t], y[t], c[t])
    return y, c, gates


@kernel
def lstm_backward(dy, dh_final, dc_final, h0, c0, weight_hh, y, c, gates):
    """BPTT through lstm_forward. dy (T, B, H) is dLoss/dy; dh_final, dc_final (B, H) those of
    the final state.

    Returns dxproj (T, B, 4H), dh0, dc0 (B, H), dweight_hh (4H, H), dbias_hh (4H,)."""
    T, B, H = y.shape
    dpre = np.empty_like(gates)
    dh = dh_final + dy[T - 1]
    dc = dc_final.copy()
    dh_prev = np.empty_like(h0)
    dc_prev = np.empty_like(c0)
    for t in range(T - 1, -1, -1):
        c_prev = c0 if t == 0 else c[t - 1]
        lstm_step_backward(dh, dc, c_prev, gates[t], c[t], weight_hh, dpre[t], dh_prev, dc_prev)
        if t > 0:
            np.add(dh_prev, dy[t - 1], dh)  # no temporary per step
            dc[:] = dc_prev
    dweight_hh = np.dot(dpre[0].T, h0)
    if T > 1:
        dweight_hh += np.dot(dpre[1:].reshape((T - 1) * B, 4 * H).T, y[:-1].reshape((T - 1) * B, H))
    dbias_hh = dpre.reshape(T * B, 4 * H).sum(axis=0)
    return dpre, dh_prev, dc_prev, dweight_hh, dbias_hh
