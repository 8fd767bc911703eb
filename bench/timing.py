"""What the single-process benchmarks share: OpenBLAS left to pick its own kernels, and medians.

Import it before numpy: use_cpu_kernels() restarts the script without OPENBLAS_CORETYPE (which
forces older kernels, half the GEMM peak on an AVX-512 CPU) unless --keep-coretype is given.
"""
import os
import statistics
import sys
import time


def use_cpu_kernels():
    if "--keep-coretype" not in sys.argv and "OPENBLAS_CORETYPE" in os.environ:
        os.environ.pop("OPENBLAS_CORETYPE")
        os.execv(sys.executable, [sys.executable, *sys.argv])


def median_ms(run, repeats=21, warmup=3):
    """Median milliseconds of `repeats` calls of run(), after `warmup` untimed ones."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)
