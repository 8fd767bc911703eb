"""What the single-process benchmarks share: OpenBLAS left to pick its own kernels, and medians.

Import it before numpy: use_cpu_kernels() restarts the script without OPENBLAS_CORETYPE (which
forces older kernels, half the GEMM peak on an AVX-512 CPU) unless --keep-coretype is given.
"""
import os
import platform
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


def cpu_model():
    """The CPU's model name with its family and model numbers (a VM's name alone, "AMD EPYC",
    does not tell Zen 3 from Zen 5)."""
    fields = {}
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as lines:
            for line in lines:
                name, _, value = line.partition(":")
                fields.setdefault(name.strip(), value.strip())
    if "model name" not in fields:
        return platform.processor() or "unknown CPU"
    return f"{fields['model name']} (family {fields.get('cpu family', '?')} model {fields.get('model', '?')})"
