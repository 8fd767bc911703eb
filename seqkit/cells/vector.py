"""The per-step products' micro-kernel, written in LLVM vector types through Numba intrinsics,
and the atomics that let the threads of a recurrence share its panels and wait for each other.

A plain Numba loop over a register tile stays scalar (about 4 GFLOP/s); `tile` emits the tile
directly: MR x NV accumulators of one vector register each (W lanes: 8 float32 or 4 float64
with AVX2, 16 and 8 with AVX-512), one broadcast of A and one fused multiply-add per
accumulator and k. The vector width follows the CPU features Numba compiles for (the host's,
or NUMBA_CPU_FEATURES where it is set), read when this module is imported; Numba's disk cache
keys every compiled function on the CPU's name and those features, so a cache written on one
CPU is never used on another, and so is the width compiled into it.

Nothing here raises: callers pass arrays and offsets that lie inside them.
"""
import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic


def compiled_features():
    """{feature: enabled} of the code Numba emits: NUMBA_CPU_FEATURES ("+avx2,-avx512f,...")
    where it is set, else the host CPU's. Vectors wider than the code may use would be split
    by LLVM into narrower ones, at a loss."""
    if config.CPU_FEATURES:
        return {flag[1:]: flag[0] == "+" for flag in config.CPU_FEATURES.split(",") if flag[:1] in "+-" and flag[1:]}
    return dict(llvm.get_host_cpu_features())


_FEATURES = compiled_features()
AVX512 = bool(_FEATURES.get("avx512f"))
FMA = bool(_FEATURES.get("fma")) or AVX512
VECTOR_BYTES = 64 if AVX512 else 32 if _FEATURES.get("avx") else 16
REGISTERS = 32 if AVX512 else 16  # vector registers the tile's accumulators and operands share
LINE = 64  # bytes: a cache line on x86-64, and the widest vector register
ISA = "AVX-512" if AVX512 else "AVX2" if _FEATURES.get("avx2") else "AVX" if VECTOR_BYTES == 32 else "SSE"


def lanes(dtype):
    """W: the elements of `dtype` in one vector register."""
    return VECTOR_BYTES // np.dtype(dtype).itemsize


def tile_rows(vectors):
    """MR: rows of a tile NV = `vectors` registers wide, as many as the registers hold with the
    MR * NV accumulators, NV operands and a broadcast."""
    return max(1, (REGISTERS - vectors - 1) // vectors)


def _int(value):
    return ir.Constant(ir.IntType(64), value)


@intrinsic(prefer_literal=True)
def tiles(typingctx, a, lda, b, b_start, b_next, ldb, depth, x, ldx, y, ldy, columns, count, onto_y, MR, NV):
    """One column of tiles, NV vectors wide, down `count` rows. For rows r < count and v < NV,
    with c = columns[v], n = columns[NV + v] and m = columns[2 NV + v]:

        y[r ldy + c + l] = x0 + sum over k < depth of a[r lda + k] * b[b_start + k ldb + v W + l]

    for the lanes l < n (at most W; none when n <= 0), where x0 = x[r ldx + m + l] when m >= 0
    and 0 when m < 0 (with onto_y, x0 = y[r ldy + c + l]: the sum goes on from an earlier call's
    over other k); `columns` is an int64 array (3 NV,). The rows go in tiles of MR (the last
    ones split evenly), each with MR * NV accumulators in registers. Each sum runs k = 0, 1, ...
    in that order, one fused multiply-add each, so an element's result does not depend on the
    tile it was computed in. MR and NV are compile-time constants. With b_next >= 0, one line of
    the next column's row at b[b_next + k ldb] is prefetched at each k, brought in meanwhile:
    the i-th tile of rows asks for line i (mod the NV vectors' lines), so that the tiles down a
    column together ask for all of them. Against every tile asking for the first line, on AMD
    Zen 5 (one core) the products at hidden 1024 batch 16 ran 1.5x faster, batch 64 1.13-1.15x,
    hidden 768 1.09-1.20x, hidden 256 1.01-1.13x; batch 1-2, hidden 128 and the default training
    step unchanged."""
    if not (isinstance(MR, types.IntegerLiteral) and isinstance(NV, types.IntegerLiteral)):
        return None
    most, vectors = MR.literal_value, NV.literal_value
    dtype = a.dtype

    def codegen(context, builder, signature, args):
        a_, lda_, b_, b_start_, b_next_, ldb_, depth_, x_, ldx_, y_, ldy_, columns_, count_, onto_y_ = args[:14]
        float_type = context.get_value_type(dtype)
        width = VECTOR_BYTES // (4 if float_type == ir.FloatType() else 8)
        vector = ir.VectorType(float_type, width)
        i32, i64 = ir.IntType(32), ir.IntType(64)
        suffix = f"v{width}{'f32' if float_type == ir.FloatType() else 'f64'}"
        mask_type = ir.VectorType(ir.IntType(1), width)

        def function(name, result, arguments):
            return cgutils.get_or_insert_function(builder.module, ir.FunctionType(result, arguments), name)

        fma = function(f"llvm.fma.{suffix}", vector, [vector] * 3)
        masked_load = function(f"llvm.masked.load.{suffix}.p0{suffix}", vector,
                               [vector.as_pointer(), i32, mask_type, vector])
        masked_store = function(f"llvm.masked.store.{suffix}.p0{suffix}", ir.VoidType(),
                                [vector, vector.as_pointer(), i32, mask_type])

        def data(position):
            return context.make_array(signature.args[position])(context, builder, args[position]).data

        A, B, X, Y, C = data(0), data(2), data(7), data(9), data(11)
        column = [builder.load(builder.gep(C, [_int(v)])) for v in range(vectors)]
        valid = [builder.load(builder.gep(C, [_int(vectors + v)])) for v in range(vectors)]
        source = [builder.select(onto_y_, c, builder.load(builder.gep(C, [_int(2 * vectors + v)])))
                  for v, c in enumerate(column)]
        X, ldx_ = builder.select(onto_y_, Y, X), builder.select(onto_y_, ldy_, ldx_)
        whole = [builder.icmp_signed(">=", n, _int(width)) for n in valid]
        partial = [builder.icmp_signed(">", n, _int(0)) for n in valid]
        loads = [builder.and_(p, builder.icmp_signed(">=", m, _int(0))) for p, m in zip(partial, source)]
        lanes = ir.Constant(ir.VectorType(i64, width), list(range(width)))
        masks = [builder.icmp_signed("<", lanes, splat(builder, n, ir.VectorType(i64, width))) for n in valid]
        zero = ir.Constant(vector, [0.0] * width)
        ahead = builder.select(builder.icmp_signed(">=", b_next_, _int(0)), b_next_, b_start_)

        def vector_at(base, index):
            return builder.bitcast(builder.gep(base, [index]), vector.as_pointer())

        def emit_tile(rows, row):
            """The tile of `rows` rows from row `row`: initial values, the k loop, the stores."""
            slots = [[cgutils.alloca_once(builder, vector) for _ in range(vectors)] for _ in range(rows)]
            for v in range(vectors):
                for r in range(rows):
                    builder.store(zero, slots[r][v])
                    with builder.if_then(loads[v]):
                        where = vector_at(X, builder.add(builder.mul(builder.add(row, _int(r)), ldx_), source[v]))
                        with builder.if_else(whole[v]) as (full, part):
                            with full:
                                builder.store(builder.load(where, align=1), slots[r][v])
                            with part:
                                builder.store(builder.call(masked_load, [where, ir.Constant(i32, 1), masks[v], zero]),
                                              slots[r][v])
            a_rows = [builder.mul(builder.add(row, _int(r)), lda_) for r in range(rows)]
            # Tile i of rows asks for line i (mod `lines`, those NV vectors span) of the next rows.
            lines = max(1, vectors * VECTOR_BYTES // LINE)
            line = builder.srem(builder.sdiv(row, _int(most)), _int(lines))
            ahead_line = builder.add(ahead, builder.mul(line, _int(LINE * width // VECTOR_BYTES)))
            with cgutils.for_range(builder, depth_) as loop:
                k = loop.index
                offset = builder.mul(k, ldb_)
                upcoming = builder.gep(B, [builder.add(ahead_line, offset)])
                prefetch_line(builder, upcoming, False)
                row_of_b = builder.add(b_start_, offset)
                operands = [builder.load(vector_at(B, builder.add(row_of_b, _int(v * width))), align=1)
                            for v in range(vectors)]
                for r in range(rows):
                    broadcast = splat(builder, builder.load(builder.gep(A, [builder.add(a_rows[r], k)])), vector)
                    for v in range(vectors):
                        if FMA:
                            value = builder.call(fma, [broadcast, operands[v], builder.load(slots[r][v])])
                        else:
                            value = builder.fadd(builder.load(slots[r][v]), builder.fmul(broadcast, operands[v]))
                        builder.store(value, slots[r][v])
            for v in range(vectors):
                for r in range(rows):
                    with builder.if_then(partial[v]):
                        where = vector_at(Y, builder.add(builder.mul(builder.add(row, _int(r)), ldy_), column[v]))
                        value = builder.load(slots[r][v])
                        with builder.if_else(whole[v]) as (full, part):
                            with full:
                                builder.store(value, where, align=1)
                            with part:
                                builder.call(masked_store, [value, where, ir.Constant(i32, 1), masks[v]])

        # The rows in tiles: MR at a time while 2 MR or more are left, then the rest in one or two.
        position = cgutils.alloca_once_value(builder, _int(0))
        head = builder.append_basic_block("rows")
        done = builder.append_basic_block("rows_done")
        builder.branch(head)
        builder.position_at_end(head)
        row = builder.load(position)
        left = builder.sub(count_, row)
        builder.cbranch(builder.icmp_signed("<=", left, _int(0)), done, head.function.append_basic_block("row_tile"))
        builder.position_at_end(head.function.basic_blocks[-1])
        halves = builder.sdiv(builder.add(left, _int(1)), _int(2))
        rest = builder.select(builder.icmp_signed("<=", left, _int(most)), left, halves)
        size = builder.select(builder.icmp_signed(">=", left, _int(2 * most)), _int(most), rest)
        after = builder.append_basic_block("row_tile_done")
        switch = builder.switch(size, after)
        for rows in range(1, most + 1):
            case = builder.append_basic_block(f"tile_{rows}")
            switch.add_case(_int(rows), case)
            builder.position_at_end(case)
            emit_tile(rows, row)
            builder.branch(after)
        builder.position_at_end(after)
        builder.store(builder.add(row, size), position)
        builder.branch(head)
        builder.position_at_end(done)
        return context.get_dummy_value()

    return types.none(a, lda, b, b_start, b_next, ldb, depth, x, ldx, y, ldy, columns, count, onto_y, MR, NV), codegen


def prefetch_line(builder, pointer, for_store):
    """Emit a prefetch of the cache line at `pointer` into the L1 cache, for a store or a load."""
    i32, byte = ir.IntType(32), ir.IntType(8).as_pointer()
    function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [byte, i32, i32, i32]),
                                              "llvm.prefetch.p0i8")
    builder.call(function, [builder.bitcast(pointer, byte), ir.Constant(i32, int(for_store)), ir.Constant(i32, 3),
                            ir.Constant(i32, 1)])


def splat(builder, value, vector_type):
    """A vector of vector_type with `value` in every lane."""
    count = vector_type.count
    single = builder.insert_element(ir.Constant(vector_type, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(single, ir.Constant(vector_type, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), count), [0] * count))


@intrinsic(prefer_literal=True)
def prefetch(typingctx, array, index, write):
    """Ask for the cache line holding array[index] (a 1-d array) in the L1 cache, for a store if
    `write` (a compile-time bool), else for a load; the CPU may drop the request, never faults."""
    if not isinstance(write, types.BooleanLiteral):
        return None
    for_store = bool(write.literal_value)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        prefetch_line(builder, builder.gep(data, [args[1]]), for_store)
        return context.get_dummy_value()
    return types.none(array, index, write), codegen


@intrinsic
def publish(typingctx, flags, index, value):
    """flags[index] = value (int64), as an atomic store with release ordering: whatever this
    thread wrote before it is visible to a thread that reads the flag with `observe`."""
    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        where = builder.gep(array.data, [args[1]])
        builder.store_atomic(args[2], where, "release", 8)
        return context.get_dummy_value()
    return types.none(flags, index, value), codegen


@intrinsic
def observe(typingctx, flags, index):
    """flags[index] (int64), read as an atomic load with acquire ordering (see publish)."""
    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.load_atomic(builder.gep(array.data, [args[1]]), "acquire", 8)
    return types.int64(flags, index), codegen


@intrinsic
def swap_if(typingctx, flags, index, expected, value):
    """flags[index] = value if it holds `expected` (int64), atomically (acquire-release); True
    if it did, False if another thread changed it first."""
    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        outcome = builder.cmpxchg(builder.gep(array.data, [args[1]]), args[2], args[3], "acq_rel", "acquire")
        return builder.extract_value(outcome, 1)
    return types.boolean(flags, index, expected, value), codegen


@intrinsic
def pause(typingctx):
    """The CPU's spin-wait hint (x86's pause), so that a waiting thread yields its core's pipeline."""
    def codegen(context, builder, signature, args):
        if "x86" in llvm.get_process_triple():
            function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                      "llvm.x86.sse2.pause")
            builder.call(function, [])
        return context.get_dummy_value()
    return types.none(), codegen
