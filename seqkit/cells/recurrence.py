"""The per-step products of a recurrence on weights packed once per sequence.

Letters as in seqkit.cells.registry; W the lanes of a vector register (seqkit.cells.vector),
U the unit groups of W hidden units that one panel holds.

Forward, a step's product accumulates onto the projected input, gates = xproj_t + h_{t-1} @
W_hh.T, with W_hh packed into panels: panel p holds the rows of every gate block for the U W
hidden units from p U W, k-major, so a tile reads one contiguous row of vectors for each k:

    forward[p, k, (g U + u) W + l] = W_hh[g H + (p U + u) W + l, k]        (0 for a unit >= H)

Backward, dh_{t-1} = init + dgates_t @ W_hh, with W_hh packed by its columns:

    backward[p, k, u W + l] = W_hh[k, (p U + u) W + l]

A tile writes where a `columns` row says (seqkit.cells.vector.tile): for each of its vectors,
the column of its first lane, the lanes that lie inside the array, and the column its initial
value comes from (or -1: zero). Layouts are made once per sequence by forward_columns and
backward_columns.

The threads that share a recurrence's panels are in seqkit.cells.sharing.
"""
import mmap
from pathlib import Path

import numpy as np

from seqkit._jit import kernel
from seqkit.cells.vector import LINE, prefetch, tile_rows, tiles

MAX_ROWS = 8  # the most rows a tile has
# The rows of a tile of 2, 3 or 4 vectors: as many as the registers hold, at most MAX_ROWS.
ROWS_2, ROWS_3, ROWS_4 = (min(MAX_ROWS, tile_rows(n)) for n in (2, 3, 4))
# At batch WIDE_ROWS or less a tile has one or two rows, too few accumulators to keep the FMA
# units busy: such batches take panels of WIDE vectors, a tile as wide as the panel.
WIDE, WIDE_ROWS = 12, 2


def l1_data_bytes(cache_dir="/sys/devices/system/cpu/cpu0/cache"):
    """The first CPU's level-1 data cache in bytes, as Linux reports it; 32 KB where it does not."""
    for index in sorted(Path(cache_dir).glob("index*")):
        try:
            level, kind, size = ((index / name).read_text().strip() for name in ("level", "type", "size"))
        except OSError:
            continue
        if level == "1" and kind in ("Data", "Unified") and size[:-1].isdigit() and size[-1] in "KM":
            return int(size[:-1]) << (10 if size[-1] == "K" else 20)
    return 32 * 1024


# A tile column's share of a panel over one block of k: two thirds of the L1 data cache, the rest
# for the block of a and the tile's rows of x and y. On AMD Zen 5 (48 KB) blocks of 32 KB ran the
# LSTM's forward recurrence 5-14% faster than blocks of 16 KB, and as fast as blocks of 48 KB.
# Blocks change no bits (each block's sums go on from the last's), only the speed. Numba freezes
# the value into the compiled kernels; its disk cache is keyed on the CPU's name and features.
BLOCK_BYTES = 2 * l1_data_bytes() // 3


def forward_shape(batch, gates, groups, per_tile):
    """(unit groups a forward panel holds, vectors a tile) at this batch: the cell's own, or at
    a batch of WIDE_ROWS or less panels of WIDE vectors, a tile each."""
    return (max(1, WIDE // gates), WIDE) if batch <= WIDE_ROWS else (groups, per_tile)


def backward_groups(batch, groups):
    """Unit groups a backward panel holds (and vectors its tiles have) at this batch."""
    return WIDE if batch <= WIDE_ROWS else groups


HUGE_PAGE = 2 << 20  # bytes: a transparent huge page on x86-64 Linux


def aligned_empty(shape, dtype):
    """np.empty's array, starting on a cache line. NumPy's large arrays start 16 bytes past one
    (malloc's header), so that each 64-byte vector the tiles and the gate math load or store
    spans two lines, and two threads' hidden units meet inside a line. On AMD Zen 5 the forward
    product ran 8-9% faster with its packed weights aligned, 10-12% with its operands too (hidden
    256 batch 16, hidden 512 batch 32, one core)."""
    return _starting_on(LINE, lambda nbytes: np.empty(nbytes, np.uint8), shape, dtype)


def _starting_on(boundary, allocate, shape, dtype):
    """An array of `shape` and `dtype` in bytes from allocate(n), starting on a multiple of
    `boundary`: allocate is asked for `boundary` bytes more than the array needs, and the
    array, a view of them, keeps them alive."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = allocate(nbytes + boundary)
    start = -raw.ctypes.data % boundary
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def packing_buffer(shape, dtype):
    """An uninitialised C-contiguous array for packed weights, on 2 MB pages where it is as
    large as one and the system takes the advice (Linux transparent huge pages, madvise): each
    step reads every packed weight, and on 4 KB pages a packing larger than the TLB reaches
    missed in it all along (the forward product at batch 16, hidden 1024 ran 7-22% faster on 2 MB
    pages, at batch 20, hidden 650 4-17%; at hidden 512 and below within 3%). Elsewhere
    aligned_empty.
    The pages are asked for anew at each call: where memory is fragmented the kernel may gather
    them first, or give 4 KB pages."""
    if int(np.prod(shape)) * np.dtype(dtype).itemsize < HUGE_PAGE or not hasattr(mmap, "MADV_HUGEPAGE"):
        return aligned_empty(shape, dtype)
    return _starting_on(HUGE_PAGE, _huge_pages, shape, dtype)


def _huge_pages(nbytes):
    """nbytes of anonymous memory advised onto transparent huge pages, as a uint8 array (which
    keeps the mapping alive; freed, it unmaps)."""
    region = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        region.madvise(mmap.MADV_HUGEPAGE)
    except OSError:  # a kernel without transparent huge pages: 4 KB pages
        pass
    return np.frombuffer(region, np.uint8)


def pack_forward(weight_hh, gates, groups, width):
    """The forward panels (P, H, gates * groups * width) of weight_hh (G H, H), zero past H."""
    H, span = weight_hh.shape[1], groups * width
    packed = packing_buffer((-(-H // span), H, gates * span), weight_hh.dtype)
    _pack_forward_into(weight_hh, gates, groups, width, packed)
    return packed


@kernel
def _pack_forward_into(weight_hh, gates, groups, width, packed):
    H = weight_hh.shape[1]
    span = groups * width
    for p in range(packed.shape[0]):
        for g in range(gates):
            for u in range(groups):
                for lane in range(width):
                    unit = p * span + u * width + lane
                    column = (g * groups + u) * width + lane
                    if unit < H:
                        row = weight_hh[g * H + unit]
                        for k in range(H):
                            packed[p, k, column] = row[k]
                    else:
                        packed[p, :, column] = 0


def pack_backward(weight_hh, groups, width):
    """The backward panels (P, G H, groups * width) of weight_hh (G H, H), zero past H: each
    panel row a contiguous piece of a weight_hh row, so NumPy's strided copy does it (2.6-3.5x
    faster than a Numba loop over the pieces at hidden 128-512)."""
    (depth, H), span = weight_hh.shape, groups * width
    packed = packing_buffer((-(-H // span), depth, span), weight_hh.dtype)
    whole = H // span
    packed[:whole] = weight_hh[:, :whole * span].reshape(depth, whole, span).transpose(1, 0, 2)
    if whole < packed.shape[0]:
        packed[whole, :, :H - whole * span] = weight_hh[:, whole * span:]
        packed[whole, :, H - whole * span:] = 0
    return packed


@kernel
def forward_columns(H, groups, width, destinations, sources, per_tile):
    """columns (P, tiles, 3 NV) for the forward tiles of every panel, NV = per_tile vectors a
    tile: the vectors of a panel in order, gate g's written at column destinations[g] + unit
    and started from sources[g] + unit (sources[g] < 0: from zero)."""
    span = groups * width
    panels, vectors = -(-H // span), destinations.size * groups
    tiles = vectors // per_tile
    columns = np.empty((panels, tiles, 3 * per_tile), np.int64)
    for p in range(panels):
        for v in range(vectors):
            g, u = v // groups, v % groups
            unit = p * span + u * width
            t, i = v // per_tile, v % per_tile
            columns[p, t, i] = destinations[g] + unit
            columns[p, t, per_tile + i] = min(width, H - unit)
            columns[p, t, 2 * per_tile + i] = sources[g] + unit if sources[g] >= 0 else -1
    return columns


@kernel
def backward_columns(H, groups, width, from_init):
    """columns (P, 1, 3 groups) for the backward tiles: panel p writes the U W units from p U W,
    started from the same columns of the initial value if from_init, else from zero."""
    span = groups * width
    panels = -(-H // span)
    columns = np.empty((panels, 1, 3 * groups), np.int64)
    for p in range(panels):
        for u in range(groups):
            unit = p * span + u * width
            columns[p, 0, u] = unit
            columns[p, 0, groups + u] = min(width, H - unit)
            columns[p, 0, 2 * groups + u] = unit if from_init else -1
    return columns


@kernel
def panel_product(a, packed, p, depth, x, y, columns, per_tile, rows):
    """For panel p and each of its columns of tiles (columns[p]): y (B, .) = x (B, .) + a (B,
    depth) @ the panel, in tiles of one row if `rows` is 1, else of ROWS_n; over k in blocks
    whose share of the panel fits in the L1 cache beside the block of a (BLOCK_BYTES), each
    block's sums going on from the last's in y. While a column runs, the next one's operand is
    prefetched."""
    b = packed.reshape(-1)
    panel_size, ldb, tiles = packed.shape[1] * packed.shape[2], packed.shape[2], columns.shape[1]
    width = ldb // (tiles * per_tile)  # W: a panel row is tiles * per_tile vectors
    # With one or two rows the panel is read once: blocks of k would only add loads and stores.
    span = depth if a.shape[0] <= WIDE_ROWS else max(1, BLOCK_BYTES // (per_tile * width * packed.itemsize))
    a_flat = a.reshape(-1)
    for k in range(0, depth, span):
        block = min(span, depth - k)
        for t in range(tiles):
            b_start = p * panel_size + k * ldb + t * per_tile * width
            b_next = b_start + per_tile * width if t + 1 < tiles else b_start + block * ldb - t * per_tile * width
            if t + 1 == tiles and k + block >= depth:
                b_next = (p + 1) * panel_size
            _tiles(per_tile, rows, a_flat[k:], a.shape[1], a.shape[0], b, b_start, b_next if b_next < b.size else -1,
                   ldb, block, x, y, columns[p, t], k > 0)


@kernel
def _tiles(per_tile, rows, a, lda, count, b, b_start, b_next, ldb, depth, x, y, cols, onto_y):
    """vector.tiles, with the tile's width known only at run time: one branch a width; rows 1
    asks for tiles of one row, anything more for as many as the registers hold (ROWS_n)."""
    x_flat, y_flat, ldx, ldy = x.reshape(-1), y.reshape(-1), x.shape[1], y.shape[1]
    if per_tile == 2:
        if rows > 1:
            tiles(a, lda, b, b_start, b_next, ldb, depth, x_flat, ldx, y_flat, ldy, cols, count, onto_y, ROWS_2, 2)
        else:
            tiles(a, lda, b, b_start, b_next, ldb, depth, x_flat, ldx, y_flat, ldy, cols, count, onto_y, 1, 2)
    elif per_tile == 3:
        if rows > 1:
            tiles(a, lda, b, b_start, b_next, ldb, depth, x_flat, ldx, y_flat, ldy, cols, count, onto_y, ROWS_3, 3)
        else:
            tiles(a, lda, b, b_start, b_next, ldb, depth, x_flat, ldx, y_flat, ldy, cols, count, onto_y, 1, 3)
    elif per_tile == 4:
        if rows > 1:
            tiles(a, lda, b, b_start, b_next, ldb, depth, x_flat, ldx, y_flat, ldy, cols, count, onto_y, ROWS_4, 4)
        else:
            tiles(a, lda, b, b_start, b_next, ldb, depth, x_flat, ldx, y_flat, ldy, cols, count, onto_y, 1, 4)
    else:  # WIDE, one row at a time (batch 1: twelve accumulators, where a tall tile would have one row)
        tiles(a, lda, b, b_start, b_next, ldb, depth, x_flat, ldx, y_flat, ldy, cols, count, onto_y, 1, WIDE)


@kernel
def prefetch_panel(x, y, columns, p):
    """Ask for the lines of x that panel p's tiles start from and of y that they write (columns[p])
    in every row. The tiles' first loads of a step's xproj_t and cache_t miss in the L1 and L2
    caches (the arrays are T steps long): asked for a panel ahead, an LSTM's forward recurrence
    at batch 16, hidden 128-256 ran 5-15% faster, an RNN's at batch 64 on one thread twice as
    fast (AMD Zen 5)."""
    x_flat, y_flat, per_tile = x.reshape(-1), y.reshape(-1), columns.shape[2] // 3
    for r in range(y.shape[0]):
        for t in range(columns.shape[1]):
            for v in range(per_tile):
                if columns[p, t, per_tile + v] > 0:
                    if columns[p, t, 2 * per_tile + v] >= 0:
                        prefetch(x_flat, r * x.shape[1] + columns[p, t, 2 * per_tile + v], False)
                    prefetch(y_flat, r * y.shape[1] + columns[p, t, v], True)
