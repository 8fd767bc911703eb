"""Elman RNN kernels, PyTorch's equation:

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),    act = tanh or relu

One gate block (G = 1). State h: states[0], post-activation. No cache (backward derives the
activation's derivative from h) and no scratch. The verbs come in a tanh and a relu version,
the same code with the activation fixed, so that each has the signature of
seqkit.cells.registry and the sampler can call its step through a function pointer.

The sequence kernels run on packed weights (seqkit.cells.recurrence): a forward panel holds 2 W
hidden units, its product accumulates onto xproj_t straight into the next state, where the
activation is applied. The step kernels are the plain per-step version (products by BLAS);
the packed steps are the sampler's, to the bit what the sequence kernels compute.
"""
import numpy as np
from numba.extending import intrinsic

from seqkit._jit import kernel
from seqkit.cells.activations import column_sums, relu_of_sum, tanh_lanes, tanh_of_sum
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

NONLINEARITIES = ("tanh", "relu")
FORWARD_GROUPS = FORWARD_TILE = 2  # a forward panel and its tile: 2 unit groups of W hidden units
BACKWARD_GROUPS = 2  # unit groups of W hidden units in a backward panel (and vectors in its tile)
FORWARD_ROWS, BACKWARD_ROWS = tile_rows(FORWARD_TILE), tile_rows(BACKWARD_GROUPS)


@kernel
def _step_forward(xproj_t, h_prev, weight_hh, bias_hh, relu, h):
    """h = act(xproj_t + h_prev @ weight_hh.T + bias_hh), all (B, H)."""
    np.dot(h_prev, weight_hh.T, h)
    one = h.dtype.type(1)
    for b in range(h.shape[0]):
        if relu:
            relu_of_sum(h[b], xproj_t[b], bias_hh)
        else:
            tanh_of_sum(h[b], xproj_t[b], bias_hh, one)


@kernel
def _activate(h, bias_hh, relu, lo, hi):
    """h = act(h + bias_hh) over the units [lo, hi) of every row, in place."""
    for b in range(h.shape[0]):
        _activate_row(h[b], bias_hh, lo, hi, relu)


@intrinsic
def _activate_row(typingctx, h, bias_hh, lo, hi, relu):
    """h = act(h + bias_hh) over the units [lo, hi) of one row, in place, on vectors
    (seqkit.cells.lanes): tanh, or with relu max(s, 0) as `s if s > 0 else 0` (NaN to 0)."""
    return row_kernel(_activate_units, 0, (h, bias_hh, lo, hi, relu))


def _activate_units(lanes, pointers, H, j, mask, relu):
    h, bias = pointers
    s = lanes.add(lanes.load(h, j, mask), lanes.load(bias, j, mask))
    lanes.store(lanes.select(lanes.above_zero(s), s, lanes.constant(0)) if relu else tanh_lanes(lanes, s), h, j, mask)


@kernel
def _step_backward(dh, h, weight_hh, relu, dpre, dh_prev):
    """dpre = dh * act'(pre-activation) from the output h; dh_prev = dpre @ weight_hh."""
    _activation_gradients(dh, h, relu, dpre, 0, h.shape[1])
    np.dot(dpre, weight_hh, dh_prev)


@kernel
def _activation_gradients(dh, h, relu, dpre, lo, hi):
    """dpre = dh * act'(pre-activation) over the units [lo, hi) of every row, from h = act(...)."""
    for b in range(h.shape[0]):
        _activation_gradient_row(dh[b], h[b], dpre[b], lo, hi, relu)


@intrinsic
def _activation_gradient_row(typingctx, dh, h, dpre, lo, hi, relu):
    """dpre = dh * act'(pre-activation) over the units [lo, hi) of one row, from the output h =
    act(pre-activation): dh * (1 - h * h) for tanh, `dh if h > 0 else 0` for relu; on vectors."""
    return row_kernel(_activation_gradient_units, 0, (dh, h, dpre, lo, hi, relu))


def _activation_gradient_units(lanes, pointers, H, j, mask, relu):
    dh, h, dpre = pointers
    dh, h = lanes.load(dh, j, mask), lanes.load(h, j, mask)
    gradient = (lanes.select(lanes.above_zero(h), dh, lanes.constant(0)) if relu else
                lanes.mul(dh, lanes.sub(lanes.constant(1), lanes.mul(h, h))))
    lanes.store(gradient, dpre, j, mask)


@kernel
def _columns(H, groups, width, per_tile):
    """The forward tiles' columns: onto xproj_t, into the next state."""
    return forward_columns(H, groups, width, np.zeros(1, np.int64), np.zeros(1, np.int64), per_tile)


@kernel
def _forward_units(xproj, states, packed, bias_hh, relu, columns, per_tile, rows, board, shares, flags, thread):
    """The forward recurrence, one thread's part: each step, the panels it takes (next_panel),
    then their hidden units' activation."""
    H = states.shape[3]
    taken = np.zeros((shares[-1], 2), np.int64)
    for t in range(xproj.shape[0]):
        ahead = min(t + 1, xproj.shape[0] - 1)  # the step whose first panel's lines are asked for
        count = multiply_taken(board, shares, t, thread, taken, states[0, t], packed, H, xproj[t], states[0, t + 1],
                               xproj[ahead], states[0, ahead + 1],
                               columns, per_tile, rows)
        for run in range(count):
            lo, hi = units_of(taken[run], packed.shape[2], H)
            _activate(states[0, t + 1], bias_hh, relu, lo, hi)
        wait_for(flags, thread, t + 1)


def _forward(xproj, states, weight_hh, bias_hh, relu):
    B, H = states.shape[2], states.shape[3]
    width, (groups, per_tile) = lanes(states.dtype), forward_shape(B, 1, FORWARD_GROUPS, FORWARD_TILE)
    packed = pack_forward(weight_hh, 1, groups, width)
    run_split(_forward_units, (xproj, states, packed, bias_hh, relu, _columns(H, groups, width, per_tile), per_tile,
                               FORWARD_ROWS),
              packed.shape[0], threads_for(2 * B * H * H, packed.shape[0]), xproj.shape[0])


@kernel
def _backward_units(dy, dfinal, states, packed, relu, from_dy, from_zero, groups, rows, dxproj, dh, dinitial,
                    board, shares, flags, thread):
    """The backward recurrence, one thread's part: each step, the pre-activation gradients of
    the hidden units whose state gradient it computed, then (once every thread has written its
    units') the panels of dh_prev = dy[t - 1] + dpre_t @ W_hh it takes. dh (2, B, H): the
    state's gradient, in turn."""
    T, B, H = dy.shape
    taken, count = own_share(shares, thread)
    lo, hi = units_of(taken[0], packed.shape[2], H)
    dh[0, :, lo:hi] = dfinal[0, :, lo:hi] + dy[T - 1, :, lo:hi]
    for t in range(T - 1, -1, -1):
        now, then = (T - 1 - t) % 2, (T - t) % 2
        for run in range(count):
            lo, hi = units_of(taken[run], packed.shape[2], H)
            _activation_gradients(dh[now], states[0, t + 1], relu, dxproj[t], lo, hi)
        wait_for(flags, thread, T - t)
        count = multiply_taken(board, shares, T - 1 - t, thread, taken, dxproj[t], packed, H,
                               dy[t - 1] if t > 0 else dy[0], dh[then] if t > 0 else dinitial[0], dy[max(t - 2, 0)], dh[now],
                               from_dy if t > 0 else from_zero, groups, rows)


@kernel
def _weight_gradients(dxproj, states, dweight_hh, dbias_hh):
    T, B, H = dxproj.shape
    rows = dxproj.reshape(T * B, H)
    np.dot(rows.T, states[0, :T].reshape(T * B, H), dweight_hh)
    column_sums(rows, dbias_hh)


def _backward(dy, dfinal, states, weight_hh, relu, dxproj, dinitial, dweight_hh, dbias_hh):
    T, B, H = dy.shape
    width, groups = lanes(dy.dtype), backward_groups(B, BACKWARD_GROUPS)
    packed = pack_backward(weight_hh, groups, width)
    from_dy, from_zero = (backward_columns(H, groups, width, start) for start in (True, False))
    dh = aligned_empty((2, B, H), dy.dtype)
    run_split(_backward_units, (dy, dfinal, states, packed, relu, from_dy, from_zero, groups, BACKWARD_ROWS, dxproj,
                                dh, dinitial), packed.shape[0], threads_for(2 * B * H * H, packed.shape[0]), T)
    _weight_gradients(dxproj, states, dweight_hh, dbias_hh)


def rnn_pack(weight_hh):
    """weight_hh (H, H) packed for the packed steps (panels for a batch of 1), as one 2-d array."""
    packed = pack_forward(weight_hh, 1, WIDE, lanes(weight_hh.dtype))
    return packed.reshape(-1, packed.shape[2])


@kernel
def _step_packed(xproj_t, states, t, packed, bias_hh, relu):
    H = states.shape[3]
    panels = packed.reshape(-1, H, packed.shape[1])
    columns = _columns(H, WIDE, packed.shape[1] // WIDE, WIDE)
    for p in range(panels.shape[0]):
        panel_product(states[0, t], panels, p, H, xproj_t, states[0, t + 1], columns, WIDE, 1)
    _activate(states[0, t + 1], bias_hh, relu, 0, H)


@kernel
def rnn_tanh_step_forward(xproj_t, states, t, weight_hh, bias_hh, cache_t):
    _step_forward(xproj_t, states[0, t], weight_hh, bias_hh, False, states[0, t + 1])


@kernel
def rnn_tanh_step_backward(dstate, states, t, cache_t, weight_hh, dxproj_t, dstate_prev, scratch_t):
    _step_backward(dstate[0], states[0, t + 1], weight_hh, False, dxproj_t, dstate_prev[0])


def rnn_tanh_forward(xproj, states, weight_hh, bias_hh, cache):
    _forward(xproj, states, weight_hh, bias_hh, False)


def rnn_tanh_backward(dy, dfinal, states, cache, weight_hh, dxproj, dinitial, dweight_hh, dbias_hh, scratch):
    _backward(dy, dfinal, states, weight_hh, False, dxproj, dinitial, dweight_hh, dbias_hh)


@kernel
def rnn_tanh_step_packed(xproj_t, states, t, packed, bias_hh, cache_t):
    _step_packed(xproj_t, states, t, packed, bias_hh, False)


@kernel
def rnn_relu_step_forward(xproj_t, states, t, weight_hh, bias_hh, cache_t):
    _step_forward(xproj_t, states[0, t], weight_hh, bias_hh, True, states[0, t + 1])


@kernel
def rnn_relu_step_backward(dstate, states, t, cache_t, weight_hh, dxproj_t, dstate_prev, scratch_t):
    _step_backward(dstate[0], states[0, t + 1], weight_hh, True, dxproj_t, dstate_prev[0])


def rnn_relu_forward(xproj, states, weight_hh, bias_hh, cache):
    _forward(xproj, states, weight_hh, bias_hh, True)


def rnn_relu_backward(dy, dfinal, states, cache, weight_hh, dxproj, dinitial, dweight_hh, dbias_hh, scratch):
    _backward(dy, dfinal, states, weight_hh, True, dxproj, dinitial, dweight_hh, dbias_hh)


@kernel
def rnn_relu_step_packed(xproj_t, states, t, packed, bias_hh, cache_t):
    _step_packed(xproj_t, states, t, packed, bias_hh, True)


TANH = Kernels(rnn_tanh_step_forward, rnn_tanh_step_backward, rnn_tanh_forward, rnn_tanh_backward, rnn_pack,
               rnn_tanh_step_packed)
RELU = Kernels(rnn_relu_step_forward, rnn_relu_step_backward, rnn_relu_forward, rnn_relu_backward, rnn_pack,
               rnn_relu_step_packed)

CELL = Cell("rnn", gates=1, state_size=1, kernels=TANH,
            options={"nonlinearity": "tanh"}, choices={"nonlinearity": NONLINEARITIES},
            variants=lambda nonlinearity: TANH if nonlinearity == "tanh" else RELU)
