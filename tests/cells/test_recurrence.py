"""The packed per-step products (seqkit.cells.recurrence, seqkit.cells.vector) against NumPy at
the shapes around every tile and vector boundary, in float32 and float64; the threads that
share a recurrence give the bits one thread gives; the sampler's packed steps give the
sequence kernels' bits; and the vector width compiled in is the CPU's."""
import mmap

import llvmlite.binding as llvm
import numpy as np
import pytest
from numba.core.registry import cpu_target

from seqkit.cells import gru, lstm, recurrence, rnn, sharing
from seqkit.cells.recurrence import (
    HUGE_PAGE,
    LINE,
    aligned_empty,
    backward_columns,
    forward_columns,
    pack_backward,
    pack_forward,
    packing_buffer,
    panel_product,
)
from seqkit.cells.sharing import new_board, next_panel, threads_for
from seqkit.cells.vector import AVX512, ISA, VECTOR_BYTES, compiled_features, lanes, tile_rows
from seqkit.nn.workspace import FRESH, Workspace

HIDDEN = (1, 7, 8, 9, 15, 16, 17, 63, 64, 65)
BATCHES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65)
DTYPES = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
# Each cell's forward layout: (gates, unit groups a panel, vectors a tile, where gate g's product
# goes and what it starts from, as multiples of H; None: from zero).
LAYOUTS = {"lstm": (4, 1, 2, [0, 1, 2, 3], [0, 1, 2, 3]), "gru": (3, 2, 2, [0, 1, 3], [0, 1, None]),
           "rnn": (1, 2, 2, [0], [0])}


def forward_product(weight, h, x, gates, groups, per_tile, destinations, sources, width, rows):
    """Every panel's tiles: what a step's product writes, in an array of the cache's width."""
    H = h.shape[1]
    packed = pack_forward(weight, gates, groups, width)
    columns = forward_columns(H, groups, width, np.array(destinations) * H,
                              np.array([-1 if s is None else s * H for s in sources]), per_tile)
    out = np.full((h.shape[0], (max(destinations) + 1) * H), np.nan, weight.dtype)
    for p in range(packed.shape[0]):
        panel_product(h, packed, p, H, x, out, columns, per_tile, rows)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell", LAYOUTS)
def test_forward_products_equal_numpy_around_every_boundary(cell, dtype):
    gates, groups, per_tile, destinations, sources = LAYOUTS[cell]
    width = lanes(dtype)
    for H in HIDDEN:
        rng = np.random.default_rng(H)
        weight = rng.standard_normal((gates * H, H)).astype(dtype)
        for B in BATCHES:
            h, x = rng.standard_normal((B, H)).astype(dtype), rng.standard_normal((B, gates * H)).astype(dtype)
            for rows in {1, tile_rows(per_tile)}:
                out = forward_product(weight, h, x, gates, groups, per_tile, destinations, sources, width, rows)
                product = h.astype(np.float64) @ weight.T.astype(np.float64)
                for g, (to, start) in enumerate(zip(destinations, sources)):
                    expected = product[:, g * H:(g + 1) * H] + (0 if start is None else x[:, start * H:(start + 1) * H])
                    np.testing.assert_allclose(out[:, to * H:(to + 1) * H], expected, **DTYPES[dtype],
                                               err_msg=f"{cell} H {H} B {B} gate {g}")
                # Nothing outside the gates' columns is written (a tail's lanes past H included).
                written = {to for to in destinations}
                for block in set(range(out.shape[1] // H)) - written:
                    assert np.isnan(out[:, block * H:(block + 1) * H]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gates", [1, 3, 4])
def test_backward_products_equal_numpy_around_every_boundary(gates, dtype):
    width = lanes(dtype)
    for H in HIDDEN:
        rng = np.random.default_rng(H)
        weight = rng.standard_normal((gates * H, H)).astype(dtype)
        for groups in (2, 4):
            packed = pack_backward(weight, groups, width)
            for B in BATCHES:
                d, init = rng.standard_normal((B, gates * H)).astype(dtype), rng.standard_normal((B, H)).astype(dtype)
                for start in (True, False):
                    columns = backward_columns(H, groups, width, start)
                    out = np.full((B, H), np.nan, dtype)
                    for p in range(packed.shape[0]):
                        panel_product(d, packed, p, gates * H, init, out, columns, groups, tile_rows(groups))
                    expected = d.astype(np.float64) @ weight.astype(np.float64) + (init if start else 0)
                    np.testing.assert_allclose(out, expected, **DTYPES[dtype], err_msg=f"H {H} B {B} U {groups}")


def test_the_packings_lay_weight_hh_out_as_the_module_says_with_zeros_past_h():
    width = lanes(np.float32)
    for H in (1, 7, 17, 65, 384):  # 384: packings over 2 MB, on huge pages where the system has them
        weight = np.random.default_rng(H).standard_normal((4 * H, H)).astype(np.float32)
        for groups in (1, 3):
            span = groups * width
            padded = np.zeros((4, -(-H // span) * span, H), np.float32)
            padded[:, :H] = weight.reshape(4, H, H)  # [gate, unit, k]
            expected = padded.reshape(4, -1, groups, width, H).transpose(1, 4, 0, 2, 3).reshape(-1, H, 4 * span)
            np.testing.assert_array_equal(pack_forward(weight, 4, groups, width), expected)
        for groups in (2, 12):
            span = groups * width
            padded = np.zeros((4 * H, -(-H // span) * span), np.float32)
            padded[:, :H] = weight
            expected = padded.reshape(4 * H, -1, span).transpose(1, 0, 2)
            np.testing.assert_array_equal(pack_backward(weight, groups, width), expected)


def test_the_arrays_the_recurrences_use_start_on_a_cache_line():
    # NumPy's own large arrays start 16 bytes past a line: np.empty((1000, 1000)) would fail this.
    for shape, dtype in (((1000, 1000), np.float32), ((7, 3), np.float64), ((3,), np.int64), ((1,), np.float32)):
        array = aligned_empty(shape, dtype)
        assert array.ctypes.data % LINE == 0 and array.shape == shape and array.dtype == dtype
        assert array.flags.c_contiguous and array.flags.writeable
    assert Workspace().empty("x", (512, 1024), np.float32).ctypes.data % LINE == 0
    assert FRESH.empty("x", (512, 1024), np.float32).ctypes.data % LINE == 0
    assert packing_buffer((1000, 3), np.float32).ctypes.data % LINE == 0


def test_a_packing_buffer_as_large_as_a_huge_page_starts_on_one():
    small, large = packing_buffer((7, 3), np.float64), packing_buffer((HUGE_PAGE // 4 + 5,), np.float32)
    assert small.shape == (7, 3) and small.dtype == np.float64
    assert large.shape == (HUGE_PAGE // 4 + 5,) and large.dtype == np.float32 and large.flags.c_contiguous
    large[:] = 1.5  # writable to its end
    assert large.sum() == 1.5 * large.size
    if hasattr(mmap, "MADV_HUGEPAGE"):
        assert large.ctypes.data % HUGE_PAGE == 0


def test_the_k_blocks_are_sized_from_the_l1_data_cache_linux_reports(tmp_path):
    for index, (level, kind, size) in enumerate([("1", "Instruction", "64K"), ("1", "Data", "48K"),
                                                 ("2", "Unified", "1024K")]):
        folder = tmp_path / "cache" / f"index{index}"
        folder.mkdir(parents=True)
        for name, value in (("level", level), ("type", kind), ("size", size)):
            (folder / name).write_text(value + "\n")
    assert recurrence.l1_data_bytes(tmp_path / "cache") == 48 * 1024
    assert recurrence.l1_data_bytes(tmp_path / "nowhere") == 32 * 1024  # not Linux: a common L1
    assert recurrence.BLOCK_BYTES == 2 * recurrence.l1_data_bytes() // 3


def test_the_tile_sums_in_one_order_whatever_its_rows():
    """An element's sum runs over k in one order: tiles of one row and tiles of many give the
    same bits, in every tail the rows split into."""
    rng = np.random.default_rng(0)
    H = 37
    weight = rng.standard_normal((4 * H, H)).astype(np.float32)
    for B in range(1, 2 * recurrence.MAX_ROWS + 2):
        h, x = rng.standard_normal((B, H)).astype(np.float32), rng.standard_normal((B, 4 * H)).astype(np.float32)
        one, many = (forward_product(weight, h, x, 4, 1, 2, [0, 1, 2, 3], [0, 1, 2, 3], lanes(np.float32), rows)
                     for rows in (1, recurrence.ROWS_2))
        assert np.array_equal(one, many), B


KERNELS = {"lstm": lstm.CELL.kernels, "gru": gru.CELL.kernels, "rnn_tanh": rnn.TANH, "rnn_relu": rnn.RELU}


def sequence(kernels, cell, T, B, H, dtype, seed=0):
    """forward then backward on random inputs: (states, cache, dxproj, dinitial, dweight_hh, dbias_hh)."""
    spec = {"lstm": lstm.CELL, "gru": gru.CELL}.get(cell, rnn.CELL)
    G, S, C, K = spec.gates * H, spec.state_size, spec.cache_size * H, spec.scratch_size * H
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal((G, H)) / np.sqrt(H)).astype(dtype)
    bias, xproj = (0.1 * rng.standard_normal(G)).astype(dtype), rng.standard_normal((T, B, G)).astype(dtype)
    states = np.zeros((S, T + 1, B, H), dtype)
    states[:, 0] = rng.uniform(-0.9, 0.9, (S, B, H))
    cache = np.empty((T, B, C), dtype)
    kernels.forward(xproj, states, weight, bias, cache)
    dy, dfinal = rng.standard_normal((T, B, H)).astype(dtype), rng.standard_normal((S, B, H)).astype(dtype)
    dxproj, dinitial = np.empty((T, B, G), dtype), np.empty((S, B, H), dtype)
    dweight, dbias = np.empty_like(weight), np.empty_like(bias)
    kernels.backward(dy, dfinal, states, cache, weight, dxproj, dinitial, dweight, dbias, np.empty((T, B, K), dtype))
    return (states, cache, dxproj, dinitial, dweight, dbias), (weight, bias, xproj)


@pytest.mark.parametrize("cell", KERNELS)
def test_threads_share_a_recurrence_to_the_bit(cell, monkeypatch):
    """The hidden units split between 2 or 3 threads, with a barrier a step: the bits of one thread."""
    monkeypatch.setattr(sharing, "MIN_THREAD_FLOPS", 1)
    for dtype in DTYPES:
        for T, B, H in ((4, 1, 9), (3, 2, 65), (4, 3, 9), (3, 17, 65), (5, 16, 130)):  # batch 1 and 2: WIDE panels
            results = []
            for threads in ("1", "2", "3"):
                monkeypatch.setenv("SEQKIT_THREADS", threads)
                results.append(sequence(KERNELS[cell], cell, T, B, H, dtype)[0])
            for other in results[1:]:
                assert all(np.array_equal(a, b) for a, b in zip(results[0], other)), (cell, dtype, T, B, H)


@pytest.mark.parametrize("cell", KERNELS)
def test_the_samplers_packed_step_gives_the_sequence_kernels_bits(cell):
    kernels = KERNELS[cell]
    for dtype in DTYPES:
        for B, H in ((1, 9), (1, 64), (3, 17)):
            (states, cache, *_), (weight, bias, xproj) = sequence(kernels, cell, 4, B, H, dtype)
            stepped = np.zeros_like(states)
            stepped[:, 0] = states[:, 0]
            step_cache = np.empty_like(cache)
            packed = kernels.pack(weight)
            for t in range(len(xproj)):
                kernels.step_packed(np.ascontiguousarray(xproj[t]), stepped, t, packed, bias, step_cache[t])
            assert np.array_equal(stepped, states)


def take_all(board, shares, step, thread, taken, count=0):
    panels = []
    p, count = next_panel(board, shares, step, thread, taken, count)
    while p >= 0:
        panels.append(p)
        p, count = next_panel(board, shares, step, thread, taken, count)
    return panels, [tuple(run) for run in taken[:count]]


def test_a_thread_takes_its_own_panels_then_the_last_ones_left_of_the_others():
    shares = np.array([0, 3, 7, 9], np.int64)
    board = new_board(shares, steps=2)
    taken = np.zeros((9, 2), np.int64)
    # Thread 1 has taken its first panel at step 0; thread 0 then takes all that is left, its own
    # from the front and the others' from the back, in runs it can give the gate math.
    assert next_panel(board, shares, 0, 1, taken, 0) == (3, 1)
    panels, runs = take_all(board, shares, 0, 0, taken)
    assert panels == [0, 1, 2, 6, 5, 4, 8, 7]
    assert runs == [(0, 3), (4, 7), (7, 9)]
    assert next_panel(board, shares, 0, 2, taken, 0) == (-1, 0)  # nothing left at step 0 for anyone
    # Step 1 starts whole: thread 2 takes its own, then thread 0's last ones (thread 1's next).
    panels, runs = take_all(board, shares, 1, 2, taken)
    assert panels == [7, 8, 2, 1, 0, 6, 5, 4, 3]
    assert runs == [(7, 9), (0, 3), (3, 7)]


def test_a_step_runs_on_as_many_threads_as_its_work_and_the_cores_allow(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("SEQKIT_THREADS", "2")
    assert threads_for(10 * sharing.MIN_THREAD_FLOPS, 64) == min(2, len(__import__("os").sched_getaffinity(0)))
    assert threads_for(sharing.MIN_THREAD_FLOPS - 1, 64) == 1  # too little work to share
    assert threads_for(10 * sharing.MIN_THREAD_FLOPS, 1) == 1  # one panel cannot be shared
    monkeypatch.setenv("SEQKIT_THREADS", "1")
    assert threads_for(100 * sharing.MIN_THREAD_FLOPS, 64) == 1
    monkeypatch.delenv("SEQKIT_THREADS")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # as seqkit.share_cores sets it for 2 processes on 2 cores
    assert threads_for(100 * sharing.MIN_THREAD_FLOPS, 64) == 1


def test_the_features_are_those_numba_compiles_for(monkeypatch):
    """compiled_features reads NUMBA_CPU_FEATURES where it is set (what Numba then emits code
    for) and the host's features otherwise; the width and ISA derive from it at import, and the
    test below checks them against the features of Numba's own target."""
    from numba.core import config
    monkeypatch.setattr(config, "CPU_FEATURES", "+avx,+avx2,+fma,-avx512f")
    assert compiled_features() == {"avx": True, "avx2": True, "fma": True, "avx512f": False}
    monkeypatch.setattr(config, "CPU_FEATURES", None)
    assert compiled_features() == dict(llvm.get_host_cpu_features())


def test_the_vector_width_is_the_cpus_and_the_disk_cache_is_keyed_on_it():
    """The width compiled into the kernels comes from the features Numba compiles for (the
    host's, with NUMBA_CPU_FEATURES unset as here), which Numba's cache index keys every
    compiled function on (with the CPU's name), so a cache written on one CPU is never loaded
    on another."""
    features = llvm.get_host_cpu_features()
    assert AVX512 == bool(features.get("avx512f"))
    assert VECTOR_BYTES == (64 if AVX512 else 32 if features.get("avx") else 16)
    assert ISA in ("AVX-512", "AVX2", "AVX", "SSE")
    _, cpu_name, target_features = cpu_target.target_context.codegen().magic_tuple()
    assert cpu_name == llvm.get_host_cpu_name()
    assert ("+avx512f" in target_features) == AVX512
