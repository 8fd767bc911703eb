"""The per-step products' micro-kernel, written in LLVM vector types through Numba intrinsics,
and the atomics that let the threads of a recurrence wait for each other.

A plain Numba loop over a register tile stays scalar (about 4 GFLOP/s); `tile` emits the tile
directly: MR x NV accumulators of one vector register each (W lanes: 8 float32 or 4 float64
with AVX2, 16 and 8 with AVX-512), one broadcast of A and one fused multiply-add per
accumulator and k. The vector width is the host CPU's, read when this module is imported;
Numba's disk cache keys every compiled function on the CPU's name and features, so a cache
written on one CPU is never used on another, and so is the width compiled into it.

Nothing here raises: callers pass arrays and offsets that lie inside them.
"""
import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_FEATURES = llvm.get_host_cpu_features()
AVX512 = bool(_FEATURES.get("avx512f"))
FMA = bool(_FEATURES.get("fma")) or AVX512
VECTOR_BYTES = 64 if AVX512 else 32 if _FEATURES.get("avx") else 16
REGISTERS = 32 if AVX512 else 16  # vector registers the tile's accumulators and operands share
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
def tile(typingctx, a, a_start, lda, b, b_start, b_next, ldb, depth, x, x_row, ldx, y, y_row, ldy, columns, MR, NV):
    """For r < MR and v < NV, with c = columns[v], n = columns[NV + v] and m = columns[2 NV + v]:

        y[y_row + r ldy + c + l] = x0 + sum over k < depth of a[a_start + r lda + k] * b[b_start + k ldb + v W + l]

    for the lanes l < n (at most W; none when n <= 0), where x0 = x[x_row + r ldx + m + l] when
    m >= 0 and 0 when m < 0. `columns` is an int64 array (3 NV,). The sum runs k = 0, 1, ... in
    that order with one fused multiply-add each, so an element's result does not depend on the
    tile it was computed in. MR and NV are compile-time constants. With b_next >= 0, the line at
    b[b_next + k ldb] is prefetched at each k: the next tile's operand, brought in meanwhile."""
    if not (isinstance(MR, types.IntegerLiteral) and isinstance(NV, types.IntegerLiteral)):
        return None
    rows, vectors = MR.literal_value, NV.literal_value
    dtype = a.dtype

    def codegen(context, builder, signature, args):
        a_, a_start_, lda_, b_, b_start_, b_next_, ldb_, depth_, x_, x_row_, ldx_, y_, y_row_, ldy_, columns_ = args[:15]
        float_type = context.get_value_type(dtype)
        width = VECTOR_BYTES // (4 if float_type == ir.FloatType() else 8)
        vector = ir.VectorType(float_type, width)
        i32 = ir.IntType(32)

        def pointer(array, position):
            return context.make_array(signature.args[position])(context, builder, array).data

        A, B, X, Y = pointer(a_, 0), pointer(b_, 3), pointer(x_, 8), pointer(y_, 11)
        C = pointer(columns_, 14)
        ahead = builder.select(builder.icmp_signed(">=", b_next_, _int(0)), b_next_, b_start_)
        prefetcher = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer(), i32, i32, i32]),
            "llvm.prefetch.p0i8")
        column = [builder.load(builder.gep(C, [_int(v)])) for v in range(vectors)]
        valid = [builder.load(builder.gep(C, [_int(vectors + v)])) for v in range(vectors)]
        source = [builder.load(builder.gep(C, [_int(2 * vectors + v)])) for v in range(vectors)]
        lane_numbers = ir.Constant(ir.VectorType(ir.IntType(64), width), list(range(width)))

        def mask(n):
            splat = builder.shuffle_vector(builder.insert_element(ir.Constant(ir.VectorType(ir.IntType(64), width),
                                                                              ir.Undefined), n, ir.Constant(i32, 0)),
                                           ir.Constant(ir.VectorType(ir.IntType(64), width), ir.Undefined),
                                           ir.Constant(ir.VectorType(i32, width), [0] * width))
            return builder.icmp_signed("<", lane_numbers, splat)

        def vector_pointer(base, index):
            return builder.bitcast(builder.gep(base, [index]), vector.as_pointer())

        suffix = f"v{width}{'f32' if float_type == ir.FloatType() else 'f64'}"
        masked_load = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vector, [vector.as_pointer(), i32, ir.VectorType(ir.IntType(1), width),
                                                     vector]), f"llvm.masked.load.{suffix}.p0{suffix}")
        masked_store = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [vector, vector.as_pointer(), i32,
                                                            ir.VectorType(ir.IntType(1), width)]),
            f"llvm.masked.store.{suffix}.p0{suffix}")
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vector, [vector] * 3), f"llvm.fma.{suffix}")
        zero = ir.Constant(vector, [0.0] * width)

        accumulators = [[cgutils.alloca_once(builder, vector) for _ in range(vectors)] for _ in range(rows)]
        for v in range(vectors):
            whole = builder.icmp_signed(">=", valid[v], _int(width))
            partial = builder.icmp_signed(">", valid[v], _int(0))
            loads = builder.and_(partial, builder.icmp_signed(">=", source[v], _int(0)))
            lane_mask = mask(valid[v])
            for r in range(rows):
                slot = accumulators[r][v]
                builder.store(zero, slot)
                with builder.if_then(loads):
                    index = builder.add(builder.add(x_row_, builder.mul(_int(r), ldx_)), source[v])
                    where = vector_pointer(X, index)
                    with builder.if_else(whole) as (full, part):
                        with full:
                            builder.store(builder.load(where, align=1), slot)
                        with part:
                            builder.store(builder.call(masked_load, [where, ir.Constant(i32, 1), lane_mask, zero]), slot)

        with cgutils.for_range(builder, depth_) as loop:
            k = loop.index
            row_of_b = builder.add(b_start_, builder.mul(k, ldb_))
            upcoming = builder.bitcast(builder.gep(B, [builder.add(ahead, builder.mul(k, ldb_))]),
                                       ir.IntType(8).as_pointer())
            builder.call(prefetcher, [upcoming, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
            operands = [builder.load(vector_pointer(B, builder.add(row_of_b, _int(v * width))), align=1)
                        for v in range(vectors)]
            for r in range(rows):
                scalar = builder.load(builder.gep(A, [builder.add(builder.add(a_start_, builder.mul(_int(r), lda_)), k)]))
                splat = builder.shuffle_vector(builder.insert_element(ir.Constant(vector, ir.Undefined), scalar,
                                                                      ir.Constant(i32, 0)),
                                               ir.Constant(vector, ir.Undefined),
                                               ir.Constant(ir.VectorType(i32, width), [0] * width))
                for v in range(vectors):
                    slot = accumulators[r][v]
                    if FMA:
                        value = builder.call(fma, [splat, operands[v], builder.load(slot)])
                    else:
                        value = builder.fadd(builder.load(slot), builder.fmul(splat, operands[v]))
                    builder.store(value, slot)

        for v in range(vectors):
            whole = builder.icmp_signed(">=", valid[v], _int(width))
            partial = builder.icmp_signed(">", valid[v], _int(0))
            lane_mask = mask(valid[v])
            for r in range(rows):
                index = builder.add(builder.add(y_row_, builder.mul(_int(r), ldy_)), column[v])
                with builder.if_then(partial):
                    where = vector_pointer(Y, index)
                    value = builder.load(accumulators[r][v])
                    with builder.if_else(whole) as (full, part):
                        with full:
                            builder.store(value, where, align=1)
                        with part:
                            builder.call(masked_store, [value, where, ir.Constant(i32, 1), lane_mask])
        return context.get_dummy_value()

    return (types.none(a, a_start, lda, b, b_start, b_next, ldb, depth, x, x_row, ldx, y, y_row, ldy, columns, MR, NV),
            codegen)


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
def pause(typingctx):
    """The CPU's spin-wait hint (x86's pause), so that a waiting thread yields its core's pipeline."""
    def codegen(context, builder, signature, args):
        if "x86" in llvm.get_process_triple():
            function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                      "llvm.x86.sse2.pause")
            builder.call(function, [])
        return context.get_dummy_value()
    return types.none(), codegen


@intrinsic(prefer_literal=True)
def prefetch(typingctx, array, index, for_writing):
    """Ask the CPU to bring the cache line of array.ravel()[index] close (llvm.prefetch, to L1),
    for writing if for_writing (a constant): a hint, never a fault, whatever the index."""
    if not isinstance(for_writing, types.BooleanLiteral):
        return None
    write = int(for_writing.literal_value)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        where = builder.bitcast(builder.gep(data, [args[1]]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer(), i32, i32, i32]),
            "llvm.prefetch.p0i8")
        builder.call(function, [where, ir.Constant(i32, write), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return types.none(array, index, for_writing), codegen
