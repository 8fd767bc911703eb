"""The LSTM forward recurrence in a feature-major layout, timed against seqkit's: the measured
next step for batched LSTM speed (README "Performance", issue 4).

    python bench/layout_prototype.py

seqkit keeps activations batch-major, (T, B, features): each step's product is h @ W_hh.T,
(B, H) by (H, 4H), which OpenBLAS runs at about half its peak at batch 32. Keeping them
feature-major within each step, (T, features, B), makes the product W_hh @ h, (4H, H) by (H, B),
the orientation OpenBLAS runs at about 80% there; and each gate's block of a step, (H, B),
is then one contiguous run, so the gate math is a few long vectorized loops (bias repeated
over the batch once per call). The prototype below is that forward recurrence only, in
seqkit's kernels' style; it checks that it computes the same states as seqkit's lstm_forward
and times both. Not done: the backward pass, the input projections and the output layer in
this layout (dW_hh then wants the gate gradients as (4H, T*B): a copy of B-long runs, not an
element transpose), GRU and RNN.
"""
import os
import sys

if "--keep-coretype" not in sys.argv and "OPENBLAS_CORETYPE" in os.environ:  # before numpy loads
    os.environ.pop("OPENBLAS_CORETYPE")
    os.execv(sys.executable, [sys.executable, *sys.argv])

import time  # noqa: E402

import numpy as np  # noqa: E402

from seqkit._jit import kernel  # noqa: E402
from seqkit.cells.activations import sigmoid_of_sum, tanh_of_sum  # noqa: E402
from seqkit.cells.lstm import _lstm_state, lstm_forward  # noqa: E402

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


def median_ms(run, repeats=21):
    for _ in range(3):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main():
    print(f"LSTM forward recurrence, T {T}, float32: seqkit's batch-major kernel against the feature-major one")
    for hidden, batch in CONFIGS:
        rng = np.random.default_rng(0)
        xproj = rng.standard_normal((T, batch, 4 * hidden)).astype(np.float32)
        weight_hh = (0.1 * rng.standard_normal((4 * hidden, hidden))).astype(np.float32)
        bias_hh = rng.standard_normal(4 * hidden).astype(np.float32)
        h0 = rng.standard_normal((batch, hidden)).astype(np.float32)
        hs, cs = np.zeros((T + 1, batch, hidden), np.float32), np.zeros((T + 1, batch, hidden), np.float32)
        hs[0] = h0
        gates = np.empty((T, batch, 4 * hidden), np.float32)
        ours = median_ms(lambda: lstm_forward(xproj, weight_hh, bias_hh, hs, cs, gates))

        xproj_fm = np.ascontiguousarray(xproj.transpose(0, 2, 1))
        hs_fm, cs_fm = np.zeros((T + 1, hidden, batch), np.float32), np.zeros((T + 1, hidden, batch), np.float32)
        hs_fm[0] = h0.T
        gates_fm = np.empty((T, 4 * hidden, batch), np.float32)
        bias_repeated = np.repeat(bias_hh, batch)
        prototype = median_ms(lambda: lstm_forward_feature_major(xproj_fm, weight_hh, bias_repeated, hs_fm, cs_fm,
                                                                 gates_fm))
        difference = np.abs(hs_fm.transpose(0, 2, 1) - hs).max()
        print(f"hidden {hidden:3d} batch {batch:2d}: {ours:7.2f} ms  feature-major {prototype:7.2f} ms "
              f"({100 * (prototype / ours - 1):+4.0f}%), largest difference in h {difference:.1e}", flush=True)


if __name__ == "__main__":
    main()
