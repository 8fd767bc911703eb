"""What the recurrence's two-thread split gains, what its hand-over costs, and where each thread's step goes.

    python bench/thread_split.py

1. An LSTM layer's forward recurrence (forward_projected) at batch 16, T 64, on one thread
   and on two, hidden 128-512: GFLOP/s of the per-step products, and the gain.
2. The same at batch 1 (where a step is a few microseconds, so the hand-over shows) and at
   batch 16 hidden 16 and 128, with the flop threshold lowered so that two threads run.
3. The hand-over alone: a kernel that does nothing but a step's exchange, each thread writing
   its units of h_t and reading all of it, then seqkit's barrier; against the same reads of
   rows nobody writes.
4. Each thread's parts of a step, in thousands of time-stamp-counter cycles: the tiles (with
   taking their panels), the gate math, the wait at the barrier, and the panels it took (a
   copy of seqkit.cells.lstm's _forward_units with a clock around each part). The faster
   thread takes more panels; what is left of the wait is the last panel's and the gate math's.
5. What the other core's work costs this one: FMA chains on one core and on both at once
   (GFLOP/s in all), and the LSTM's gate math over half the hidden units alone and while the
   other core runs the same on arrays of its own (no line shared). On the Zen 5 VM of
   docs/performance.md the chains scale 1.87-1.91x and the gate math runs up to 1.6x slower beside its
   twin: the gate math of a split does not halve.

Runs alternate between one and two threads (SEQKIT_THREADS) and the figures are medians.
"""
import seqkit  # noqa: F401, I001  before NumPy loads OpenBLAS, so that it reads seqkit._cores's settings

import os
import threading
import time

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

import seqkit.cells.recurrence as recurrence
import seqkit.cells.sharing as sharing
from seqkit.cells.lstm import FORWARD_ROWS, FORWARD_TILE, GATES, _gates_to_state
from seqkit.cells.vector import VECTOR_BYTES, lanes
from seqkit.nn.recurrent import LSTM

from kernel_speed import _chains  # noqa: E402  bench/'s own FMA chains, the core's peak

ROUNDS = 15


def per_step(run, steps):
    """Median microseconds a step of run() on one thread and on two, taken in turns."""
    times = {1: [], 2: []}
    for rounds, record in ((2, False), (ROUNDS, True)):
        for _ in range(rounds):
            for threads in (1, 2):
                os.environ["SEQKIT_THREADS"] = str(threads)
                began = time.perf_counter()
                run(threads)
                if record:
                    times[threads].append(time.perf_counter() - began)
    return {threads: float(np.median(t)) / steps * 1e6 for threads, t in times.items()}


def recurrence_rows():
    rng, T, B = np.random.default_rng(0), 64, 16
    print(f"LSTM forward recurrence, batch {B}, T {T}: GFLOP/s of the per-step products")
    for H in (128, 192, 256, 320, 384, 512):
        layer, xproj = LSTM(H, H), rng.standard_normal((T, B, 4 * H)).astype(np.float32)
        us = per_step(lambda threads: layer.forward_projected(xproj, None), T)
        flops = 2 * B * 4 * H * H
        print(f"  hidden {H:4d} (a thread's packed W_hh {4 * H * H * 4 // 2 // 1024:5d} KB): one thread "
              f"{flops / us[1] / 1e3:5.1f}, two {flops / us[2] / 1e3:5.1f}, x{us[1] / us[2]:.2f}", flush=True)


def small_steps():
    rng, T = np.random.default_rng(0), 256
    threshold, sharing.MIN_THREAD_FLOPS = sharing.MIN_THREAD_FLOPS, 1  # two threads however small
    print("\nsmall steps, two threads forced: us a step")
    for B, H in ((1, 128), (1, 256), (1, 512), (16, 16), (16, 128)):
        layer, xproj = LSTM(H, H), rng.standard_normal((T, B, 4 * H)).astype(np.float32)
        us = per_step(lambda threads: layer.forward_projected(xproj, None), T)
        print(f"  batch {B:2d} hidden {H:3d}: one thread {us[1]:6.2f}, two {us[2]:6.2f}", flush=True)
    sharing.MIN_THREAD_FLOPS = threshold


@numba.njit(nogil=True)
def _exchange(h, written, T, board, shares, flags, thread):
    """Each step: every row of h[t] (h[0] unless `written`) summed, the sum written into this
    thread's units of h[t + 1], then the barrier."""
    lo, hi = shares[thread] * 8, shares[thread + 1] * 8  # the thread's own share; nothing is taken
    for t in range(T):
        source = h[t] if written else h[0]
        for b in range(h.shape[1]):
            total = np.float32(0)
            for k in range(h.shape[2]):
                total += source[b, k]
            for j in range(lo, hi):
                h[t + 1, b, j] = total * np.float32(1e-3)
        sharing.wait_for(flags, thread, t + 1)


def exchange_rows():
    T = 256
    print("\nthe hand-over alone: us a step")
    for B, H in ((16, 128), (16, 256), (64, 128)):
        h = np.random.default_rng(0).random((T + 1, B, H), np.float32)
        figures = []
        for written in (True, False):
            us = per_step(lambda threads: sharing.run_split(_exchange, (h, written, T), H // 8, threads, T), T)
            figures.append(f"{'exchanging h' if written else 'reading unwritten rows'} one thread {us[1]:5.2f}, "
                           f"two {us[2]:5.2f}")
        print(f"  batch {B:2d} hidden {H:3d}: " + "; ".join(figures), flush=True)


@intrinsic
def _cycles(typingctx):
    """The CPU's time-stamp counter (llvm.readcyclecounter)."""
    def codegen(context, builder, signature, args):
        counter = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(64), []),
                                                 "llvm.readcyclecounter")
        return builder.call(counter, [])
    return types.int64(), codegen


@numba.njit(nogil=True)
def _timed_units(xproj, states, packed, bias_hh, cache, columns, per_tile, clock, board, shares, flags, thread):
    """seqkit.cells.lstm._forward_units, each part's cycles added to clock[thread] (and the
    panels it took in clock[thread, 3])."""
    H = states.shape[3]
    span = packed.shape[2] // GATES
    taken = np.zeros((shares[-1], 2), np.int64)
    for t in range(xproj.shape[0]):
        began, ahead = _cycles(), min(t + 1, xproj.shape[0] - 1)
        count = sharing.multiply_taken(board, shares, t, thread, taken, states[0, t], packed, H, xproj[t],
                                          cache[t], xproj[ahead], cache[ahead], columns, per_tile, FORWARD_ROWS)
        for run in range(count):
            clock[thread, 3] += taken[run, 1] - taken[run, 0]
        multiplied = _cycles()
        for run in range(count):
            lo, hi = sharing.units_of(taken[run], span, H)
            _gates_to_state(cache[t], bias_hh, states[1, t], states[1, t + 1], states[0, t + 1], lo, hi)
        activated = _cycles()
        sharing.wait_for(flags, thread, t + 1)
        clock[thread, 0] += multiplied - began
        clock[thread, 1] += activated - multiplied
        clock[thread, 2] += _cycles() - activated


def part_rows():
    rng, T = np.random.default_rng(0), 64
    print("\neach thread's parts of a step, thousands of cycles: tiles, gate math, wait; then panels it took")
    for B, H in ((16, 128), (16, 256), (32, 256)):
        weight = (rng.standard_normal((GATES * H, H)) * 0.05).astype(np.float32)
        bias, xproj = np.zeros(GATES * H, np.float32), rng.standard_normal((T, B, GATES * H)).astype(np.float32)
        states, cache = np.zeros((2, T + 1, B, H), np.float32), np.empty((T, B, GATES * H), np.float32)
        groups, per_tile = recurrence.forward_shape(B, GATES, 1, FORWARD_TILE)
        packed = recurrence.pack_forward(weight, GATES, groups, lanes(np.float32))
        blocks = np.arange(GATES) * H
        columns = recurrence.forward_columns(H, groups, lanes(np.float32), blocks, blocks, per_tile)
        for threads in (1, 2):
            clock = np.zeros((2, 4), np.int64)
            arguments = (xproj, states, packed, bias, cache, columns, per_tile, clock)
            sharing.run_split(_timed_units, arguments, packed.shape[0], threads, T)
            clock[:] = 0
            for _ in range(ROUNDS):
                sharing.run_split(_timed_units, arguments, packed.shape[0], threads, T)
            shares = clock / (ROUNDS * T) / np.array([1000, 1000, 1000, 1])
            print(f"  batch {B:2d} hidden {H:3d}, {threads} thread(s): " + " | ".join(
                f"thread {i}: " + ", ".join(f"{v:5.1f}" for v in shares[i]) for i in range(threads)), flush=True)


@numba.njit(nogil=True)
def _gate_math(gates, bias, c_prev, c, h, lo, hi, repeats):
    for _ in range(repeats):
        _gates_to_state(gates, bias, c_prev, c, h, lo, hi)


def alone_and_together(run, twin):
    """Median seconds of run() alone and while another thread runs twin(), taken in turns."""
    alone, together = [], []
    for rounds, record in ((1, False), (ROUNDS, True)):
        for _ in range(rounds):
            began = time.perf_counter()
            run()
            if record:
                alone.append(time.perf_counter() - began)
            other = threading.Thread(target=twin)
            began = time.perf_counter()
            other.start()
            run()
            other.join()
            if record:
                together.append(time.perf_counter() - began)
    return float(np.median(alone)), float(np.median(together))


def core_sharing_rows():
    print("\nwhat the other core's work costs this one")
    outs, n = [np.zeros(VECTOR_BYTES // 4, np.float32) for _ in range(2)], 2_000_000
    _chains(10, outs[1])
    alone, together = alone_and_together(lambda: _chains(n, outs[0]), lambda: _chains(n, outs[1]))
    flops = 12 * n * (VECTOR_BYTES // 4) * 2
    print(f"  FMA chains: one core {flops / alone / 1e9:.0f} GFLOP/s, both at once {2 * flops / together / 1e9:.0f} in all")
    rng, repeats = np.random.default_rng(0), 2000
    for B, H in ((16, 256), (32, 128)):
        def arrays():
            gates = recurrence.aligned_empty((B, GATES * H), np.float32)
            gates[:] = rng.standard_normal(gates.shape)
            c_prev = recurrence.aligned_empty((B, H), np.float32)
            c_prev[:] = rng.standard_normal(c_prev.shape)
            return (gates, rng.standard_normal(GATES * H).astype(np.float32), c_prev,
                    recurrence.aligned_empty((B, H), np.float32), recurrence.aligned_empty((B, H), np.float32))
        mine, twins = arrays(), arrays()
        _gate_math(*mine, 0, H // 2, 1)
        alone, together = alone_and_together(lambda: _gate_math(*mine, 0, H // 2, repeats),
                                             lambda: _gate_math(*twins, H // 2, H, repeats))
        print(f"  gate math, batch {B} hidden {H}, half the units: alone {alone / repeats * 1e6:.2f} us, "
              f"beside its twin on the other core {together / repeats * 1e6:.2f} us ({together / alone:.2f}x)", flush=True)


if __name__ == "__main__":
    recurrence_rows()
    small_steps()
    exchange_rows()
    part_rows()
    core_sharing_rows()
