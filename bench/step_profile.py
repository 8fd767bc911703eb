"""Where one seqkit training step spends its time, and how fast the matrix products can go.

    python bench/step_profile.py                   # the configs below
    python bench/step_profile.py lstm 2 512 32     # cell layers hidden batch [vocab [steps]]
    python bench/step_profile.py lstm 2 200 20 10000 35    # a word-level model

For each config, each part timed alone: the whole step (as bench/train_speed.py times it), its
forward, backward, and clipping with Adam; for one layer the recurrence (forward_projected /
backward_projected: the per-step products and the gate math) and the three large products
(input projection, its two gradients); the output layer with the softmax cross-entropy, and
its backward. Then the per-step recurrent products alone, forward and backward, T times in one
compiled loop, plain (h @ W_hh.T into (B, G*H); dgates @ W_hh into (B, H)) and turned round
(W_hh @ h.T into (G*H, B); a C-contiguous copy of W_hh.T @ dgates.T into (H, B)), as seqkit's
hidden_product and gradient_product choose between them, as GFLOP/s and as a share of the
float32 GEMM peak measured here. Every product runs from Numba, as seqkit's do (SciPy's
OpenBLAS). Medians of 21 timings. Run it on an idle machine; like train_speed.py it unsets OPENBLAS_CORETYPE (pass
--keep-coretype to keep it) and lets OpenBLAS use every CPU.
"""
import os
import sys

from timing import median_ms, use_cpu_kernels

use_cpu_kernels()  # before numpy loads

import seqkit  # noqa: E402, I001  before NumPy loads OpenBLAS, so that it reads seqkit._cores's settings

import numba  # noqa: E402
import numpy as np  # noqa: E402

from seqkit.nn.kernels import linear_backward, output_loss  # noqa: E402
from seqkit.optim.optimizers import clip_global_norm, make_optimizer  # noqa: E402

V, T = 65, 100
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
CONFIGS = [("lstm", 1, 128, 32), ("lstm", 2, 512, 32), ("lstm", 2, 512, 64), ("lstm", 2, 128, 1),
           ("gru", 2, 256, 32), ("rnn", 1, 128, 64), ("lstm", 2, 256, 16, V, 64), ("lstm", 2, 200, 20, 10000, 35)]


@numba.njit
def repeated_product(a, b, out, times):
    for _ in range(times):
        np.dot(a, b, out)


def gemm_peak_gflops(n=4096):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    out = np.empty_like(a)
    return 2 * n ** 3 / median_ms(lambda: repeated_product(a, a, out, 1), 5) / 1e6


def profile(peak, cell, layers, hidden, batch, vocab=V, T=T):
    model = seqkit.Model(vocab, hidden, layers, cell, embed_size=hidden, seed=0)
    optimizer = make_optimizer("adam", model.parameters, 2e-3)
    tokens = np.random.default_rng(0).integers(0, vocab, (T + 1, batch))
    workspace, held = seqkit.Workspace(), {"state": None}

    def forward():
        _, held["state"], held["cache"] = model.forward(tokens[:-1], tokens[1:], held["state"], workspace=workspace)

    def step():
        forward()
        grads, _ = model.backward(held["cache"])
        clip_global_norm(grads, 5.0)
        optimizer.step(grads)

    whole, forward_ms = median_ms(step), median_ms(forward)
    backward_ms = median_ms(lambda: model.backward(held["cache"]))
    grads, _ = model.backward(held["cache"])
    update_ms = median_ms(lambda: (clip_global_norm(grads, 5.0), optimizer.step(grads)))

    rng = np.random.default_rng(1)
    layer, width = model.layers[-1], GATES[cell] * hidden
    x = rng.standard_normal((T, batch, hidden)).astype(np.float32)
    layer_ws = seqkit.Workspace()
    xproj = rng.standard_normal((T, batch, width)).astype(np.float32)
    dy = 0.01 * rng.standard_normal((T, batch, hidden)).astype(np.float32)
    recurrence_forward = median_ms(lambda: layer.forward_projected(xproj, None, layer_ws))
    _, _, inner = layer.forward_projected(xproj, None, layer_ws)
    recurrence_backward = median_ms(lambda: layer.backward_projected(dy, None, inner, None, layer_ws))
    rows, w_ih = x.reshape(T * batch, hidden), layer.params["weight_ih"]
    out, d_rows, d_w = np.empty((T * batch, width), np.float32), np.empty_like(rows), np.empty_like(w_ih)
    large = [median_ms(lambda: repeated_product(rows, w_ih.T, out, 1)),
             median_ms(lambda: repeated_product(out, w_ih, d_rows, 1)),
             median_ms(lambda: repeated_product(out.T, rows, d_w, 1))]

    h, w_hh = x[0].copy(), layer.params["weight_hh"]
    gates, gates_t = np.empty((batch, width), np.float32), np.empty((width, batch), np.float32)
    seqkit_orientation = median_ms(lambda: repeated_product(h, w_hh.T, gates, T))
    transposed = median_ms(lambda: repeated_product(w_hh, h.T, gates_t, T))
    d_gates, d_h, d_h_t = gates.copy(), np.empty_like(h), np.empty((hidden, batch), np.float32)
    backward = median_ms(lambda: repeated_product(d_gates, w_hh, d_h, T))
    w_hh_t = np.ascontiguousarray(w_hh.T)  # as seqkit.cells.activations.weight_for_gradient makes it
    backward_transposed = median_ms(lambda: repeated_product(w_hh_t, gates_t, d_h_t, T))
    flops = 2 * batch * hidden * width * T / 1e6  # per millisecond: GFLOP/s

    top, targets = x.reshape(T * batch, hidden), tokens[1:].reshape(-1)
    w_out, b_out = model.output_weight, model.parameters["output.bias"]
    logits, dlogits = np.empty((T * batch, vocab), np.float32), np.empty((T * batch, vocab), np.float32)
    d_top, d_w_out, d_b_out = np.empty_like(top), np.empty_like(w_out), np.empty_like(b_out)
    output = [median_ms(lambda: output_loss(top, w_out, b_out, targets, -1, 1.0, logits, dlogits)),
              median_ms(lambda: linear_backward(dlogits[None], top[None], w_out, d_top[None], d_w_out, d_b_out))]
    output_flops = 2 * T * batch * hidden * vocab / 1e6
    print(f"\n{cell} {layers}x{hidden} batch {batch} T {T} V {vocab}: step {whole:.2f} ms; alone: forward {forward_ms:.2f}, "
          f"backward {backward_ms:.2f}, clip and Adam {update_ms:.2f}")
    print(f"  a layer: recurrence forward {recurrence_forward:.2f}, backward {recurrence_backward:.2f}; "
          f"large products {' + '.join(f'{t:.2f}' for t in large)} ({3 * flops / sum(large):.0f} GFLOP/s)")
    print(f"  output layer and loss: forward {output[0]:.2f} ({output_flops / output[0]:.0f} GFLOP/s), "
          f"backward {output[1]:.2f} ({2 * output_flops / output[1]:.0f} GFLOP/s)")
    for name, ms, other_name, other_ms in (("h @ W_hh.T", seqkit_orientation, "W_hh @ h.T", transposed),
                                           ("dgates @ W_hh", backward, "W_hh.T (a copy) @ dgates.T", backward_transposed)):
        print(f"  per-step product {name}: {flops / ms:.0f} GFLOP/s ({100 * flops / ms / peak:.0f}% of peak); "
              f"{other_name}: {flops / other_ms:.0f} ({100 * flops / other_ms / peak:.0f}%)")


def main():
    args = [a for a in sys.argv[1:] if a != "--keep-coretype"]
    configs = [(args[0], *map(int, args[1:]))] if args else CONFIGS
    peak = gemm_peak_gflops()
    print(f"seqkit {seqkit.__version__}, numpy {np.__version__}, numba {numba.__version__}; "
          f"float32 GEMM peak {peak:.0f} GFLOP/s (OpenBLAS threads: "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'one a CPU')}, {os.cpu_count()} CPUs)")
    for config in configs:
        profile(peak, *config)


if __name__ == "__main__":
    main()
