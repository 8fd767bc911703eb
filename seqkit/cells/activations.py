"""The nonlinearities the kernels share, compiled inline into each of them, and the row loops
that apply them.

They are built on `exp_nonpositive`, an exp written in plain arithmetic (Cephes' range
reduction and polynomials) instead of a call into libm: LLVM can then vectorize the loops that
use it, which it cannot do with a libm call (the PyPI llvmlite has no vector math library).
In a vectorized loop it costs a fraction of a libm call per element; its error stays within
1 unit in the last place in float32 and 1.5 in float64 (tests/cells/test_activations.py).
Its range reduction and polynomial steps are fused multiply-adds (`fused`) where the CPU has
them: without fastmath LLVM never fuses a multiply and an add itself, and fused the LSTM's
gate math ran 12-18% faster (one rounding a step, not two; no less accurate).

`one` is 1 in the argument's dtype (the caller's x.dtype.type(1)), so float32 math stays
float32: a bare literal would promote every operation to float64 and back.

Numba's on-disk cache keys a kernel on its own file only: after editing this file, delete
seqkit/cells/__pycache__ (and that of every module whose kernels call these) so that no kernel keeps the old code.
"""
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from seqkit._jit import kernel
from seqkit.cells.vector import FMA


@intrinsic
def _float_from_bits(typingctx, bits):
    """The float whose IEEE bit pattern is `bits` (int32 -> float32, int64 -> float64)."""
    if bits == types.int32:
        result, llvm_type = types.float32, ir.FloatType()
    elif bits == types.int64:
        result, llvm_type = types.float64, ir.DoubleType()
    else:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_type)
    return result(bits), codegen


@intrinsic
def fused(typingctx, a, b, c):
    """a * b + c, rounded once (llvm.fma, which LLVM vectorizes) where the CPU has fused
    multiply-adds; elsewhere a multiply and an add, as llvm.fma would be a libm call."""
    if not (a == b == c and a in (types.float32, types.float64)):
        return None

    def codegen(context, builder, signature, args):
        if not FMA:
            return builder.fadd(builder.fmul(args[0], args[1]), args[2])
        value_type = context.get_value_type(signature.args[0])
        name = "llvm.fma.f32" if value_type == ir.FloatType() else "llvm.fma.f64"
        return builder.call(cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(value_type, [value_type] * 3), name), args)
    return a(a, b, c), codegen


def exp_nonpositive(x):
    """e ** x for x <= 0 (e ** 0 = 1 down to the smallest normal float; below that the smallest
    normal, not a subnormal or zero; NaN stays NaN). Outside Numba: np.exp."""
    return np.exp(x)


def _exp_nonpositive_float32(x):
    # Cephes expf: x = n ln2 + r, |r| <= ln2 / 2, e**r by a degree-7 polynomial, times 2**n.
    # n goes to an integer through int32 (n >= -126): AVX2 converts 8 floats to int32 at once
    # but has no float-to-int64 conversion, which LLVM did one lane at a time (a third slower).
    x = max(x, np.float32(-87.33654))
    n = np.floor(x * np.float32(1.44269504088896341) + np.float32(0.5))
    r = fused(n, np.float32(2.12194440e-4), fused(n, np.float32(-0.693359375), x))
    p = np.float32(1.9875691500e-4)
    p = fused(p, r, np.float32(1.3981999507e-3))
    p = fused(p, r, np.float32(8.3334519073e-3))
    p = fused(p, r, np.float32(4.1665795894e-2))
    p = fused(p, r, np.float32(1.6666665459e-1))
    p = fused(p, r, np.float32(5.0000001201e-1))
    p = p * r * r + r + np.float32(1)
    return p * _float_from_bits(np.int32((np.int32(n) + 127) << 23))


def _exp_nonpositive_float64(x):
    # Cephes exp: x = n ln2 + r, e**r = 1 + 2 r P(r*r) / (Q(r*r) - r P(r*r)), times 2**n;
    # n (>= -1022) through int32 as in the float32 exp.
    x = max(x, -708.3964185322641)
    n = np.floor(x * 1.4426950408889634 + 0.5)
    r = fused(n, -1.42860682030941723212e-6, fused(n, -6.93145751953125e-1, x))
    rr = r * r
    p = r * fused(fused(1.26177193074810590878e-4, rr, 3.02994407707441961300e-2), rr, 9.99999999999999999910e-1)
    q = fused(fused(fused(3.00198505138664455042e-6, rr, 2.52448340349684104192e-3), rr,
                    2.27265548208155028766e-1), rr, 2.00000000000000000009e0)
    e = 1.0 + 2.0 * p / (q - p)
    return e * _float_from_bits((np.int64(np.int32(n)) + 1023) << 52)


def exp_nonpositive_lanes(lanes, x):
    """exp_nonpositive on a vector (seqkit.cells.lanes), operation for operation as above."""
    c = lanes.constant
    if lanes.double:
        x = lanes.at_least(x, c(-708.3964185322641))
        n = lanes.floor(lanes.add(lanes.mul(x, c(1.4426950408889634)), c(0.5)))
        r = lanes.fused(n, c(-1.42860682030941723212e-6), lanes.fused(n, c(-6.93145751953125e-1), x))
        rr = lanes.mul(r, r)
        p = lanes.mul(r, lanes.fused(lanes.fused(c(1.26177193074810590878e-4), rr, c(3.02994407707441961300e-2)), rr,
                                     c(9.99999999999999999910e-1)))
        q = lanes.fused(lanes.fused(lanes.fused(c(3.00198505138664455042e-6), rr, c(2.52448340349684104192e-3)), rr,
                                    c(2.27265548208155028766e-1)), rr, c(2.00000000000000000009e0))
        e = lanes.add(c(1.0), lanes.div(lanes.mul(c(2.0), p), lanes.sub(q, p)))
        return lanes.times_power_of_two(e, n)
    f32 = np.float32
    x = lanes.at_least(x, c(f32(-87.33654)))
    n = lanes.floor(lanes.add(lanes.mul(x, c(f32(1.44269504088896341))), c(f32(0.5))))
    r = lanes.fused(n, c(f32(2.12194440e-4)), lanes.fused(n, c(f32(-0.693359375)), x))
    p = c(f32(1.9875691500e-4))
    for coefficient in (1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1):
        p = lanes.fused(p, r, c(f32(coefficient)))
    p = lanes.add(lanes.add(lanes.mul(lanes.mul(p, r), r), r), c(1))
    return lanes.times_power_of_two(p, n)


@overload(exp_nonpositive)
def _exp_nonpositive_typed(x):
    if x == types.float32:
        return _exp_nonpositive_float32
    if x == types.float64:
        return _exp_nonpositive_float64
    return None


@kernel
def sigmoid(a, one):
    """1 / (1 + e**-a), through the exp of -|a| so that nothing overflows."""
    e = exp_nonpositive(-abs(a))
    return one / (one + e) if a >= 0 else e / (one + e)


@kernel
def tanh(a, one):
    """tanh through one exp: (1 - e) / (1 + e) with e = e**(-2|a|), within one unit of 1 in the
    last place of the exact value (absolute)."""
    e = exp_nonpositive(-(one + one) * abs(a))
    t = (one - e) / (one + e)
    return t if a >= 0 else -t


def sigmoid_lanes(lanes, a):
    """sigmoid on a vector, operation for operation."""
    e = exp_nonpositive_lanes(lanes, lanes.neg(lanes.abs(a)))
    one = lanes.constant(1)
    return lanes.div(lanes.select(lanes.at_least_zero(a), one, e), lanes.add(one, e))


def tanh_lanes(lanes, a):
    """tanh on a vector, operation for operation."""
    one = lanes.constant(1)
    e = exp_nonpositive_lanes(lanes, lanes.mul(lanes.neg(lanes.add(one, one)), lanes.abs(a)))
    t = lanes.div(lanes.sub(one, e), lanes.add(one, e))
    return lanes.select(lanes.at_least_zero(a), t, lanes.neg(t))


# Loops over one row of gates, each a separate kernel over 1-d arrays: in this shape LLVM
# vectorizes them (a loop over a 2-d array starting at an offset, or touching many views of
# one buffer at once, it leaves scalar).

@kernel
def sigmoid_of_sum(out, a, bias, one):
    """out = sigmoid(out + a + bias), elementwise over 1-d arrays, in place."""
    for k in range(out.size):
        out[k] = sigmoid(out[k] + a[k] + bias[k], one)


@kernel
def tanh_of_sum(out, a, bias, one):
    """out = tanh(out + a + bias), elementwise over 1-d arrays, in place."""
    for k in range(out.size):
        out[k] = tanh(out[k] + a[k] + bias[k], one)


@kernel
def relu_of_sum(out, a, bias):
    """out = max(out + a + bias, 0), elementwise over 1-d arrays, in place."""
    zero = out.dtype.type(0)
    for k in range(out.size):
        s = out[k] + a[k] + bias[k]
        out[k] = s if s > zero else zero


@kernel
def column_sums(rows, out):
    """out (M,) = rows (N, M) summed over its rows, accumulated in the arrays' dtype."""
    out[:] = 0
    for n in range(rows.shape[0]):
        row = rows[n]
        for m in range(out.size):
            out[m] += row[m]
