"""Kernels for the layers around the recurrent cells.

Letters: T time steps, B batch, I input size, M output size, V vocabulary size, N = T * B.
Token ids are an integer array (T, B); activations are C-contiguous (T, B, features).
Every kernel writes into arrays the caller passes (fresh, or reused from a Workspace).
"""
import numpy as np

from seqkit._jit import kernel
from seqkit.cells.activations import column_sums, exp_nonpositive


@kernel
def linear_forward(x, weight, bias, out):
    """out = x @ weight.T + bias for x (T, B, I), weight (M, I), bias (M,), out (T, B, M): one
    matrix product over all T * B rows."""
    T, B, I = x.shape
    rows = out.reshape(T * B, weight.shape[0])
    np.dot(x.reshape(T * B, I), weight.T, rows)
    for n in range(T * B):
        _add(rows[n], bias)


@kernel
def _add(out, a):
    for m in range(out.size):
        out[m] += a[m]


@kernel
def linear_backward(dout, x, weight, dx, dweight, dbias):
    """Gradients of linear_forward given dout (T, B, M): writes dx (T, B, I), dweight (M, I)
    and dbias (M,)."""
    T, B, I = x.shape
    dout_rows = dout.reshape(T * B, weight.shape[0])
    np.dot(dout_rows, weight, dx.reshape(T * B, I))
    np.dot(dout_rows.T, x.reshape(T * B, I), dweight)
    column_sums(dout_rows, dbias)


@kernel
def gather_rows(tokens, table, out):
    """out[t, b] = table[tokens[t, b]] for tokens (T, B), table (V, M) and out (T, B, M): an
    embedding lookup, and also x @ weight_ih.T for one-hot x when table is weight_ih.T."""
    T, B = tokens.shape
    M = table.shape[1]
    for t in range(T):
        for b in range(B):
            row = tokens[t, b]
            for m in range(M):
                out[t, b, m] = table[row, m]


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
def softmax_cross_entropy(logits, targets, ignore, grad_scale, dlogits):
    """Fused softmax and cross-entropy for logits (N, V) and integer targets (N,).

    Log-sum-exp is taken after subtracting each row's maximum, so no logit overflows. Rows
    whose target equals `ignore` count for nothing (as PyTorch's ignore_index). Returns the
    summed loss (a float64, accumulated in float64) and writes
    dlogits (N, V) = (softmax(logits) - onehot(targets)) * grad_scale, zero on ignored rows."""
    N, V = logits.shape
    total = 0.0
    maxima, sums = np.empty(8, logits.dtype), np.empty(8)  # _row_max's and _row_sum's running values
    for n in range(N):
        if targets[n] == ignore:
            dlogits[n] = 0
            continue
        row, drow = logits[n], dlogits[n]
        top = _row_max(row, maxima)
        for v in range(V):  # vectorized: no sum in this loop
            drow[v] = exp_nonpositive(row[v] - top)
        norm = _row_sum(drow, sums)
        total += np.log(norm) + top - row[targets[n]]
        scale = grad_scale / norm
        for v in range(V):
            drow[v] = drow[v] * scale
        drow[targets[n]] -= grad_scale
    return total


# A reduction over a row, written as one running total, is a chain of dependent additions
# that LLVM may not reorder (IEEE order, no fastmath): a word-level vocabulary made the
# softmax's max and sum the slowest part of the output layer. Eight independent running
# totals, combined at the end, let the CPU overlap them. Kept in a small array, which LLVM
# vectorizes: as eight scalar locals they ran 15% slower (700 rows of 10,000). The caller
# passes the array: allocated for each row, it took half the time of a row of 65 (the
# character-level softmax: 0.23 and 0.21 ms against 0.12 and 0.08 for 3,200 rows on Zen 5).

@kernel
def _row_max(row, m):
    """The largest element of a 1-d array (NaN if it holds one, as ndarray.max); m: scratch
    (8,) of its dtype."""
    m[:] = row[0]
    n = row.size - row.size % 8
    for start in range(0, n, 8):
        for k in range(8):
            value = row[start + k]
            m[k] = value if value > m[k] or value != value else m[k]
    for k in range(n, row.size):
        value = row[k]
        m[0] = value if value > m[0] or value != value else m[0]
    top = m[0]
    for k in range(1, 8):
        top = m[k] if m[k] > top or m[k] != m[k] else top
    return top


@kernel
def _row_sum(row, s):
    """The sum of a 1-d array, accumulated in float64; s: scratch (8,) float64."""
    s[:] = 0
    n = row.size - row.size % 8
    for start in range(0, n, 8):
        for k in range(8):
            s[k] += row[start + k]
    for k in range(n, row.size):
        s[0] += row[k]
    return s.sum()


@kernel
def output_loss(x, weight, bias, targets, ignore, grad_scale, logits, dlogits):
    """The output layer and softmax_cross_entropy over x (N, H), a block of rows at a time, so
    that the logits (N, V) never exist whole: a word-level vocabulary makes them the biggest
    array of a step. logits (R, V) is the scratch for one block of R rows. dlogits is (N, V) to
    keep every row's gradient for backward, or (R, V) when only the loss is wanted: then it too
    is scratch. Returns the summed loss, as softmax_cross_entropy."""
    N, R = x.shape[0], logits.shape[0]
    keep = dlogits.shape[0] == N
    total = 0.0
    for start in range(0, N, R):
        stop = min(start + R, N)
        block = logits[:stop - start]
        np.dot(x[start:stop], weight.T, block)
        for n in range(stop - start):
            _add(block[n], bias)
        dblock = dlogits[start:stop] if keep else dlogits[:stop - start]
        total += softmax_cross_entropy(block, targets[start:stop], ignore, grad_scale, dblock)
    return total
