"""Elman RNN kernels, PyTorch's equation:

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),    act = tanh or relu

Letters: T time steps, B batch, H hidden size. The input arrives already projected,
xproj = x @ weight_ih.T + bias_ih of shape (T, B, H), computed for all steps at once by the caller
(one matrix product, or a row gather for one-hot input); these kernels run the recurrence.
All arrays are C-contiguous and of one float dtype.
"""
import numpy as np

from seqkit._jit import kernel
from seqkit.cells.activations import tanh


@kernel
def rnn_step_forward(xproj_t, h_prev, weight_hh, bias_hh, relu, h):
    """One step: writes h (B, H) from xproj_t (B, H), h_prev (B, H), weight_hh (H, H), bias_hh (H,)."""
    np.dot(h_prev, weight_hh.T, h)
    zero, one = h.dtype.type(0), h.dtype.type(1)
    for b in range(h.shape[0]):
        for j in range(h.shape[1]):
            a = h[b, j] + xproj_t[b, j] + bias_hh[j]
            if relu:
                h[b, j] = a if a > 0 else zero
            else:
                h[b, j] = tanh(a, one)


@kernel
def rnn_step_backward(dh, h, weight_hh, relu, dpre, dh_prev):
    """Back through one step whose output was h (B, H), given dh = dLoss/dh (B, H).

    Writes dpre (B, H), the gradient of the pre-activation (equal to that of xproj_t and of
    bias_hh), and dh_prev (B, H)."""
    zero, one = h.dtype.type(0), h.dtype.type(1)
    for b in range(h.shape[0]):
        for j in range(h.shape[1]):
            if relu:
                dpre[b, j] = dh[b, j] if h[b, j] > 0 else zero
            else:
                dpre[b, j] = dh[b, j] * (one - h[b, j] * h[b, j])
    np.dot(dpre, weight_hh, dh_prev)


@kernel
def rnn_forward(xproj, h0, weight_hh, bias_hh, relu):
    """Run T steps from h0 (B, H). Returns y (T, B, H), the hidden state at every step.

    The cache for backward is y itself (post-activation); the final state is y[-1]."""
    T, B, H = xproj.shape
    y = np.empty((T, B, H), h0.dtype)
    for t in range(T):
        rnn_step_forward(xproj[t], h0 if t == 0 else y[t - 1], weight_hh, bias_hh, relu, y[t])
    return y


@kernel
def rnn_backward(dy, dh_final, h0, weight_hh, y, relu):
    """BPTT through rnn_forward. dy (T, B, H) is dLoss/dy; dh_final (B, H) that of the final state.

    Returns dxproj (T, B, H), dh0 (B, H), dweight_hh (H, H), dbias_hh (H,)."""
    T, B, H = y.shape
    dpre = np.empty_like(y)
    dh = dh_final + dy[T - 1]
    dh_prev = np.empty_like(h0)
    for t in range(T - 1, -1, -1):
        rnn_step_backward(dh, y[t], weight_hh, relu, dpre[t], dh_prev)
        if t > 0:
            np.add(dh_prev, dy[t - 1], dh)  # no temporary per step
    dweight_hh = np.dot(dpre[0].T, h0)
    if T > 1:
        dweight_hh += np.dot(dpre[1:].reshape((T - 1) * B, H).T, y[:-1].reshape((T - 1) * B, H))
    dbias_hh = dpre.reshape(T * B, H).sum(axis=0)
    return dpre, dh_prev, dweight_hh, dbias_hh
