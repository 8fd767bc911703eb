"""LSTM kernels, PyTorch's equations and gate order (i, f, g, o):

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      f = sigmoid(W_if x + b_if + W_hf h + b_hf)
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)         o = sigmoid(W_io x + b_io + W_ho h + b_ho)
    c' = f * c + i * g
    h' = o * tanh(c')

The four gates are stacked along the last axis (4H), blocks in order i, f, g, o, as in
PyTorch's weight_ih (4H, I) and weight_hh (4H, H). State (h, c): states[0] is h, states[1] c.
Cache per step: the post-activation gates (B, 4H). No scratch. The signatures are those of
seqkit.cells.registry; the input arrives projected, xproj = x @ weight_ih.T + bias_ih.

The sequence kernels run the recurrence on packed weights (seqkit.cells.recurrence): a forward
panel holds the four gate blocks of W hidden units, its product accumulates onto xproj_t, and
the gate nonlinearities and the state update run on the step's gates while they are in the
cache; the panels are shared between threads. The step kernels are the plain
per-step version (products by BLAS) for a layer stepped from Python; the sampler steps on
packed weights (lstm_step_packed), to the bit what the sequence kernels compute.
"""
import numpy as np
from numba.extending import intrinsic

from seqkit._jit import kernel
from seqkit.cells.activations import column_sums, sigmoid_lanes, sigmoid_of_sum, tanh, tanh_lanes, tanh_of_sum
from seqkit.cells.lanes import row_kernel
from seqkit.cells.recurrence import (
    WIDE,
    aligned_empty,
    backward_columns,
    backward_groups,
    forward_columns,
    forward_shape,
    pack_backward,
    pack_forward,
    panel_product,
)
from seqkit.cells.registry import Cell, Kernels
from seqkit.cells.sharing import multiply_taken, own_share, run_split, threads_for, units_of, wait_for
from seqkit.cells.vector import lanes, tile_rows

GATES = 4
FORWARD_TILE = 2  # vectors a forward tile: a panel's four gate blocks, two at a time
BACKWARD_GROUPS = 2  # unit groups of W hidden units in a backward panel (and vectors in its tile)
FORWARD_ROWS, BACKWARD_ROWS = tile_rows(FORWARD_TILE), tile_rows(BACKWARD_GROUPS)


@kernel
def lstm_step_forward(xproj_t, states, t, weight_hh, bias_hh, cache_t):
    """One step: states[:, t] -> states[:, t + 1]; cache_t (B, 4H) receives the gates i, f, g, o."""
    h_prev, c_prev, h, c, gates = states[0, t], states[1, t], states[0, t + 1], states[1, t + 1], cache_t
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
def lstm_step_backward(dstate, states, t, cache_t, weight_hh, dxproj_t, dstate_prev, scratch_t):
    """Back through one step: dstate (2, B, H) = dLoss/d(h, c) after it. Writes dxproj_t (B, 4H),
    the gradient of the gate pre-activations (also that of bias_hh), and dstate_prev (2, B, H)."""
    dh, dc, c_prev, c, gates = dstate[0], dstate[1], states[1, t], states[1, t + 1], cache_t
    H = c.shape[1]
    for b in range(c.shape[0]):
        _gate_gradients_row(gates[b], dxproj_t[b], c_prev[b], c[b], dh[b], dc[b], dstate_prev[1, b], 0, H)
    np.dot(dxproj_t, weight_hh, dstate_prev[0])


@intrinsic
def _gate_gradients_row(typingctx, row, drow, c_prev, c, dh, dc, dc_prev, lo, hi):
    """The units [lo, hi) of one row: the gates' pre-activation gradients into drow (4H,) and
    dc_prev, from dh and dc (c_prev, c, dh, dc, dc_prev: the row's (H,) arrays); on vectors
    (seqkit.cells.lanes), to the bit what the scalar loop of tests/cells/test_lanes.py computes."""
    return row_kernel(_gate_gradient_units, 2, (row, drow, c_prev, c, dh, dc, dc_prev, lo, hi))


def _gate_gradient_units(lanes, pointers, H, j, mask):
    row, drow, c_prev, c, dh, dc, dc_prev = pointers
    one = lanes.constant(1)
    i, f, g, o = (lanes.load(row, lanes.block(j, H, n), mask) for n in range(GATES))
    dh, dc = lanes.load(dh, j, mask), lanes.load(dc, j, mask)
    tanh_c = tanh_lanes(lanes, lanes.load(c, j, mask))
    dcj = lanes.add(dc, lanes.mul(lanes.mul(dh, o), lanes.sub(one, lanes.mul(tanh_c, tanh_c))))
    gradients = (lanes.mul(lanes.mul(lanes.mul(dcj, g), i), lanes.sub(one, i)),
                 lanes.mul(lanes.mul(lanes.mul(dcj, lanes.load(c_prev, j, mask)), f), lanes.sub(one, f)),
                 lanes.mul(lanes.mul(dcj, i), lanes.sub(one, lanes.mul(g, g))),
                 lanes.mul(lanes.mul(lanes.mul(dh, tanh_c), o), lanes.sub(one, o)))
    for n, gradient in enumerate(gradients):
        lanes.store(gradient, drow, lanes.block(j, H, n), mask)
    lanes.store(lanes.mul(dcj, f), dc_prev, j, mask)


@intrinsic
def _gates_to_state_row(typingctx, row, bias_hh, c_prev, c, h, lo, hi):
    """The units [lo, hi) of one row: row (4H,) holds xproj_t + h_prev @ W_hh.T; it gets bias_hh
    and the nonlinearities in place, and gives c and h (H,); on vectors (seqkit.cells.lanes), to
    the bit what the scalar loops of tests/cells/test_lanes.py compute."""
    return row_kernel(_gates_to_state_units, 3, (row, bias_hh, c_prev, c, h, lo, hi))


def _gates_to_state_units(lanes, pointers, H, j, mask):
    row, bias, c_prev, c, h = pointers
    gates = []
    for n, nonlinearity in enumerate((sigmoid_lanes, sigmoid_lanes, tanh_lanes, sigmoid_lanes)):
        at = lanes.block(j, H, n)
        gate = nonlinearity(lanes, lanes.add(lanes.load(row, at, mask), lanes.load(bias, at, mask)))
        lanes.store(gate, row, at, mask)
        gates.append(gate)
    i, f, g, o = gates
    c_new = lanes.add(lanes.mul(f, lanes.load(c_prev, j, mask)), lanes.mul(i, g))
    lanes.store(c_new, c, j, mask)
    lanes.store(lanes.mul(o, tanh_lanes(lanes, c_new)), h, j, mask)


@kernel
def _gates_to_state(gates, bias_hh, c_prev, c, h, lo, hi):
    """The units [lo, hi) of every row: gates (B, 4H) hold xproj_t + h_prev @ W_hh.T; they get
    bias_hh and their nonlinearities in place, and give c and h."""
    for b in range(gates.shape[0]):
        _gates_to_state_row(gates[b], bias_hh, c_prev[b], c[b], h[b], lo, hi)


@kernel
def _forward_units(xproj, states, packed, bias_hh, cache, columns, per_tile, rows, board, shares, flags, thread):
    """lstm_forward, one thread's part: each step, the panels it takes (next_panel), their
    products onto xproj_t, then their hidden units' gates and state."""
    H = states.shape[3]
    span = packed.shape[2] // GATES  # hidden units a panel
    taken = np.zeros((shares[-1], 2), np.int64)
    for t in range(xproj.shape[0]):
        ahead = min(t + 1, xproj.shape[0] - 1)  # the step whose first panel's lines are asked for
        count = multiply_taken(board, shares, t, thread, taken, states[0, t], packed, H, xproj[t], cache[t], xproj[ahead],
                               cache[ahead], columns, per_tile, rows)
        for run in range(count):
            lo, hi = units_of(taken[run], span, H)
            _gates_to_state(cache[t], bias_hh, states[1, t], states[1, t + 1], states[0, t + 1], lo, hi)
        wait_for(flags, thread, t + 1)


def lstm_forward(xproj, states, weight_hh, bias_hh, cache):
    """T steps: states (2, T + 1, B, H), cache (T, B, 4H), on weights packed for the sequence."""
    B, H = states.shape[2], states.shape[3]
    width, (groups, per_tile) = lanes(states.dtype), forward_shape(B, GATES, 1, FORWARD_TILE)
    packed = pack_forward(weight_hh, GATES, groups, width)
    blocks = np.arange(GATES) * H
    columns = forward_columns(H, groups, width, blocks, blocks, per_tile)
    run_split(_forward_units, (xproj, states, packed, bias_hh, cache, columns, per_tile, FORWARD_ROWS),
              packed.shape[0], threads_for(2 * B * GATES * H * H, packed.shape[0]), xproj.shape[0])


@kernel
def _backward_units(dy, dfinal, states, cache, packed, from_dy, from_zero, groups, rows, dxproj, dh, dc, dinitial,
                    board, shares, flags, thread):
    """lstm_backward's recurrence, one thread's part: each step, the gate gradients of the
    hidden units whose state gradient it computed, then (once every thread has written its
    units') the panels of dh_prev = dy[t - 1] + dxproj_t @ W_hh it takes. dh, dc (2, B, H):
    the state gradient, in turn."""
    T, B, H = dy.shape
    span = packed.shape[2]
    taken, count = own_share(shares, thread)
    lo, hi = units_of(taken[0], span, H)
    dh[0, :, lo:hi] = dfinal[0, :, lo:hi] + dy[T - 1, :, lo:hi]
    dc[0, :, lo:hi] = dfinal[1, :, lo:hi]
    for t in range(T - 1, -1, -1):
        now, then = (T - 1 - t) % 2, (T - t) % 2
        dc_prev = dc[then] if t > 0 else dinitial[1]
        for run in range(count):
            lo, hi = units_of(taken[run], span, H)
            for b in range(B):
                _gate_gradients_row(cache[t, b], dxproj[t, b], states[1, t, b], states[1, t + 1, b], dh[now, b],
                                    dc[now, b], dc_prev[b], lo, hi)
        wait_for(flags, thread, T - t)
        count = multiply_taken(board, shares, T - 1 - t, thread, taken, dxproj[t], packed, GATES * H,
                               dy[t - 1] if t > 0 else dy[0], dh[then] if t > 0 else dinitial[0], dy[max(t - 2, 0)], dh[now],
                               from_dy if t > 0 else from_zero, groups, rows)


@kernel
def _weight_gradients(dxproj, states, dweight_hh, dbias_hh):
    """dweight_hh = sum over steps of dxproj_t.T @ h_prev, dbias_hh the sum of dxproj's rows:
    one product over all T * B rows."""
    T, B, GH = dxproj.shape
    rows = dxproj.reshape(T * B, GH)
    np.dot(rows.T, states[0, :T].reshape(T * B, states.shape[3]), dweight_hh)
    column_sums(rows, dbias_hh)


def lstm_backward(dy, dfinal, states, cache, weight_hh, dxproj, dinitial, dweight_hh, dbias_hh, scratch):
    """BPTT through lstm_forward (see seqkit.cells.registry for the arguments)."""
    T, B, H = dy.shape
    width, groups = lanes(dy.dtype), backward_groups(B, BACKWARD_GROUPS)
    packed = pack_backward(weight_hh, groups, width)
    from_dy, from_zero = (backward_columns(H, groups, width, start) for start in (True, False))
    dh, dc = aligned_empty((2, B, H), dy.dtype), aligned_empty((2, B, H), dy.dtype)
    run_split(_backward_units, (dy, dfinal, states, cache, packed, from_dy, from_zero, groups, BACKWARD_ROWS,
                                dxproj, dh, dc, dinitial), packed.shape[0],
              threads_for(2 * B * GATES * H * H, packed.shape[0]), T)
    _weight_gradients(dxproj, states, dweight_hh, dbias_hh)


def lstm_pack(weight_hh):
    """weight_hh (4H, H) packed for lstm_step_packed (panels for a batch of 1), as one 2-d array."""
    packed = pack_forward(weight_hh, GATES, WIDE // GATES, lanes(weight_hh.dtype))
    return packed.reshape(-1, packed.shape[2])


@kernel
def lstm_step_packed(xproj_t, states, t, packed, bias_hh, cache_t):
    """lstm_step_forward on lstm_pack's weights, as lstm_forward computes a step."""
    H = states.shape[3]
    panels = packed.reshape(-1, H, packed.shape[1])
    width = packed.shape[1] // WIDE
    blocks = np.arange(GATES) * H
    columns = forward_columns(H, WIDE // GATES, width, blocks, blocks, WIDE)
    for p in range(panels.shape[0]):
        panel_product(states[0, t], panels, p, H, xproj_t, cache_t, columns, WIDE, 1)
    _gates_to_state(cache_t, bias_hh, states[1, t], states[1, t + 1], states[0, t + 1], 0, H)


def set_forget_bias(params, hidden_size, forget_bias):
    """Set the forget gate's effective bias (bias_ih + bias_hh) to forget_bias; None (the default)
    leaves the initialisation's, as nn.LSTM does. Jozefowicz et al. (2015) set 1.0 so that the
    cell remembers early on; on character-level text it learns slower (bench/quality.py)."""
    if forget_bias is not None:
        params["bias_ih"][hidden_size:2 * hidden_size] = forget_bias
        params["bias_hh"][hidden_size:2 * hidden_size] = 0


CELL = Cell("lstm", gates=4, state_size=2, cache_size=4,
            kernels=Kernels(lstm_step_forward, lstm_step_backward, lstm_forward, lstm_backward, lstm_pack,
                            lstm_step_packed),
            options={"forget_bias": None}, initialize=set_forget_bias)
