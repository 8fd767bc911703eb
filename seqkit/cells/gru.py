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
from seqkit.cells.activations import column_sums, sigmoid_of_sum, tanh


@kernel
def gru_step_forward(xproj_t, h_prev, weight_hh, bias_hh, gates, hn, h):
    """One step from xproj_t (B, 3H) and h_prev (B, H).

    Writes gates (B, 3H), the post-activation values of r, z, n; hn (B, H) = W_hn h_prev + b_hn,
    which backward needs; and the new state h (B, H)."""
    H, one = h.shape[1], h.dtype.type(1)
    np.dot(h_prev, weight_hh.T, gates)
    for b in range(h.shape[0]):
        row, x = gates[b], xproj_t[b]
        sigmoid_of_sum(row[:2 * H], x[:2 * H], bias_hh[:2 * H], one)  # r, z
        _gru_state(row[:H], row[H:2 * H], row[2 * H:], x[2 * H:], bias_hh[2 * H:], h_prev[b], hn[b], h[b], one)


@kernel
def _gru_state(r, z, n, xn, bias_hn, h_prev, hn, h, one):
    """Over one row, where n holds W_hn h_prev on entry: hn = W_hn h_prev + b_hn,
    n = tanh(xn + r * hn) and h = (1 - z) * n + z * h_prev."""
    for j in range(h.size):
        hn[j] = n[j] + bias_hn[j]
        n[j] = tanh(xn[j] + r[j] * hn[j], one)
        h[j] = (one - z[j]) * n[j] + z[j] * h_prev[j]


@kernel
def gru_step_backward(dh, h_prev, gates, hn, weight_hh, dxproj, dhproj, dh_prev):
    """Back through one step, given dh (B, H) = dLoss/dh of this step's output.

    Writes dxproj (B, 3H), the gradient of xproj_t (and of bias_ih); dhproj (B, 3H), that of
    h_prev @ weight_hh.T + bias_hh (and of bias_hh); and dh_prev (B, H)."""
    H, one = h_prev.shape[1], h_prev.dtype.type(1)
    for b in range(h_prev.shape[0]):
        row, dx, dhp = gates[b], dxproj[b], dhproj[b]
        _gru_gate_gradients(row[:H], row[H:2 * H], row[2 * H:], hn[b], h_prev[b], dh[b],
                            dx[:H], dx[H:2 * H], dx[2 * H:], dhp[2 * H:], one)
        dhp[:2 * H] = dx[:2 * H]
    np.dot(dhproj, weight_hh, dh_prev)
    for b in range(h_prev.shape[0]):
        _add_product(dh[b], gates[b, H:2 * H], dh_prev[b])


@kernel
def _gru_gate_gradients(r, z, n, hn, h_prev, dh, dr, dz, dn, dhn, one):
    """Over one row: the pre-activation gradients dr, dz, dn of r, z and n's input part, and
    dhn that of W_hn h_prev + b_hn."""
    for j in range(h_prev.size):
        dn[j] = dh[j] * (one - z[j]) * (one - n[j] * n[j])
        dr[j] = dn[j] * hn[j] * r[j] * (one - r[j])
        dz[j] = dh[j] * (h_prev[j] - n[j]) * z[j] * (one - z[j])
        dhn[j] = dn[j] * r[j]


@kernel
def _add_product(a, b, out):
    """out += a * b, elementwise over 1-d arrays."""
    for j in range(out.size):
        out[j] += a[j] * b[j]


@kernel
def gru_forward(xproj, weight_hh, bias_hh, hs, gates, hn):
    """Run T steps. hs (T + 1, B, H) holds the initial state in hs[0] and receives the state
    after each step in hs[1:]: the output y = hs[1:], final state hs[-1]. gates (T, B, 3H)
    receives the post-activation gates, hn (T, B, H) W_hn h_{t-1} + b_hn.
    (hs, gates, hn) is the cache for backward."""
    for t in range(xproj.shape[0]):
        gru_step_forward(xproj[t], hs[t], weight_hh, bias_hh, gates[t], hn[t], hs[t + 1])


@kernel
def gru_backward(dy, dh_final, weight_hh, hs, gates, hn, dxproj, dhproj, dh0, dweight_hh, dbias_hh):
    """BPTT through gru_forward. dy (T, B, H) is dLoss/dy; dh_final (B, H) that of the final state.

    Writes dxproj (T, B, 3H), the gradient of xproj (and of bias_ih); dh0 (B, H), that of the
    initial state; dweight_hh (3H, H) and dbias_hh (3H,). dhproj (T, B, 3H) is scratch."""
    T, B, H = dy.shape
    dh = dh_final + dy[T - 1]
    for t in range(T - 1, -1, -1):
        gru_step_backward(dh, hs[t], gates[t], hn[t], weight_hh, dxproj[t], dhproj[t], dh0)  # dh0 as dh_prev
        if t > 0:
            np.add(dh0, dy[t - 1], dh)
    dhproj_rows = dhproj.reshape(T * B, 3 * H)
    np.dot(dhproj_rows.T, hs[:T].reshape(T * B, H), dweight_hh)
    column_sums(dhproj_rows, dbias_hh)
