"""Slow plain-numpy references, written step by step from PyTorch's documented equations and
sharing no code with seqkit's kernels: the oracle the compiled forward passes are checked against."""
import numpy as np


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def rnn_reference(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh"):
    """Returns (outputs (T, B, H), h_T)."""
    act = np.tanh if nonlinearity == "tanh" else (lambda a: np.maximum(a, 0))
    outputs = []
    for x_t in x:
        h = act(x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        outputs.append(h)
    return np.stack(outputs), h


def lstm_reference(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """Returns (outputs (T, B, H), h_T, c_T). Gate order i, f, g, o."""
    w_ii, w_if, w_ig, w_io = np.split(w_ih, 4)
    w_hi, w_hf, w_hg, w_ho = np.split(w_hh, 4)
    b_ii, b_if, b_ig, b_io = np.split(b_ih, 4)
    b_hi, b_hf, b_hg, b_ho = np.split(b_hh, 4)
    outputs = []
    for x_t in x:
        i = sigmoid(x_t @ w_ii.T + b_ii + h @ w_hi.T + b_hi)
        f = sigmoid(x_t @ w_if.T + b_if + h @ w_hf.T + b_hf)
        g = np.tanh(x_t @ w_ig.T + b_ig + h @ w_hg.T + b_hg)
        o = sigmoid(x_t @ w_io.T + b_io + h @ w_ho.T + b_ho)
        c = f * c + i * g
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs), h, c


def gru_reference(x, h, w_ih, w_hh, b_ih, b_hh):
    """Returns (outputs (T, B, H), h_T). Gate order r, z, n; r scales W_hn h + b_hn."""
    w_ir, w_iz, w_in = np.split(w_ih, 3)
    w_hr, w_hz, w_hn = np.split(w_hh, 3)
    b_ir, b_iz, b_in = np.split(b_ih, 3)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)
    outputs = []
    for x_t in x:
        r = sigmoid(x_t @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
        z = sigmoid(x_t @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
        n = np.tanh(x_t @ w_in.T + b_in + r * (h @ w_hn.T + b_hn))
        h = (1 - z) * n + z * h
        outputs.append(h)
    return np.stack(outputs), h
