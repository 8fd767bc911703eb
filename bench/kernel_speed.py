"""GFLOP/s of a recurrence's per-step products on one core: seqkit's packed micro-kernel
(seqkit.cells.recurrence.panel_product) against OpenBLAS both ways round, as a share of the
core's float32 FMA peak.

    forward   gates (B, 4H) = xproj_t + h_{t-1} (B, H) @ W_hh.T      (LSTM: W_hh is (4H, H))
              OpenBLAS: h @ W_hh.T, and W_hh @ h.T (the product turned; its transpose not counted)
    backward  dh_{t-1} (B, H) = dgates_t (B, 4H) @ W_hh
              OpenBLAS: dgates @ W_hh, and W_hh.T (a copy) @ dgates.T

The peak is measured here, with twelve independent chains of vector FMAs, in turn with the
products (the machine's speed drifts; each share is against the peak of the same rounds). One
thread throughout: OPENBLAS_NUM_THREADS=1 is set before NumPy loads. Each figure is the median
of 9 rounds of 64 steps. About 2 minutes:

    python bench/kernel_speed.py [--quick]
"""
import os
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # before NumPy loads OpenBLAS; not when bench/thread_split.py imports it
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba import njit, types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402
from timing import cpu_model  # noqa: E402

from seqkit.cells.lstm import BACKWARD_GROUPS, GATES  # noqa: E402  the LSTM's panels, as it packs them
from seqkit.cells.recurrence import (  # noqa: E402
    ROWS_2,
    backward_columns,
    backward_groups,
    forward_columns,
    forward_shape,
    pack_backward,
    pack_forward,
    panel_product,
)
from seqkit.cells.vector import ISA, VECTOR_BYTES, lanes  # noqa: E402

STEPS, RUNS = 64, 9


@intrinsic
def _fma_chains(typingctx, n, out):
    """out (W,) = the sum of twelve chains of n vector FMAs each (their result keeps them live)."""
    def codegen(context, builder, signature, args):
        width = VECTOR_BYTES // 4
        vector = ir.VectorType(ir.FloatType(), width)
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vector, [vector] * 3),
                                             f"llvm.fma.v{width}f32")
        chains = [cgutils.alloca_once_value(builder, ir.Constant(vector, [float(i)] * width)) for i in range(12)]
        a, b = ir.Constant(vector, [1.0000001] * width), ir.Constant(vector, [0.9999999] * width)
        with cgutils.for_range(builder, args[0]):
            for chain in chains:
                builder.store(builder.call(fma, [builder.load(chain), a, b]), chain)
        total = builder.load(chains[0])
        for chain in chains[1:]:
            total = builder.fadd(total, builder.load(chain))
        data = context.make_array(signature.args[1])(context, builder, args[1]).data
        builder.store(total, builder.bitcast(data, vector.as_pointer()), align=1)
        return context.get_dummy_value()
    return types.none(n, out), codegen


@njit(nogil=True)  # nogil: bench/thread_split.py runs it on both cores at once
def _chains(n, out):
    _fma_chains(n, out)


def fma_peak_run():
    """A callable running the FMA chains for about 20 ms, and the float32 FLOPs it does."""
    out = np.zeros(VECTOR_BYTES // 4, np.float32)
    _chains(10, out)
    n = 400_000
    return (lambda: _chains(n, out)), 12 * n * (VECTOR_BYTES // 4) * 2


@njit
def _forward_steps(h, packed, x, y, columns, per_tile, rows):
    for _ in range(STEPS):
        for p in range(packed.shape[0]):
            panel_product(h, packed, p, h.shape[1], x, y, columns, per_tile, rows)


@njit
def _backward_steps(d, packed, init, out, columns, groups, rows):
    for _ in range(STEPS):
        for p in range(packed.shape[0]):
            panel_product(d, packed, p, d.shape[1], init, out, columns, groups, rows)


def interleaved(runs, flops):
    """GFLOP/s of each callable, medians over RUNS rounds that run each in turn (so that the
    machine's slower and faster moments reach every one alike)."""
    for run in runs.values():
        run()
    seconds = {name: [] for name in runs}
    for _ in range(RUNS):
        for name, run in runs.items():
            began = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - began)
    return {name: flops[name] / float(np.median(times)) / 1e9 for name, times in seconds.items()}


def measure(B, H):
    """GFLOP/s of the six products at batch B, hidden H, and of the FMA peak, measured in turns."""
    rng = np.random.default_rng(0)
    weight = (rng.standard_normal((GATES * H, H)) / np.sqrt(H)).astype(np.float32)
    h, x = rng.standard_normal((B, H)).astype(np.float32), rng.standard_normal((B, GATES * H)).astype(np.float32)
    gates, width = np.empty_like(x), lanes(np.float32)
    groups, per_tile = forward_shape(B, GATES, 1, 2)  # as lstm_forward packs at this batch
    packed = pack_forward(weight, GATES, groups, width)
    blocks = np.arange(GATES) * H
    columns = forward_columns(H, groups, width, blocks, blocks, per_tile)
    dgates, dh = x, np.empty_like(h)
    backward = backward_groups(B, BACKWARD_GROUPS)
    backward_packed = pack_backward(weight, backward, width)
    backward_cols = backward_columns(H, backward, width, True)
    weight_t = np.ascontiguousarray(weight.T)
    peak, peak_flops = fma_peak_run()
    product = 2 * B * GATES * H * H * STEPS
    runs = {"peak": peak,
            "forward": lambda: _forward_steps(h, packed, x, gates, columns, per_tile, ROWS_2),
            "forward OpenBLAS": lambda: [np.dot(h, weight.T, gates) for _ in range(STEPS)],
            "forward turned": lambda: [np.dot(weight, h.T) for _ in range(STEPS)],
            "backward": lambda: _backward_steps(dgates, backward_packed, h, dh, backward_cols, backward, 2),
            "backward OpenBLAS": lambda: [np.dot(dgates, weight, dh) for _ in range(STEPS)],
            "backward turned": lambda: [np.dot(weight_t, dgates.T) for _ in range(STEPS)]}
    return interleaved(runs, {name: peak_flops if name == "peak" else product for name in runs})


def main():
    quick = "--quick" in sys.argv
    print(f"{cpu_model()}, {ISA} ({VECTOR_BYTES * 8}-bit vectors), OpenBLAS 1 thread, numpy {np.__version__}")
    print("LSTM per-step products (4 gates), one core: GFLOP/s, and seqkit's as a share of the core's float32 FMA "
          "peak measured in the same rounds")
    print(f"{'batch':>5} {'hidden':>6} {'peak':>6} | {'forward: seqkit':>16} {'OpenBLAS':>9} {'turned':>7} | "
          f"{'backward: seqkit':>17} {'OpenBLAS':>9} {'turned':>7}")
    batches, hiddens = ((1, 16, 64), (256, 1024)) if quick else ((1, 16, 32, 64), (128, 256, 512, 1024))
    for H in hiddens:
        for B in batches:
            g = measure(B, H)
            peak = g["peak"]
            print(f"{B:5d} {H:6d} {peak:6.1f} | {g['forward']:7.1f} ({100 * g['forward'] / peak:3.0f}%) "
                  f"{g['forward OpenBLAS']:9.1f} {g['forward turned']:7.1f} | {g['backward']:8.1f} "
                  f"({100 * g['backward'] / peak:3.0f}%) {g['backward OpenBLAS']:9.1f} {g['backward turned']:7.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
