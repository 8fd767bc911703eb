"""An LSTM layer in a feature-major layout, timed against seqkit's: a measured direction for
batched LSTM speed (README "Performance", issue 4).

    python bench/layout_prototype.py

seqkit keeps activations batch-major, (T, B, features): each step's product is h @ W_hh.T,
(B, H) by (H, 4H), which OpenBLAS runs at about half its peak at batch 32. Keeping them
feature-major within each step, (T, features, B), makes the product W_hh @ h, (4H, H) by (H, B),
the orientation OpenBLAS runs at about 80% there; and each gate's block of a step, (H, B),
is then one contiguous run, so the gate math is a few long vectorized loops (bias repeated
over the batch once per call).

Two measurements, each checked against seqkit's results: (1) the forward recurrence alone, from
an input projection already in that layout; (2) a whole layer, as seqkit's LSTM.forward +
LSTM.backward do it: batch-major input and output, the input projection as per-step products
in the fast orientation, BPTT with the same row kernels, the weight gradients as single
products after copying the gate gradients to (4H, T*B) in B-long runs. (1) gains a third; (2)
gains next to nothing, because the per-step input products, the layout changes at the layer's
edges and the copies cost what the recurrence saves.
"""
from timing import median_ms, use_cpu_kernels

use_cpu_kernels()  # before numpy loads

import numpy as np  # noqa: E402

import seqkit  # noqa: E402
from seqkit._jit import kernel  # noqa: E402
from seqkit.cells.activations import sigmoid_of_sum, tanh_of_sum  # noqa: E402
from seqkit.cells.lstm import _lstm_gate_gradients, _lstm_state, lstm_forward  # noqa: E402

T = 100
CONFIGS = [(128, 8), (128, 32), (256, 32), (512, 32), (128, 64), (512, 64)]


@kernel
def lstm_forward_feature_major(xproj, weight_hh, bias_repeated, hs, cs, gates):
    """lstm_forward with xproj, gates (T, 4H, B) and hs, cs (T + 1, H, B); bias_repeated
    (4H * B,) is bias_hh with each element repeated B times."""
    G, B = xproj.shape[1], xproj.shape[2]
    n = G // 4 * B  # one gate's block of a step
    one = hs.dtype.type(1)
    for t in range(xproj.shape[0]):
        np.dot(weight_hh, hs[t], gates[t])
        row, x = gates[t].reshape(G * B), xproj[t].reshape(G * B)
        sigmoid_of_sum(row[:2 * n], x[:2 * n], bias_repeated[:2 * n], one)  # i, f
        tanh_of_sum(row[2 * n:3 * n], x[2 * n:3 * n], bias_repeated[2 * n:3 * n], one)  # g
        sigmoid_of_sum(row[3 * n:], x[3 * n:], bias_repeated[3 * n:], one)  # o
        _lstm_state(row[:n], row[n:2 * n], row[2 * n:3 * n], row[3 * n:], cs[t].reshape(n),
                    cs[t + 1].reshape(n), hs[t + 1].reshape(n), one)


@kernel
def layer_forward_feature_major(x, weight_ih, weight_hh, bias_repeated, xproj, hs, cs, gates, y):
    """A whole LSTM layer's forward from batch-major x (T, B, I) to batch-major y (T, B, H),
    feature-major inside: xproj, gates (T, 4H, B); hs, cs (T + 1, H, B), hs[0], cs[0] given."""
    T, B, H = y.shape
    for t in range(T):
        np.dot(weight_ih, x[t].T, xproj[t])
    lstm_forward_feature_major(xproj, weight_hh, bias_repeated, hs, cs, gates)
    for t in range(T):
        for b in range(B):
            for j in range(H):
                y[t, b, j] = hs[t + 1, j, b]


@kernel
def copy_runs(source, target):
    """target (R, T * B) from source (T, R, B), a B-long run at a time."""
    T, R, B = source.shape
    for r in range(R):
        row = target[r]
        for t in range(T):
            run = source[t, r]
            for b in range(B):
                row[t * B + b] = run[b]


@kernel
def layer_backward_feature_major(dy, x, weight_ih, weight_hh, hs, cs, gates, scratch, dweight_ih, dweight_hh,
                                 dbias, dx):
    """BPTT through layer_forward_feature_major from batch-major dy (T, B, H), the final state's
    gradient zero: the weight and bias gradients and batch-major dx (T, B, I)."""
    T, B, H = dy.shape
    G, n = 4 * H, H * B
    one = dy.dtype.type(1)
    dgates, dgates_runs, hs_runs, dy_fm, dh, dc, dh_prev, dc_prev = scratch
    for t in range(T):
        for b in range(B):
            for j in range(H):
                dy_fm[t, j, b] = dy[t, b, j]
    dh[:] = dy_fm[T - 1]
    dc[:] = 0
    for t in range(T - 1, -1, -1):
        row, drow = gates[t].reshape(G * B), dgates[t].reshape(G * B)
        _lstm_gate_gradients(row[:n], row[n:2 * n], row[2 * n:3 * n], row[3 * n:], cs[t].reshape(n),
                             cs[t + 1].reshape(n), dh.reshape(n), dc.reshape(n), drow[:n], drow[n:2 * n],
                             drow[2 * n:3 * n], drow[3 * n:], dc_prev.reshape(n), one)
        np.dot(weight_hh.T, dgates[t], dh_prev)
        if t > 0:
            np.add(dh_prev, dy_fm[t - 1], dh)
            dc[:] = dc_prev
    copy_runs(dgates, dgates_runs)
    copy_runs(hs[:T], hs_runs)
    np.dot(dgates_runs, hs_runs.T, dweight_hh)
    x_rows = x.reshape(T * B, x.shape[2])
    np.dot(dgates_runs, x_rows, dweight_ih)
    for r in range(G):
        dbias[r] = dgates_runs[r].sum()
    np.dot(dgates_runs.T, weight_ih, dx.reshape(T * B, x.shape[2]))


def whole_layer(hidden, batch):
    """ms of seqkit's LSTM layer forward + backward and of the feature-major one, and the largest
    relative difference between their outputs and gradients."""
    rng = np.random.default_rng(0)
    layer = seqkit.LSTM(hidden, hidden, seed=0)
    p, G = layer.params, 4 * hidden
    x = rng.standard_normal((T, batch, hidden)).astype(np.float32)
    dy = (0.01 * rng.standard_normal((T, batch, hidden))).astype(np.float32)
    workspace, grads = seqkit.Workspace(), {name: np.empty_like(a) for name, a in p.items()}

    def ours():
        y, _, cache = layer.forward(x, None, workspace)
        return y, layer.backward(dy, None, cache, grads, workspace)[1]

    ours_ms = median_ms(ours)
    y_ours, dx_ours = (a.copy() for a in ours())

    f32 = np.float32
    xproj, gates = np.empty((T, G, batch), f32), np.empty((T, G, batch), f32)
    hs, cs = np.zeros((T + 1, hidden, batch), f32), np.zeros((T + 1, hidden, batch), f32)
    y, dx = np.empty((T, batch, hidden), f32), np.empty_like(x)
    scratch = (np.empty((T, G, batch), f32), np.empty((G, T * batch), f32), np.empty((hidden, T * batch), f32),
               np.empty((T, hidden, batch), f32), *(np.empty((hidden, batch), f32) for _ in range(4)))
    dweight_ih, dweight_hh, dbias = np.empty_like(p["weight_ih"]), np.empty_like(p["weight_hh"]), np.empty(G, f32)
    bias_repeated = np.repeat(p["bias_ih"] + p["bias_hh"], batch)

    def prototype():
        layer_forward_feature_major(x, p["weight_ih"], p["weight_hh"], bias_repeated, xproj, hs, cs, gates, y)
        layer_backward_feature_major(dy, x, p["weight_ih"], p["weight_hh"], hs, cs, gates, scratch, dweight_ih,
                                     dweight_hh, dbias, dx)

    prototype_ms = median_ms(prototype)
    pairs = [(y, y_ours), (dx, dx_ours), (dweight_ih, grads["weight_ih"]), (dweight_hh, grads["weight_hh"]),
             (dbias, grads["bias_hh"])]
    difference = max(np.abs(a - b).max() / np.abs(b).max() for a, b in pairs)
    return ours_ms, prototype_ms, difference


def main():
    print(f"LSTM forward recurrence, T {T}, float32: seqkit's batch-major kernel against the feature-major one")
    for hidden, batch in CONFIGS:
        rng = np.random.default_rng(0)
        xproj = rng.standard_normal((T, batch, 4 * hidden)).astype(np.float32)
        weight_hh = (0.1 * rng.standard_normal((4 * hidden, hidden))).astype(np.float32)
        bias_hh = rng.standard_normal(4 * hidden).astype(np.float32)
        h0 = rng.standard_normal((batch, hidden)).astype(np.float32)
        states = np.zeros((2, T + 1, batch, hidden), np.float32)  # h, c
        states[0, 0] = h0
        gates = np.empty((T, batch, 4 * hidden), np.float32)
        ours = median_ms(lambda: lstm_forward(xproj, states, weight_hh, bias_hh, gates))

        xproj_fm = np.ascontiguousarray(xproj.transpose(0, 2, 1))
        hs_fm, cs_fm = np.zeros((T + 1, hidden, batch), np.float32), np.zeros((T + 1, hidden, batch), np.float32)
        hs_fm[0] = h0.T
        gates_fm = np.empty((T, 4 * hidden, batch), np.float32)
        bias_repeated = np.repeat(bias_hh, batch)
        prototype = median_ms(lambda: lstm_forward_feature_major(xproj_fm, weight_hh, bias_repeated, hs_fm, cs_fm,
                                                                 gates_fm))
        difference = np.abs(hs_fm.transpose(0, 2, 1) - states[0]).max()
        print(f"hidden {hidden:3d} batch {batch:2d}: {ours:7.2f} ms  feature-major {prototype:7.2f} ms "
              f"({100 * (prototype / ours - 1):+4.0f}%), largest difference in h {difference:.1e}", flush=True)
    print(f"\nA whole LSTM layer, forward and backward, input size = hidden, T {T}")
    for hidden, batch in CONFIGS:
        ours, prototype, difference = whole_layer(hidden, batch)
        print(f"hidden {hidden:3d} batch {batch:2d}: {ours:7.2f} ms  feature-major {prototype:7.2f} ms "
              f"({100 * (prototype / ours - 1):+4.0f}%), largest relative difference {difference:.1e}", flush=True)


if __name__ == "__main__":
    main()
