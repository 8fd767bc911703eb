"""GRU kernels, PyTorch's equations and gate order (r, z, n):

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))      # the reset gate scales W_hn h + b_hn
    h' = (1 - z) * n + z * h

The three gates are stacked along the last axis (3H), blocks in order r, z, n, as in PyTorch's
weight_ih (3H, I) and weight_hh (3H, H). State h: states[0]. Cache per step (B, 4H), a row
each: the post-activation gates r, z, n (3H), then hn = W_hn h + b_hn (H). Scratch per step
(B, 3H): dhproj, the gradient of h @ weight_hh.T + bias_hh, which differs from that of xproj
in the n block. The signatures are those of seqkit.cells.registry.

The sequence kernels run on packed weights (seqkit.cells.recurrence): a forward panel holds
the three gate blocks of 2 W hidden units; the r and z products accumulate onto xproj_t, the
n product (W_hn h) goes to hn, and the gates are finished while they are in the cache. The
step kernels are the plain per-step version (products by BLAS); gru_step_packed is the
sampler's, to the bit what the sequence kernels compute.
"""
import numpy as np
from numba.extending import intrinsic

from seqkit._jit import kernel
from seqkit.cells.activations import column_sums, sigmoid_lanes, sigmoid_of_sum, tanh_lanes
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

GATES = 3
FORWARD_GROUPS, FORWARD_TILE = 2, 2  # a forward panel: 2 unit groups of each gate; a tile: one gate's two
BACKWARD_GROUPS = 2  # unit groups of W hidden units in a backward panel (and vectors in its tile)
FORWARD_ROWS, BACKWARD_ROWS = tile_rows(FORWARD_TILE), tile_rows(BACKWARD_GROUPS)


@kernel
def _layout(H):
    """Where the forward tiles of each gate write and start from: r and z onto xproj_t's blocks,
    n (W_hn h) into the cache's hn block, from zero."""
    return np.array([0, H, 3 * H]), np.array([0, H, -1])


@kernel
def gru_step_forward(xproj_t, states, t, weight_hh, bias_hh, cache_t):
    """One step: states[0, t] -> states[0, t + 1]; cache_t receives the gates r, z, n and hn."""
    h_prev, h = states[0, t], states[0, t + 1]
    H, one = h.shape[1], h.dtype.type(1)
    product = np.dot(h_prev, weight_hh.T)
    for b in range(h.shape[0]):
        row, x, p = cache_t[b], xproj_t[b], product[b]
        row[:2 * H] = p[:2 * H]
        row[3 * H:] = p[2 * H:]
        sigmoid_of_sum(row[:2 * H], x[:2 * H], bias_hh[:2 * H], one)  # r, z
    _finish_gates(cache_t, xproj_t, bias_hh, h_prev, h, 0, H, False)


@kernel
def _finish_gates(cache_t, xproj_t, bias_hh, h_prev, h, lo, hi, add_rz_bias):
    """The units [lo, hi) of every row, where the cache holds r and z (before their bias and
    sigmoid when add_rz_bias) and hn holds W_hn h_prev: hn = W_hn h_prev + b_hn, n = tanh(xn +
    r * hn), h = (1 - z) * n + z * h_prev."""
    for b in range(h.shape[0]):
        _finish_row(cache_t[b], xproj_t[b], bias_hh, h_prev[b], h[b], lo, hi, add_rz_bias)


@intrinsic
def _finish_row(typingctx, row, x, bias_hh, h_prev, h, lo, hi, add_rz_bias):
    """_finish_gates over one row (row (4H,), x (3H,), h_prev, h (H,)), on vectors
    (seqkit.cells.lanes), to the bit what the scalar loop of tests/cells/test_lanes.py computes."""
    return row_kernel(_finish_units, 3, (row, x, bias_hh, h_prev, h, lo, hi, add_rz_bias))


def _finish_units(lanes, pointers, H, j, mask, add_rz_bias):
    row, x, bias, h_prev, h = pointers
    r_at, z_at, n_at, hn_at = (lanes.block(j, H, n) for n in range(4))
    if add_rz_bias:
        for at in (r_at, z_at):
            lanes.store(sigmoid_lanes(lanes, lanes.add(lanes.load(row, at, mask), lanes.load(bias, at, mask))), row, at,
                        mask)
    r, z = lanes.load(row, r_at, mask), lanes.load(row, z_at, mask)
    hn = lanes.add(lanes.load(row, hn_at, mask), lanes.load(bias, n_at, mask))
    lanes.store(hn, row, hn_at, mask)
    n = tanh_lanes(lanes, lanes.add(lanes.load(x, n_at, mask), lanes.mul(r, hn)))
    lanes.store(n, row, n_at, mask)
    one = lanes.constant(1)
    lanes.store(lanes.add(lanes.mul(lanes.sub(one, z), n), lanes.mul(z, lanes.load(h_prev, j, mask))), h, j, mask)


@kernel
def gru_step_backward(dstate, states, t, cache_t, weight_hh, dxproj_t, dstate_prev, scratch_t):
    """Back through one step: dstate (1, B, H) = dLoss/dh after it. Writes dxproj_t (B, 3H),
    scratch_t (B, 3H) = dhproj (the gradient of h_prev @ weight_hh.T + bias_hh) and dstate_prev."""
    dh, h_prev, dh_prev = dstate[0], states[0, t], dstate_prev[0]
    H = h_prev.shape[1]
    _gate_gradients(cache_t, dh, h_prev, dxproj_t, scratch_t, 0, H)
    np.dot(scratch_t, weight_hh, dh_prev)
    _add_reset_path(cache_t, dh, dh_prev, 0, H)


@kernel
def _gate_gradients(cache_t, dh, h_prev, dxproj_t, dhproj_t, lo, hi):
    """The units [lo, hi) of every row: dxproj_t's r, z and n blocks, and dhproj_t's (its r and
    z as dxproj_t's, its n block the gradient of hn)."""
    for b in range(h_prev.shape[0]):
        _gate_gradients_row(cache_t[b], dh[b], h_prev[b], dxproj_t[b], dhproj_t[b], lo, hi)


@intrinsic
def _gate_gradients_row(typingctx, row, dh, h_prev, dx, dhp, lo, hi):
    """_gate_gradients over one row (row (4H,), dh, h_prev (H,), dx, dhp (3H,)): the
    pre-activation gradients dr, dz, dn of r, z and n's input part, and dhn that of W_hn h_prev +
    b_hn; on vectors (seqkit.cells.lanes), to the bit what the scalar loop of
    tests/cells/test_lanes.py computes."""
    return row_kernel(_gate_gradient_units, 1, (row, dh, h_prev, dx, dhp, lo, hi))


def _gate_gradient_units(lanes, pointers, H, j, mask):
    row, dh, h_prev, dx, dhp = pointers
    one = lanes.constant(1)
    r_at, z_at, n_at, hn_at = (lanes.block(j, H, n) for n in range(4))
    r, z, n, hn = (lanes.load(row, at, mask) for at in (r_at, z_at, n_at, hn_at))
    dh = lanes.load(dh, j, mask)
    dn = lanes.mul(lanes.mul(dh, lanes.sub(one, z)), lanes.sub(one, lanes.mul(n, n)))
    dr = lanes.mul(lanes.mul(lanes.mul(dn, hn), r), lanes.sub(one, r))
    dz = lanes.mul(lanes.mul(lanes.mul(dh, lanes.sub(lanes.load(h_prev, j, mask), n)), z), lanes.sub(one, z))
    for value, at in ((dr, r_at), (dz, z_at)):
        lanes.store(value, dx, at, mask)
        lanes.store(value, dhp, at, mask)
    lanes.store(dn, dx, n_at, mask)
    lanes.store(lanes.mul(dn, r), dhp, n_at, mask)


@kernel
def _add_reset_path(cache_t, dh, dh_prev, lo, hi):
    """dh_prev += dh * z over the units [lo, hi): the path through h' = ... + z * h."""
    for b in range(dh.shape[0]):
        _reset_path_row(cache_t[b], dh[b], dh_prev[b], lo, hi)


@intrinsic
def _reset_path_row(typingctx, row, dh, dh_prev, lo, hi):
    """_add_reset_path over one row (row (4H,), dh, dh_prev (H,)), on vectors."""
    return row_kernel(_reset_path_units, 1, (row, dh, dh_prev, lo, hi))


def _reset_path_units(lanes, pointers, H, j, mask):
    row, dh, dh_prev = pointers
    z = lanes.load(row, lanes.block(j, H, 1), mask)
    lanes.store(lanes.add(lanes.load(dh_prev, j, mask), lanes.mul(lanes.load(dh, j, mask), z)), dh_prev, j, mask)


@kernel
def _forward_units(xproj, states, packed, bias_hh, cache, columns, per_tile, rows, board, shares, flags, thread):
    """gru_forward, one thread's part: each step, the panels it takes (next_panel), then their
    hidden units' gates and state."""
    H = states.shape[3]
    span = packed.shape[2] // GATES
    taken = np.zeros((shares[-1], 2), np.int64)
    for t in range(xproj.shape[0]):
        ahead = min(t + 1, xproj.shape[0] - 1)  # the step whose first panel's lines are asked for
        count = multiply_taken(board, shares, t, thread, taken, states[0, t], packed, H, xproj[t], cache[t], xproj[ahead],
                               cache[ahead], columns, per_tile, rows)
        for run in range(count):
            lo, hi = units_of(taken[run], span, H)
            _finish_gates(cache[t], xproj[t], bias_hh, states[0, t], states[0, t + 1], lo, hi, True)
        wait_for(flags, thread, t + 1)


def gru_forward(xproj, states, weight_hh, bias_hh, cache):
    """T steps: states (1, T + 1, B, H), cache (T, B, 4H), on weights packed for the sequence."""
    B, H = states.shape[2], states.shape[3]
    width, (groups, per_tile) = lanes(states.dtype), forward_shape(B, GATES, FORWARD_GROUPS, FORWARD_TILE)
    packed = pack_forward(weight_hh, GATES, groups, width)
    columns = forward_columns(H, groups, width, *_layout(H), per_tile)
    run_split(_forward_units, (xproj, states, packed, bias_hh, cache, columns, per_tile, FORWARD_ROWS), packed.shape[0],
              threads_for(2 * B * GATES * H * H, packed.shape[0]), xproj.shape[0])


@kernel
def _backward_units(dy, dfinal, states, cache, packed, from_dy, from_zero, groups, rows, dxproj, scratch, dh, dinitial,
                    board, shares, flags, thread):
    """gru_backward's recurrence, one thread's part: each step, the gate gradients of the hidden
    units whose state gradient it computed, then (once every thread has written its units')
    the panels of dh_prev = dy[t - 1] + dhproj_t @ W_hh + dh * z it takes. dh (2, B, H): the
    state's gradient, in turn."""
    T, B, H = dy.shape
    span = packed.shape[2]
    taken, count = own_share(shares, thread)
    lo, hi = units_of(taken[0], span, H)
    dh[0, :, lo:hi] = dfinal[0, :, lo:hi] + dy[T - 1, :, lo:hi]
    for t in range(T - 1, -1, -1):
        now, then = (T - 1 - t) % 2, (T - t) % 2
        for run in range(count):
            lo, hi = units_of(taken[run], span, H)
            _gate_gradients(cache[t], dh[now], states[0, t], dxproj[t], scratch[t], lo, hi)
        wait_for(flags, thread, T - t)
        out = dh[then] if t > 0 else dinitial[0]
        count = multiply_taken(board, shares, T - 1 - t, thread, taken, scratch[t], packed, GATES * H,
                               dy[t - 1] if t > 0 else dy[0], out, dy[max(t - 2, 0)], dh[now],
                               from_dy if t > 0 else from_zero, groups, rows)
        for run in range(count):
            lo, hi = units_of(taken[run], span, H)
            _add_reset_path(cache[t], dh[now], out, lo, hi)


@kernel
def _weight_gradients(scratch, states, dweight_hh, dbias_hh):
    """dweight_hh = sum over steps of dhproj_t.T @ h_prev, dbias_hh the sum of dhproj's rows."""
    T, B, GH = scratch.shape
    rows = scratch.reshape(T * B, GH)
    np.dot(rows.T, states[0, :T].reshape(T * B, states.shape[3]), dweight_hh)
    column_sums(rows, dbias_hh)


def gru_backward(dy, dfinal, states, cache, weight_hh, dxproj, dinitial, dweight_hh, dbias_hh, scratch):
    """BPTT through gru_forward (see seqkit.cells.registry for the arguments); scratch (T, B, 3H)."""
    T, B, H = dy.shape
    width, groups = lanes(dy.dtype), backward_groups(B, BACKWARD_GROUPS)
    packed = pack_backward(weight_hh, groups, width)
    from_dy, from_zero = (backward_columns(H, groups, width, start) for start in (True, False))
    dh = aligned_empty((2, B, H), dy.dtype)
    run_split(_backward_units, (dy, dfinal, states, cache, packed, from_dy, from_zero, groups, BACKWARD_ROWS, dxproj,
                                scratch, dh, dinitial), packed.shape[0],
              threads_for(2 * B * GATES * H * H, packed.shape[0]), T)
    _weight_gradients(scratch, states, dweight_hh, dbias_hh)


def gru_pack(weight_hh):
    """weight_hh (3H, H) packed for gru_step_packed (panels for a batch of 1), as one 2-d array."""
    packed = pack_forward(weight_hh, GATES, WIDE // GATES, lanes(weight_hh.dtype))
    return packed.reshape(-1, packed.shape[2])


@kernel
def gru_step_packed(xproj_t, states, t, packed, bias_hh, cache_t):
    """gru_step_forward on gru_pack's weights, as gru_forward computes a step."""
    H = states.shape[3]
    panels = packed.reshape(-1, H, packed.shape[1])
    width = packed.shape[1] // WIDE
    columns = forward_columns(H, WIDE // GATES, width, *_layout(H), WIDE)
    for p in range(panels.shape[0]):
        panel_product(states[0, t], panels, p, H, xproj_t, cache_t, columns, WIDE, 1)
    _finish_gates(cache_t, xproj_t, bias_hh, states[0, t], states[0, t + 1], 0, H, True)


CELL = Cell("gru", gates=3, state_size=1, cache_size=4, scratch_size=3,
            kernels=Kernels(gru_step_forward, gru_step_backward, gru_forward, gru_backward, gru_pack, gru_step_packed))
