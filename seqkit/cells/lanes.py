"""Elementwise arithmetic on LLVM vectors, for gate math written as intrinsics.

Numba's loops over a row of gates vectorize, but each call of one runs LLVM's prologue (alias
checks, constants broadcast anew) and an epilogue of narrower vectors and single elements, and
a recurrence's threads call them on runs of hidden units as short as one panel (16 units with
AVX-512). Code written with `Lanes` runs whole vectors of the register width
(seqkit.cells.vector) and one masked vector at the end, whatever the run's length. The LSTM's
gate math so written, against the loops, on AMD Zen 5 (AVX-512, one core), in ns a unit and row
over runs of 16, 32, 64, 128, 256 units: 1.61, 1.55, 1.53, 1.51, 1.52 against 12.6, 6.5, 3.4,
2.1, 1.6. With its gate gradients likewise, in one process: a layer's recurrence at hidden 128
batch 32-64 on two threads 1.31-1.33x forward, 1.39x backward; hidden 256 batch 16 1.08x and
1.16x; the default training step 1.05-1.09x.

Each operation is the one Numba emits for the scalar expression it mirrors (an fneg for -x, an
`fcmp olt` and a select for max(x, c), llvm.fma where `fused` uses it), so that vector code
written as a scalar kernel's expressions gives that kernel's results to the bit.

A cell's row intrinsic is a typing function returning row_kernel(units, ...), and `units` the
vector work of one step along the row (see _gates_to_state_units in seqkit.cells.lstm).
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils

from seqkit.cells.vector import FMA, VECTOR_BYTES, splat


def row_kernel(units, length_of, args):
    """(signature, codegen) of an intrinsic over the units [lo, hi) of one row, for its typing
    function to return: args are its Numba types, the 1-d arrays first, then lo and hi, then
    optionally a boolean flag; None (no match) unless the arrays are C-contiguous and of one
    float dtype. units(lanes, pointers, H, index, mask[, flag]) emits one vector's work, pointers
    the arrays' data, H the length of args[length_of]; with a flag, a Python bool (Lanes.over_either)."""
    arrays = [a for a in args if isinstance(a, types.Array)]
    if not (all(a.ndim == 1 and a.layout == "C" and a.dtype == arrays[0].dtype for a in arrays)
            and arrays[0].dtype in (types.float32, types.float64)):
        return None

    def codegen(context, builder, signature, values):
        lanes = Lanes(context, builder, arrays[0].dtype)
        pointers = lanes.pointers(signature, values)
        H = lanes.length(signature.args[length_of], values[length_of])
        lo, hi, *flag = values[len(arrays):]
        if flag:
            lanes.over_either(flag[0], lo, hi, lambda index, mask, value: units(lanes, pointers, H, index, mask, value))
        else:
            lanes.over(lo, hi, lambda index, mask: units(lanes, pointers, H, index, mask))
        return context.get_dummy_value()
    return types.none(*args), codegen


class Lanes:
    """Emits vector code with `builder` on vectors of the register's width of the float `dtype`
    (a Numba type), with the helpers of a Numba intrinsic's codegen (`context`)."""

    def __init__(self, context, builder, dtype):
        self.context, self.builder = context, builder
        self.float_type = context.get_value_type(dtype)
        self.double = self.float_type == ir.DoubleType()
        self.width = VECTOR_BYTES // (8 if self.double else 4)
        self.vector = ir.VectorType(self.float_type, self.width)
        self.suffix = f"v{self.width}{'f64' if self.double else 'f32'}"

    def constant(self, value):
        """`value` in every lane (rounded to the lanes' float type)."""
        return ir.Constant(self.vector, [float(value)] * self.width)

    def _call(self, name, *values):
        function = cgutils.get_or_insert_function(self.builder.module, ir.FunctionType(
            values[0].type, [value.type for value in values]), f"llvm.{name}.{self.suffix}")
        return self.builder.call(function, values)

    def add(self, a, b):
        return self.builder.fadd(a, b)

    def sub(self, a, b):
        return self.builder.fsub(a, b)

    def mul(self, a, b):
        return self.builder.fmul(a, b)

    def div(self, a, b):
        return self.builder.fdiv(a, b)

    def neg(self, a):
        return self.builder.fneg(a)

    def abs(self, a):
        return self._call("fabs", a)

    def floor(self, a):
        return self._call("floor", a)

    def fused(self, a, b, c):
        """a * b + c as seqkit.cells.activations.fused computes it: rounded once where the CPU
        has fused multiply-adds."""
        return self._call("fma", a, b, c) if FMA else self.add(self.mul(a, b), c)

    def at_least_zero(self, a):
        """The lanes where a >= 0 (false for NaN), as a mask for `select`."""
        return self.builder.fcmp_ordered(">=", a, self.constant(0))

    def above_zero(self, a):
        """The lanes where a > 0 (false for NaN)."""
        return self.builder.fcmp_ordered(">", a, self.constant(0))

    def select(self, mask, a, b):
        return self.builder.select(mask, a, b)

    def at_least(self, a, floor):
        """max(a, floor) for a constant floor, as Numba's max: NaN lanes stay NaN."""
        return self.select(self.builder.fcmp_ordered("<", a, floor), floor, a)

    def times_power_of_two(self, a, n):
        """a * 2 ** n for n (integral floats) from the smallest normal exponent to 0: 2 ** n built
        from its bits, its exponent n + bias (through int32, as the scalar exp does)."""
        builder = self.builder
        exponent = builder.fptosi(n, ir.VectorType(ir.IntType(32), self.width))
        if self.double:
            wide = builder.sext(exponent, ir.VectorType(ir.IntType(64), self.width))
            bits = builder.shl(builder.add(wide, self._integers(64, 1023)), self._integers(64, 52))
        else:
            bits = builder.shl(builder.add(exponent, self._integers(32, 127)), self._integers(32, 23))
        return self.mul(a, builder.bitcast(bits, self.vector))

    def _integers(self, bits, value):
        return ir.Constant(ir.VectorType(ir.IntType(bits), self.width), [value] * self.width)

    def pointers(self, signature, args):
        """The data pointers of an intrinsic's array arguments, in order."""
        return [self.context.make_array(t)(self.context, self.builder, a).data
                for t, a in zip(signature.args, args) if isinstance(t, types.Array)]

    def block(self, index, size, n):
        """index + n size (int64s): the same unit's element in the n-th block of a row of gates."""
        return self.builder.add(index, self.builder.mul(size, ir.Constant(size.type, n)))

    def length(self, array_type, array):
        """The first dimension of a Numba array argument, as an int64."""
        return cgutils.unpack_tuple(self.builder, self.context.make_array(array_type)(
            self.context, self.builder, array).shape, 1)[0]

    def load(self, base, index, mask):
        """The vector at base[index:index + width]; with a mask, only its lanes (the rest 0)."""
        where = self.builder.bitcast(self.builder.gep(base, [index]), self.vector.as_pointer())
        if mask is None:
            return self.builder.load(where, align=1)
        return self._masked("load", self.vector, [where, ir.Constant(ir.IntType(32), 1), mask,
                                                  self.constant(0)])

    def store(self, value, base, index, mask):
        """base[index:index + width] = value; with a mask, only its lanes."""
        where = self.builder.bitcast(self.builder.gep(base, [index]), self.vector.as_pointer())
        if mask is None:
            self.builder.store(value, where, align=1)
        else:
            self._masked("store", ir.VoidType(), [value, where, ir.Constant(ir.IntType(32), 1), mask])

    def _masked(self, name, result, values):
        function = cgutils.get_or_insert_function(self.builder.module, ir.FunctionType(
            result, [value.type for value in values]), f"llvm.masked.{name}.{self.suffix}.p0{self.suffix}")
        return self.builder.call(function, values)

    def over(self, lo, hi, body):
        """body(index, mask) for index = lo, lo + width, ... below hi (int64s): whole vectors with
        mask None while they fit, then one masked vector for the rest, if any."""
        builder, i64 = self.builder, ir.IntType(64)
        width = ir.Constant(i64, self.width)
        whole = builder.sdiv(builder.sub(builder.select(builder.icmp_signed(">", hi, lo), hi, lo), lo), width)
        with cgutils.for_range(builder, whole) as loop:
            body(builder.add(lo, builder.mul(loop.index, width)), None)
        start = builder.add(lo, builder.mul(whole, width))
        left = builder.sub(hi, start)
        with builder.if_then(builder.icmp_signed(">", left, ir.Constant(i64, 0)), likely=False):
            lanes = ir.Constant(ir.VectorType(i64, self.width), list(range(self.width)))
            body(start, builder.icmp_signed("<", lanes, splat(builder, left, lanes.type)))

    def over_either(self, flag, lo, hi, body):
        """over(lo, hi) of body(index, mask, value) with a run-time boolean `flag` (an i1) chosen
        once, outside the loop: value the Python bool of the branch taken, so that the body is
        emitted twice, each without the other's code."""
        with self.builder.if_else(flag) as (when_true, when_false):
            with when_true:
                self.over(lo, hi, lambda index, mask: body(index, mask, True))
            with when_false:
                self.over(lo, hi, lambda index, mask: body(index, mask, False))
