"""How many BLAS threads a process takes when MPI started several on one machine, and how long
they spin when idle. Imported by seqkit/__init__.py before NumPy, because OpenBLAS reads its
settings once, when it loads."""
import os

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# The count of processes that share this machine, as MPICH's and Open MPI's launchers say it.
LOCAL_PROCESSES = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE")


def usable_cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def launcher_count(names, environ=os.environ):
    """The first of the variables `names` that an MPI launcher set, as a number: 1 outside MPI."""
    for name in names:
        if environ.get(name, "").isdigit():
            return max(1, int(environ[name]))
    return 1


def local_processes(environ=os.environ):
    """How many processes of this MPI job run on this machine: 1 outside MPI."""
    return launcher_count(LOCAL_PROCESSES, environ)


# OpenBLAS's idle threads spin for 2**28 cycles after each product before they sleep; a
# recurrence that runs on threads of its own between two products would share its cores with
# them (seqkit.cells.sharing), at half its speed or worse. 2**4 cycles: they sleep at once.
THREAD_TIMEOUT = ("OPENBLAS_THREAD_TIMEOUT", "4")


def share_cores(environ=os.environ):
    """Give each of the local processes (cores / local processes) BLAS threads, unless the user
    chose a count: N processes with all the cores each would oversubscribe them N times, which
    slows multi-threaded BLAS tenfold or more. And let idle BLAS threads sleep at once (unless
    the user set OPENBLAS_THREAD_TIMEOUT)."""
    environ.setdefault(*THREAD_TIMEOUT)
    processes = local_processes(environ)
    if processes > 1 and not any(name in environ for name in THREAD_VARIABLES):
        for name in THREAD_VARIABLES:  # OpenBLAS's, and MKL's in NumPy builds that use it
            environ[name] = str(max(1, usable_cores() // processes))
