"""Elman RNN kernels, PyTorch's equation:

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),    act = tanh or relu

One gate block (G = 1). State h: states[0], post-activation. No cache (backward derives the
activation's derivative from h) and no scratch. The four verbs come in a tanh and a relu
version, the same code with the activation fixed, so that each has the signature of
seqkit.cells and the sampler can call it through a function pointer.
"""
import numpy as np

from seqkit._jit import kernel
from seqkit.cells.activations import (
    column_sums,
    gradient_product,
    hidden_product,
    relu_of_sum,
    tanh_of_sum,
    weight_for_gradient,
)
from seqkit.cells.registry import Cell, Kernels

NONLINEARITIES = ("tanh", "relu")


@kernel
def _step_forward(xproj_t, h_prev, weight_hh, bias_hh, relu, h):
    """h = act(xproj_t + h_prev @ weight_hh.T + bias_hh), all (B, H)."""
    hidden_product(h_prev, weight_hh, h)
    one = h.dtype.type(1)
    for b in range(h.shape[0]):
        if relu:
            relu_of_sum(h[b], xproj_t[b], bias_hh)
        else:
            tanh_of_sum(h[b], xproj_t[b], bias_hh, one)


@kernel
def _step_backward(dh, h, weight_hh, turned, relu, dpre, dh_prev):
    """dpre = dh * act'(pre-activation) from the output h; dh_prev = dpre @ weight_hh (turned:
    weight_for_gradient's pair, made once per backward)."""
    for b in range(h.shape[0]):
        _activation_gradient(dh[b], h[b], relu, dpre[b])
    gradient_product(dpre, weight_hh, turned, dh_prev)


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
def _backward(dy, dfinal, states, weight_hh, relu, dxproj, dinitial, dweight_hh, dbias_hh):
    T, B, H = dy.shape
    dh = dfinal[0] + dy[T - 1]
    turned = weight_for_gradient(weight_hh, B)
    for t in range(T - 1, -1, -1):
        _step_backward(dh, states[0, t + 1], weight_hh, turned, relu, dxproj[t], dinitial[0])  # dinitial as dh_prev
        if t > 0:
            np.add(dinitial[0], dy[t - 1], dh)
    dpre_rows = dxproj.reshape(T * B, H)
    np.dot(dpre_rows.T, states[0, :T].reshape(T * B, H), dweight_hh)
    column_sums(dpre_rows, dbias_hh)


@kernel
def rnn_tanh_step_forward(xproj_t, states, t, weight_hh, bias_hh, cache_t):
    _step_forward(xproj_t, states[0, t], weight_hh, bias_hh, False, states[0, t + 1])


@kernel
def rnn_tanh_step_backward(dstate, states, t, cache_t, weight_hh, dxproj_t, dstate_prev, scratch_t):
    _step_backward(dstate[0], states[0, t + 1], weight_hh, weight_for_gradient(weight_hh, dxproj_t.shape[0]), False,
                   dxproj_t, dstate_prev[0])


@kernel
def rnn_tanh_forward(xproj, states, weight_hh, bias_hh, cache):
    for t in range(xproj.shape[0]):
        _step_forward(xproj[t], states[0, t], weight_hh, bias_hh, False, states[0, t + 1])


@kernel
def rnn_tanh_backward(dy, dfinal, states, cache, weight_hh, dxproj, dinitial, dweight_hh, dbias_hh, scratch):
    _backward(dy, dfinal, states, weight_hh, False, dxproj, dinitial, dweight_hh, dbias_hh)


@kernel
def rnn_relu_step_forward(xproj_t, states, t, weight_hh, bias_hh, cache_t):
    _step_forward(xproj_t, states[0, t], weight_hh, bias_hh, True, states[0, t + 1])


@kernel
def rnn_relu_step_backward(dstate, states, t, cache_t, weight_hh, dxproj_t, dstate_prev, scratch_t):
    _step_backward(dstate[0], states[0, t + 1], weight_hh, weight_for_gradient(weight_hh, dxproj_t.shape[0]), True,
                   dxproj_t, dstate_prev[0])


@kernel
def rnn_relu_forward(xproj, states, weight_hh, bias_hh, cache):
    for t in range(xproj.shape[0]):
        _step_forward(xproj[t], states[0, t], weight_hh, bias_hh, True, states[0, t + 1])


@kernel
def rnn_relu_backward(dy, dfinal, states, cache, weight_hh, dxproj, dinitial, dweight_hh, dbias_hh, scratch):
    _backward(dy, dfinal, states, weight_hh, True, dxproj, dinitial, dweight_hh, dbias_hh)


TANH = Kernels(rnn_tanh_step_forward, rnn_tanh_step_backward, rnn_tanh_forward, rnn_tanh_backward)
RELU = Kernels(rnn_relu_step_forward, rnn_relu_step_backward, rnn_relu_forward, rnn_relu_backward)

CELL = Cell("rnn", gates=1, state_size=1, kernels=TANH,
            options={"nonlinearity": "tanh"}, choices={"nonlinearity": NONLINEARITIES},
            variants=lambda nonlinearity: TANH if nonlinearity == "tanh" else RELU)
