"""Elman RNN kernels, PyTorch's equation:

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),    act = tanh or relu

Letters: T time steps, B batch, H hidden size. The input arrives already projected,
xproj = x @ weight_ih.T + bias_ih of shape (T, B, H), computed for all steps at once by the caller
(one matrix product, or a row gather for one-hot input); these kernels run the recurrence.
All arrays are C-contiguous and of one float dtype.
"""
import numpy as np

from seqkit._jit import kernel
from seqkit.cells.activations import column_sums, relu_of_sum, tanh_of_sum


@kernel
def rnn_step_forward(xproj_t, h_prev, weight_hh, bias_hh, relu, h):
    """One step: writes h (B, H) from xproj_t (B, H), h_prev (B, H), weight_hh (H, H), bias_hh (H,)."""
    np.dot(h_prev, weight_hh.T, h)
    one = h.dtype.type(1)
    for b in range(h.shape[0]):
        if relu:
            relu_of_sum(h[b], xproj_t[b], bias_hh)
        else:
            tanh_of_sum(h[b], xproj_t[b], bias_hh, one)


@kernel
def rnn_step_backward(dh, h, weight_hh, relu, dpre, dh_prev):
    """Back through one step whose output was h (B, H), given dh = dLoss/dh (B, H).

    Writes dpre (B, H), the gradient of the pre-activation (equal to that of xproj_t and of
    bias_hh), and dh_prev (B, H)."""
    for b in range(h.shape[0]):
        _activation_gradient(dh[b], h[b], relu, dpre[b])
    np.dot(dpre, weight_hh, dh_prev)


@kernel
def _activation_gradient(dh, h, relu, dpre):
    """dpre = dh * act'(pre-activation) over one row, from the output h = act(pre-activation)."""
    zero, one = h.dtype.type(0), h.dtype.type(1)
    for j in range(h.size):
        if relu:
            dpre[j] = dh[j] if h[j] > zero else zero
        else:
            dpre[j] = dh[j] * (one - h[j] * h[j])


@kernel
def rnn_forward(xproj, weight_hh, bias_hh, relu, hs):
    """Run T steps. hs (T + 1, B, H) holds the initial state in hs[0] and receives the state
    after each step in hs[1:]: the output y = hs[1:], post-activation, final state hs[-1].
    hs is the cache for backward."""
    for t in range(xproj.shape[0]):
        rnn_step_forward(xproj[t], hs[t], weight_hh, bias_hh, relu, hs[t + 1])


@kernel
def rnn_backward(dy, dh_final, weight_hh, hs, relu, dpre, dh0, dweight_hh, dbias_hh):
    """BPTT through rnn_forward. dy (T, B, H) is dLoss/dy; dh_final (B, H) that of the final state.

    Writes dpre (T, B, H), the gradient of xproj (and of bias_ih); dh0 (B, H), that of the
    initial state; dweight_hh (H, H) and dbias_hh (H,)."""
    T, B, H = dy.shape
    dh = dh_final + dy[T - 1]
    for t in range(T - 1, -1, -1):
        rnn_step_backward(dh, hs[t + 1], weight_hh, relu, dpre[t], dh0)  # dh0 as the per-step dh_prev
        if t > 0:
            np.add(dh0, dy[t - 1], dh)
    dpre_rows = dpre.reshape(T * B, H)
    np.dot(dpre_rows.T, hs[:T].reshape(T * B, H), dweight_hh)
    column_sums(dpre_rows, dbias_hh)
