"""GRU kernels, PyTorch's equations and gate order (r, z, n):

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))      # the reset gate scales W_hn h + b_hn
    h' = (1 - z) * n + z * h

Letters: T time steps, B batch, H hidden size; the three gates are stacked along the last axis
(3H), blocks in order r, z, n, as in PyTorch's weight_ih (3H, I) and weight_hh (3H, H).
The input arrives already projected, xproj = x @ weight_ih.T + bias_ih of shape (T, B, 3H),
computed for all steps at once by the caller; these kernels run the recurrence.
All arrays are C-contiguous and of one float dtype.
"""
import numpy as np

from seqkit._jit import kernel
from seqkit.cells.activations import sigmoid, tanh


@kernel
def gru_step_forward(xproj_t, h_prev, weight_hh, bias_hh, gates, hn, h):
    """One step from xproj_t (B, 3H) and h_prev (B, H).

    Writes gates (B, 3H), the post-activation values of r, z, n; hn (B, H) = W_hn h_prev + b_hn,
    which backward needs; and the new state h (B, H)."""
    H, one = h.shape[1], h.dtype.type(1)
    np.dot(h_prev, weight_hh.T, gates)
    for b in range(h.shape[0]):
        for j in range(H):
            r = sigmoid(gates[b, j] + xproj_t[b, j] + bias_hh[j], one)
            z = sigmoid(gates[b, H + j] + xproj_t[b, H + j] + bias_hh[H + j], one)
            hn[b, j] = gates[b, 2 * H + j] + bias_hh[2 * H + j]
            n = tanh(xproj_t[b, 2 * H + j] + r * hn[b, j], one)
            gates[b, j] = r
            gates[b, H + j] = z
            gates[b, 2 * H + j] = n
            h[b, j] = (one - z) * n + z * h_prev[b, j]


@kernel
def gru_step_backward(dh, h_prev, gates, hn, weight_hh, dxproj, dhproj, dh_prev):
    """Back through one step, given dh (B, H) = dLoss/dh of this step's output.

    Writes dxproj (B, 3H), the gradient of xproj_t (and of bias_ih); dhproj (B, 3H), that of
    h_prev @ weight_hh.T + bias_hh (and of bias_hh); and dh_prev (B, H)."""
    H, one = h_prev.shape[1], h_prev.dtype.type(1)
    for b in range(h_prev.shape[0]):
        for j in range(H):
            r = gates[b, j]
            z = gates[b, H + j]
            n = gates[b, 2 * H + j]
            dn_pre = dh[b, j] * (one - z) * (one - n * n)
            dr_pre = dn_pre * hn[b, j] * r * (one - r)
            dz_pre = dh[b, j] * (h_prev[b, j] - n) * z * (one - z)
            dxproj[b, j] = dr_pre
            dxproj[b, H + j] = dz_pre
            dxproj[b, 2 * H + j] = dn_pre
            dhproj[b, j] = dr_pre
            dhproj[b, H + j] = dz_pre
            dhproj[b, 2 * H + j] = dn_pre * r
    np.dot(dhproj, weight_hh, dh_prev)
    for b in range(h_prev.shape[0]):
        for j in range(H):
            dh_prev[b, j] += dh[b, j] * gates[b, H + j]


@kernel
def gru_forward(xproj, h0, weight_hh, bias_hh):
    """Run T steps from h0 (B, H).

    Returns y (T, B, H) the hidden states, gates (T, B, 3H) post-activation, and
    hn (T, B, H) = W_hn h_{t-1} + b_hn. The final state is y[-1]; (y, gates, hn) is the cache
    for backward."""
    T, B, H = xproj.shape[0], h0.shape[0], h0.shape[1]
    y = np.empty((T, B, H), h0.dtype)
    gates = np.empty((T, B, 3 * H), h0.dtype)
    hn = np.empty((T, B, H), h0.dtype)
    for t in range(T):
        gru_step_forward(xproj[t], h0 if t == 0 else y[t - 1], weight_hh, bias_hh, gates[t], hn[t], y[t])
    return y, gates, hn


@kernel
def gru_backward(dy, dh_final, h0, weight_hh, y, gates, hn):
    """BPTT through gru_forward. dy (T, B, H) is dLoss/dy; dh_final (B, H) that of the final state.

    Returns dxproj (T, B, 3H), dh0 (B, H), dweight_hh (3H, H), dbias_hh (3H,)."""
    T, B, H = y.shape
    dxproj = np.empty_like(gates)
    dhproj = np.empty_like(gates)
    dh = dh_final + dy[T - 1]
    dh_prev = np.empty_like(h0)
    for t in range(T - 1, -1, -1):
        h_prev = h0 if t == 0 else y[t - 1]
        gru_step_backward(dh, h_prev, gates[t], hn[t], weight_hh, dxproj[t], dhproj[t], dh_prev)
        if t > 0:
            np.add(dh_prev, dy[t - 1], dh)  # no temporary per step
    dweight_hh = np.dot(dhproj[0].T, h0)
    if T > 1:
        dweight_hh += np.dot(dhproj[1:].reshape((T - 1) * B, 3 * H).T, y[:-1].reshape((T - 1) * B, H))
    dbias_hh = dhproj.reshape(T * B, 3 * H).sum(axis=0)
    return dxproj, dh_prev, dweight_hh, dbias_hh
