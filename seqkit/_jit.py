"""The one place Numba options are set.

Every kernel in seqkit is decorated with `kernel`: compiled in nopython mode, cached on disk so
that a second process skips compilation, and without fastmath so that results are exactly
IEEE (the gradient checks depend on it).
"""
import numba

kernel = numba.njit(cache=True, fastmath=False, nogil=True)
