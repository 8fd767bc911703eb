"""The one place Numba options are set.

Every kernel in seqkit is decorated with `kernel`: compiled in nopython mode, cached on disk so
that a second process skips compilation, and without fastmath so that results are exactly
IEEE (the gradient checks depend on it). Division follows NumPy's error model (x / 0 is inf or
nan, as in NumPy and PyTorch) rather than raising ZeroDivisionError: the check for a zero
divisor is a branch that stops LLVM from vectorizing a loop, which left the gate math scalar.
`typed_kernel(signature)` is the same, compiled for one explicit signature: a kernel that takes
a function as an argument needs one to be cached (see seqkit.generation.sampler).
"""
from typing import Any

import numba

OPTIONS: dict[str, Any] = dict(cache=True, fastmath=False, nogil=True, error_model="numpy")

kernel = numba.njit(**OPTIONS)


def typed_kernel(signature):
    return numba.njit(signature, **OPTIONS)
