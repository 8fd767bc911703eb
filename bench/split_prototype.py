"""An LSTM recurrence with each step's hidden units split between threads, timed against
seqkit's: a measured direction for issue 12, not kept (README, Performance).

    python bench/split_prototype.py

Each of P parts owns the i, f, g and o rows of W_hh for its hidden units, packed into one
(4U, H) block; at every step Numba's prange runs the parts side by side, each a
single-threaded product of h with its block and the gate math for its units, one hand-over a
step (as DeepCPU, USENIX ATC 2018). Backward splits the same way: each part's gate gradients,
and its share of dh_prev = dgates @ W_hh as a product over its own rows, summed by the parts
of the step before. Threaded parts need OpenBLAS held to one thread (with its own two threads
inside Numba's, every step takes about 100 times longer), so the split runs in a process with
OPENBLAS_NUM_THREADS=1 and seqkit's recurrence in one with 2, T = 64, medians of 11; the
split's results are checked against seqkit's.
"""
import json
import os
import subprocess
import sys

from timing import median_ms, use_cpu_kernels

use_cpu_kernels()  # before numpy loads

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import prange  # noqa: E402

import seqkit  # noqa: E402
from seqkit.cells.activations import column_sums, sigmoid_of_sum, tanh_of_sum  # noqa: E402
from seqkit.cells.lstm import _lstm_gate_gradients, _lstm_state  # noqa: E402

T, PARTS = 64, 2
CONFIGS = [(128, 16), (256, 16), (256, 32), (512, 16), (512, 32), (256, 64), (650, 20), (200, 20)]


@numba.njit(error_model="numpy")
def part_forward(xproj_t, states, t, w, bias, cache_t, g, u0):
    h_prev, c_prev, h, c = states[0, t], states[1, t], states[0, t + 1], states[1, t + 1]
    H, U, one = h.shape[1], w.shape[0] // 4, h.dtype.type(1)
    np.dot(h_prev, w.T, g)
    for b in range(h.shape[0]):
        row, x = g[b], xproj_t[b]
        for k in range(4):
            gate = row[k * U:(k + 1) * U]
            if k == 2:
                tanh_of_sum(gate, x[k * H + u0:k * H + u0 + U], bias[k * U:(k + 1) * U], one)
            else:
                sigmoid_of_sum(gate, x[k * H + u0:k * H + u0 + U], bias[k * U:(k + 1) * U], one)
        _lstm_state(row[:U], row[U:2 * U], row[2 * U:3 * U], row[3 * U:], c_prev[b, u0:u0 + U],
                    c[b, u0:u0 + U], h[b, u0:u0 + U], one)
        for k in range(4):
            cache_t[b, k * H + u0:k * H + u0 + U] = row[k * U:(k + 1) * U]


@numba.njit(parallel=True, error_model="numpy")
def split_forward(xproj, states, w_parts, bias_parts, cache, scratch):
    P, U = w_parts.shape[0], w_parts.shape[1] // 4
    for t in range(xproj.shape[0]):
        for p in prange(P):
            part_forward(xproj[t], states, t, w_parts[p], bias_parts[p], cache[t], scratch[p], p * U)


@numba.njit(error_model="numpy")
def part_backward(dy_t, partials, dc, states, t, cache_t, w, dxproj_t, dg, partial_out, dc_prev, u0, first):
    c_prev, c = states[1, t], states[1, t + 1]
    H, U, one = c.shape[1], w.shape[0] // 4, c.dtype.type(1)
    dh = np.empty(U, c.dtype)
    for b in range(c.shape[0]):
        dh[:] = dy_t[b, u0:u0 + U]
        if not first:
            for q in range(partials.shape[0]):
                dh += partials[q, b, u0:u0 + U]
        row, drow = cache_t[b], dg[b]
        _lstm_gate_gradients(row[u0:u0 + U], row[H + u0:H + u0 + U], row[2 * H + u0:2 * H + u0 + U],
                             row[3 * H + u0:3 * H + u0 + U], c_prev[b, u0:u0 + U], c[b, u0:u0 + U], dh,
                             dc[b, u0:u0 + U], drow[:U], drow[U:2 * U], drow[2 * U:3 * U], drow[3 * U:],
                             dc_prev[b, u0:u0 + U], one)
        for k in range(4):
            dxproj_t[b, k * H + u0:k * H + u0 + U] = drow[k * U:(k + 1) * U]
    np.dot(dg, w, partial_out)


@numba.njit(parallel=True, error_model="numpy")
def split_backward(dy, states, cache, w_parts, dxproj, dg, partials, dcs, dweight_hh, dbias_hh):
    """From a zero final-state gradient, as seqkit's backward_projected: dxproj, then the
    weight gradients as single products (here on OpenBLAS's one thread). partials and dcs
    alternate between two steps."""
    P, U = w_parts.shape[0], w_parts.shape[1] // 4
    dcs[0] = 0
    for i in range(dy.shape[0]):
        t, now, before = dy.shape[0] - 1 - i, i % 2, (i + 1) % 2
        for p in prange(P):
            part_backward(dy[t], partials[now], dcs[now], states, t, cache[t], w_parts[p], dxproj[t], dg[p],
                          partials[before, p], dcs[before], p * U, i == 0)
    T, B, G = dxproj.shape
    rows = dxproj.reshape(T * B, G)
    np.dot(rows.T, states[0, :T].reshape(T * B, G // 4), dweight_hh)
    column_sums(rows, dbias_hh)


def pack(w, b, P):
    H = w.shape[1]
    U = H // P
    rows = [np.concatenate([np.arange(k * H + p * U, k * H + (p + 1) * U) for k in range(4)]) for p in range(P)]
    return np.stack([w[r] for r in rows]), np.stack([b[r] for r in rows])


def measure(split):
    """Print, a line for each config, milliseconds of forward and backward: seqkit's, or the
    split's (checked against seqkit's)."""
    for H, B in CONFIGS:
        rng = np.random.default_rng(0)
        layer = seqkit.LSTM(H, H, seed=0)
        xproj = rng.standard_normal((T, B, 4 * H)).astype(np.float32)
        dy = 0.01 * rng.standard_normal((T, B, H)).astype(np.float32)
        ws = seqkit.Workspace()
        _, _, inner = layer.forward_projected(xproj, None, ws)
        if not split:
            times = [median_ms(lambda: layer.forward_projected(xproj, None, ws), 11),
                     median_ms(lambda: layer.backward_projected(dy, None, inner, None, ws), 11)]
            print(json.dumps(times), flush=True)
            continue
        dxproj_ref, _, grads = layer.backward_projected(dy, None, inner, None, ws)
        w_parts, bias_parts = pack(layer.params["weight_hh"], layer.params["bias_hh"], PARTS)
        states, cache = np.zeros((2, T + 1, B, H), np.float32), np.empty((T, B, 4 * H), np.float32)
        scratch = np.empty((PARTS, B, 4 * (H // PARTS)), np.float32)
        dxproj, partials, dcs = np.empty_like(dxproj_ref), np.zeros((2, PARTS, B, H), np.float32), np.empty((2, B, H), np.float32)
        dweight_hh, dbias_hh = np.empty_like(grads["weight_hh"]), np.empty_like(grads["bias_hh"])
        times = [median_ms(lambda: split_forward(xproj, states, w_parts, bias_parts, cache, scratch), 11),
                 median_ms(lambda: split_backward(dy, states, cache, w_parts, dxproj, scratch, partials, dcs,
                                                  dweight_hh, dbias_hh), 11)]
        assert np.array_equal(states, inner[0]) and np.array_equal(cache, inner[1])
        for ours, theirs in ((dxproj, dxproj_ref), (dweight_hh, grads["weight_hh"])):
            assert np.abs(ours - theirs).max() <= 1e-5 * np.abs(theirs).max()
        print(json.dumps(times), flush=True)


def main():
    if "--child" in sys.argv:
        return measure(split="--split" in sys.argv)
    results = {}
    for name, threads in (("seqkit", "2"), ("split", "1")):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads)
        out = subprocess.run([sys.executable, __file__, "--child", f"--{name}"], env=env, check=True,
                             capture_output=True, text=True).stdout
        results[name] = [json.loads(line) for line in out.splitlines()]
    print(f"LSTM recurrence, T {T}, ms (seqkit: OpenBLAS on 2 threads; split: {PARTS} parts, each on 1)\n"
          f"{'H':>5s} {'B':>4s} {'forward':>8s} {'split':>7s} {'backward':>9s} {'split':>7s}")
    for (H, B), (f, b), (sf, sb) in zip(CONFIGS, results["seqkit"], results["split"]):
        print(f"{H:5d} {B:4d} {f:8.2f} {sf:7.2f} {b:9.2f} {sb:7.2f}")


if __name__ == "__main__":
    main()
