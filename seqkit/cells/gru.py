"""GRU kernels, PyTorch's equations and gate order (r, z, n):

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))      # the reset gate scales W_hn h + b_hn
    h' = (1 - z) * n + z * h

The three gates are stacked along the last axis (3H), blocks in order r, z, n, as in PyTorch's
weight_ih (3H, I) and weight_hh (3H, H). State h: states[0]. Cache per step (B, 4H): the
post-activation gates (B, 3H), then hn = W_hn h + b_hn (B, H), each a contiguous block.
Scratch per step (B, 3H): dhproj, the gradient of h @ weight_hh.T + bias_hh, which differs from
that of xproj in the n block. The signatures are those of seqkit.cells.
"""
import numpy as np

from seqkit._jit import kernel
from seqkit.cells.activations import (
    column_sums,
    gradient_product,
    hidden_product,
    sigmoid_of_sum,
    tanh,
    weight_for_gradient,
)
from seqkit.cells.registry import Cell, Kernels


@kernel
def _gates_and_hn(cache_t):
    """The cache of one step as its two blocks: gates (B, 3H) and hn (B, H)."""
    B, H = cache_t.shape[0], cache_t.shape[1] // 4
    flat = cache_t.reshape(B * 4 * H)
    return flat[:B * 3 * H].reshape(B, 3 * H), flat[B * 3 * H:].reshape(B, H)


@kernel
def gru_step_forward(xproj_t, states, t, weight_hh, bias_hh, cache_t):
    """One step: states[0, t] -> states[0, t + 1]; cache_t receives the gates r, z, n and hn."""
    h_prev, h = states[0, t], states[0, t + 1]
    gates, hn = _gates_and_hn(cache_t)
    H, one = h.shape[1], h.dtype.type(1)
    hidden_product(h_prev, weight_hh, gates)
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
def gru_step_backward(dstate, states, t, cache_t, weight_hh, dxproj_t, dstate_prev, scratch_t):
    """Back through one step: dstate (1, B, H) = dLoss/dh after it. Writes dxproj_t (B, 3H),
    scratch_t (B, 3H) = dhproj (the gradient of h_prev @ weight_hh.T + bias_hh) and dstate_prev."""
    _step_backward(dstate, states, t, cache_t, weight_hh, weight_for_gradient(weight_hh, dxproj_t.shape[0]),
                   dxproj_t, dstate_prev, scratch_t)


@kernel
def _step_backward(dstate, states, t, cache_t, weight_hh, turned, dxproj_t, dstate_prev, scratch_t):
    """gru_step_backward, given weight_for_gradient's pair (the sequence's backward makes it
    once; gru_step_backward, once a step)."""
    dh, h_prev, dhproj, dh_prev = dstate[0], states[0, t], scratch_t, dstate_prev[0]
    gates, hn = _gates_and_hn(cache_t)
    H, one = h_prev.shape[1], h_prev.dtype.type(1)
    for b in range(h_prev.shape[0]):
        row, dx, dhp = gates[b], dxproj_t[b], dhproj[b]
        _gru_gate_gradients(row[:H], row[H:2 * H], row[2 * H:], hn[b], h_prev[b], dh[b],
                            dx[:H], dx[H:2 * H], dx[2 * H:], dhp[2 * H:], one)
        dhp[:2 * H] = dx[:2 * H]
    gradient_product(dhproj, weight_hh, turned, dh_prev)
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
def gru_forward(xproj, states, weight_hh, bias_hh, cache):
    """T steps of gru_step_forward: states (1, T + 1, B, H), cache (T, B, 4H)."""
    for t in range(xproj.shape[0]):
        gru_step_forward(xproj[t], states, t, weight_hh, bias_hh, cache[t])


@kernel
def gru_backward(dy, dfinal, states, cache, weight_hh, dxproj, dinitial, dweight_hh, dbias_hh, scratch):
    """BPTT through gru_forward (see seqkit.cells for the arguments); scratch (T, B, 3H)."""
    T, B, H = dy.shape
    dstate = dfinal.copy()
    dstate[0] += dy[T - 1]
    turned = weight_for_gradient(weight_hh, B)
    for t in range(T - 1, -1, -1):
        _step_backward(dstate, states, t, cache[t], weight_hh, turned, dxproj[t], dinitial, scratch[t])
        if t > 0:
            np.add(dinitial, dy[t - 1], dstate)
    dhproj_rows = scratch.reshape(T * B, 3 * H)
    np.dot(dhproj_rows.T, states[0, :T].reshape(T * B, H), dweight_hh)
    column_sums(dhproj_rows, dbias_hh)


CELL = Cell("gru", gates=3, state_size=1, cache_size=4, scratch_size=3,
            kernels=Kernels(gru_step_forward, gru_step_backward, gru_forward, gru_backward))
