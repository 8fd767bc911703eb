"""Kernels for the layers around the recurrent cells.

Letters: T time steps, B batch, I input size, M output size, V vocabulary size, N = T * B.
Token ids are an integer array (T, B); activations are C-contiguous (T, B, features).
"""
import numpy as np

from seqkit._jit import kernel


@kernel
def linear_forward(x, weight, bias):
    """out = x @ weight.T + bias for x (T, B, I), weight (M, I), bias (M,): one matrix product
    over all T * B rows. Returns out (T, B, M)."""
    T, B, I = x.shape
    M = weight.shape[0]
    out = np.dot(x.reshape(T * B, I), weight.T)
    for n in range(T * B):
        for m in range(M):
            out[n, m] += bias[m]
    return out.reshape(T, B, M)


@kernel
def linear_backward(dout, x, weight):
    """Gradients of linear_forward given dout (T, B, M). Returns dx (T, B, I), dweight (M, I),
    dbias (M,)."""
    T, B, I = x.shape
    M = weight.shape[0]
    dout2 = dout.reshape(T * B, M)
    dx = np.dot(dout2, weight).reshape(T, B, I)
    dweight = np.dot(dout2.T, x.reshape(T * B, I))
    dbias = dout2.sum(axis=0)
    return dx, dweight, dbias


@kernel
def gather_rows(tokens, table):
    """out[t, b] = table[tokens[t, b]] for tokens (T, B) and table (V, M): an embedding lookup,
    and also x @ weight_ih.T for one-hot x when table is weight_ih.T. Returns out (T, B, M)."""
    T, B = tokens.shape
    M = table.shape[1]
    out = np.empty((T, B, M), table.dtype)
    for t in range(T):
        for b in range(B):
            row = tokens[t, b]
            for m in range(M):
                out[t, b, m] = table[row, m]
    return out


@kernel
def scatter_add_rows(dout, tokens, dtable):
    """Backward of gather_rows: dtable[tokens[t, b]] += dout[t, b], in place, for dout (T, B, M)
    and dtable (V, M). Repeated tokens accumulate."""
    T, B = tokens.shape
    for t in range(T):
        for b in range(B):
            row = tokens[t, b]
            for m in range(dout.shape[2]):
                dtable[row, m] += dout[t, b, m]


@kernel
def softmax_cross_entropy(logits, targets, ignore, grad_scale):
    """Fused softmax and cross-entropy for logits (N, V) and integer targets (N,).

    Log-sum-exp is taken after subtracting each row's maximum, so no logit overflows. Rows
    whose target equals `ignore` count for nothing (as PyTorch's ignore_index). Returns the
    summed loss (a float64, accumulated in float64) and
    dlogits = (softmax(logits) - onehot(targets)) * grad_scale, shape (N, V), zero on ignored rows."""
    N, V = logits.shape
    dlogits = np.zeros_like(logits)
    total = 0.0
    for n in range(N):
        if targets[n] == ignore:
            continue
        top = logits[n, 0]
        for v in range(1, V):
            top = max(top, logits[n, v])
        norm = 0.0
        for v in range(V):
            e = np.exp(logits[n, v] - top)
            dlogits[n, v] = e
            norm += e
        total += np.log(norm) + top - logits[n, targets[n]]
        for v in range(V):
            dlogits[n, v] = dlogits[n, v] / norm * grad_scale
        dlogits[n, targets[n]] -= grad_scale
    return total, dlogits
