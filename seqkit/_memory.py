"""What memory this machine can give, read before anything large is allocated: a training run,
a checkpoint whose members declare their sizes, a text read whole."""
import os
from pathlib import Path


def available_bytes():
    """Memory the system can give without swapping (Linux's MemAvailable, within a container's
    cgroup limit), else the physical memory; None where neither can be read."""
    try:
        with open("/proc/meminfo") as meminfo:
            system = next(int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        try:
            system = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, OSError, ValueError):
            return None
    return min(system, _cgroup_room())


def _cgroup_room():
    """What this process's cgroup (v2) may still take: memory.max - memory.current; unbounded
    outside a limited cgroup."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        return int(limit) - used if limit != "max" else float("inf")
    except (OSError, ValueError):
        return float("inf")


def gigabytes(n):
    return f"{n / 1e9:,.1f} GB" if n < 1e15 else f"{n:.1e} bytes"
