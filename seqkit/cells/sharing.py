"""The threads that share a recurrence's hidden units, each running the products of
seqkit.cells.recurrence on its panels.

Each thread owns an even share of the panels (its hidden units) for the whole sequence, so
its share of the packed weights stays in its core's cache, and waits for the others once a step
(wait_for). Within a step, a thread takes its own panels one at a time from the front and,
when they are done, the last ones left of another thread's (next_panel): the cores of a
virtual machine run at unequal and changing speeds, and an even split waits for the slowest.
Every element's sum runs over k in the same order whichever tile or thread computes it, so
results do not depend on the number of threads, who took which panel, or the batch's split.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from seqkit._jit import kernel
from seqkit.cells.recurrence import panel_product, prefetch_panel
from seqkit.cells.vector import observe, pause, publish, swap_if

PANEL_BITS = 32  # a slot of the board holds the panels left of a share: first | stop << PANEL_BITS
SLOT = 8  # int64s from one slot of the board to the next: a cache line each


@kernel
def take(board, slot, from_front):
    """The first (from_front) or the last panel left in board[slot], now taken; -1 if none is."""
    while True:
        value = observe(board, slot)
        first, stop = value & ((1 << PANEL_BITS) - 1), value >> PANEL_BITS
        if first >= stop:
            return -1
        if from_front:
            if swap_if(board, slot, value, (first + 1) | (stop << PANEL_BITS)):
                return first
        elif swap_if(board, slot, value, first | ((stop - 1) << PANEL_BITS)):
            return stop - 1


@kernel
def next_panel(board, shares, step, thread, taken, count):
    """(the panel this thread computes next at `step`, or -1 when every panel is taken; count):
    the first left of its own share (shares[thread] to shares[thread + 1]), else the last left
    of another's. taken[:count] (P, 2) are the ranges [first, stop) of the panels this thread
    has taken at the step, one a run; count is the number of them."""
    threads = shares.size - 1
    for n in range(threads):
        share = (thread + n) % threads
        p = take(board, (step * threads + share) * SLOT, n == 0)
        if p < 0:
            continue
        if count > 0 and taken[count - 1, 1] == p:
            taken[count - 1, 1] = p + 1
        elif count > 0 and taken[count - 1, 0] == p + 1:
            taken[count - 1, 0] = p
        else:
            taken[count, 0], taken[count, 1] = p, p + 1
            count += 1
        return p, count
    return -1, count


@kernel
def multiply_taken(board, shares, step, thread, taken, a, packed, depth, x, y, x_next, y_next, columns, per_tile,
                   rows):
    """panel_product for every panel this thread takes at `step` (next_panel), until none is
    left; returns the count of runs in taken, the panels it computed. Each panel's lines of x
    and y are asked for while the one before it runs, and the first panel's of the next step
    (x_next, y_next) before this returns, so that they arrive during the gate math."""
    own_stop = shares[thread + 1]
    p, count = next_panel(board, shares, step, thread, taken, 0)
    while p >= 0:
        if p + 1 < own_stop:
            prefetch_panel(x, y, columns, p + 1)
        panel_product(a, packed, p, depth, x, y, columns, per_tile, rows)
        p, count = next_panel(board, shares, step, thread, taken, count)
    if shares[thread] < own_stop:
        prefetch_panel(x_next, y_next, columns, shares[thread])
    return count


@kernel
def units_of(run, span, H):
    """The hidden units [lo, hi) of a range of panels (run: first, stop) of `span` units each."""
    return run[0] * span, min(run[1] * span, H)


@kernel
def own_share(shares, thread):
    """(taken, count) as next_panel keeps them, holding this thread's own share: what it computes
    before it takes any panel (the backward's first gate gradients)."""
    taken = np.zeros((shares[-1], 2), np.int64)
    taken[0, 0], taken[0, 1] = shares[thread], shares[thread + 1]
    return taken, 1


@kernel
def wait_for(flags, thread, step):
    """Say that this thread has finished `step`, then wait until every thread has: the one
    barrier a time step needs. flags (threads,) int64, zero when the sequence begins."""
    publish(flags, thread, step)
    for other in range(flags.size):
        while observe(flags, other) < step:
            pause()


MIN_THREAD_FLOPS = 1 << 20  # a step's product below this many FLOPs a thread runs on one thread
_pool: ThreadPoolExecutor | None = None
_split_lock = threading.Lock()  # one split recurrence at a time; a concurrent caller runs on one thread


def threads_for(step_flops, panels):
    """How many threads a recurrence of this many FLOPs a step and panels runs on: the cores
    this process may use (SEQKIT_THREADS, or OPENBLAS_NUM_THREADS as seqkit.share_cores sets it
    under mpiexec, bound them), each with at least MIN_THREAD_FLOPS a step and a panel."""
    chosen = os.environ.get("SEQKIT_THREADS") or os.environ.get("OPENBLAS_NUM_THREADS") or ""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit = int(chosen) if chosen.isdigit() and int(chosen) > 0 else cores
    return max(1, min(limit, cores, panels, int(step_flops // MIN_THREAD_FLOPS)))


def new_board(shares, steps):
    """The board next_panel takes from, (steps * threads * SLOT,) int64: every share's panels
    left at every step."""
    board = np.zeros((steps, shares.size - 1, SLOT), np.int64)
    board[:, :, 0] = shares[:-1] | (shares[1:] << PANEL_BITS)
    return board.reshape(-1)


def run_split(kernel_, args, panels, threads, steps):
    """kernel_(*args, board, shares, flags, thread) on `threads` threads at once over `steps`
    steps, thread i owning the panels [shares[i], shares[i + 1]) of an even split of `panels`,
    which it takes with next_panel from the board; this thread is thread 0."""
    global _pool
    if threads > 1 and not _split_lock.acquire(blocking=False):
        threads = 1
    shares = np.array([panels * i // threads for i in range(threads + 1)], np.int64)
    board, flags = new_board(shares, steps), np.zeros(threads, np.int64)
    if threads == 1:
        kernel_(*args, board, shares, flags, 0)
        return
    try:
        if _pool is None or _pool._max_workers < threads - 1:
            _pool = ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="seqkit-recurrence")
        others = [_pool.submit(kernel_, *args, board, shares, flags, i) for i in range(1, threads)]
        kernel_(*args, board, shares, flags, 0)
        for other in others:
            other.result()
    finally:
        _split_lock.release()
