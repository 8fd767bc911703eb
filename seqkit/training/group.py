"""Data-parallel training over MPI: which process this is, and the few collective calls that
training needs (Horovod's and PyTorch DDP's design). Every process holds the whole model and
takes a contiguous block of the batch's streams; one Allreduce of a single flat buffer per step
sums the gradients and the loss, so each process makes the same update one process would.

A program started by `mpiexec -n N` (N > 1) joins the job through mpi4py, the `seqkit[mpi]`
extra; anything else runs Alone, where every call below is free and changes nothing.
"""
import json
import os

import numpy as np

from seqkit._cores import launcher_count
from seqkit.errors import TrainingError, option, setting

# The size of the job, as MPICH's (Hydra) and Open MPI's launchers tell each process.
JOB_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
EXTRA = 'pip install "seqkit[mpi]"'


class MPIMissing(RuntimeError):
    """Several processes were asked for, but mpi4py is not installed."""


def launched_size(environ=os.environ):
    """How many processes the MPI launcher started this one among: 1 outside MPI."""
    return launcher_count(JOB_SIZE, environ)


def import_mpi():
    """mpi4py's MPI module (initialising MPI), or MPIMissing saying how to install it."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise MPIMissing(f"training with several processes needs MPI for Python: {EXTRA}") from None
    return MPI


def current_group():
    """The group of processes this one trains in: an MPI group under `mpiexec -n N` with N > 1,
    else one process Alone."""
    if launched_size() < 2:
        return ALONE
    MPI = import_mpi()
    comm = MPI.COMM_WORLD
    if comm.Get_size() != launched_size():
        raise MPIMissing(f"mpiexec started {launched_size()} processes but MPI for Python sees "
                         f"{comm.Get_size()}: start them with the mpiexec of the MPI mpi4py was built for "
                         f"(the one {EXTRA} installs)")
    return Group(comm, MPI)


class Alone:
    """One process: rank 0 of 1. The collective calls return at once."""

    rank, size = 0, 1

    def sum(self, array):
        """Sum array (a C-contiguous float64 or float32 array) over the processes, in place."""

    def broadcast(self, array):
        """Overwrite array with rank 0's, in place."""

    def share_text(self, text):
        """Rank 0's text (None stands for "rank 0 failed") on every process."""
        return text

    def gather_streams(self, array):
        """Rank 0: the processes' arrays (B_r, ...) stacked along their first axis in rank order;
        elsewhere None."""
        return array

    def abort(self):
        """End every process of the job at once (after an error in one of them)."""


ALONE = Alone()


class Group(Alone):
    """The processes of an MPI job (COMM_WORLD), through mpi4py's buffer calls: arrays travel as
    raw memory, never pickled."""

    def __init__(self, comm, MPI):
        self.comm, self.MPI = comm, MPI
        self.rank, self.size = comm.Get_rank(), comm.Get_size()

    def sum(self, array):
        self.comm.Allreduce(self.MPI.IN_PLACE, array, op=self.MPI.SUM)

    def broadcast(self, array):
        self.comm.Bcast(array, root=0)

    def share_text(self, text):
        data = np.frombuffer(b"" if text is None else text.encode(), np.uint8)
        length = np.array([len(data) if text is not None else -1], np.int64)
        self.comm.Bcast(length, root=0)
        if length[0] < 0:
            return None
        buffer = data.copy() if self.rank == 0 else np.empty(length[0], np.uint8)
        self.comm.Bcast(buffer, root=0)
        return buffer.tobytes().decode()

    def gather_streams(self, array):
        array = np.ascontiguousarray(array)
        whole = np.empty((self.size, *array.shape), array.dtype) if self.rank == 0 else None
        self.comm.Gather(array, whole, root=0)
        return whole.reshape(-1, *array.shape[1:]) if self.rank == 0 else None

    def abort(self):
        self.comm.Abort(1)


def share_json(group, obj):
    """Rank 0's JSON-able obj (None: rank 0 failed) on every process."""
    text = group.share_text(None if obj is None else json.dumps(obj))
    return None if text is None else json.loads(text)


def block(total, group):
    """The slice of `total` streams that this process takes: contiguous blocks in rank order,
    their sizes differing by one at most when `total` does not divide."""
    return slice(total * group.rank // group.size, total * (group.rank + 1) // group.size)


class StopEverywhere(TrainingError):
    """An error that every process of a group raises at the same point: one of them reports it
    (said_by, rank 0 unless another knows why), the others just stop."""

    def __init__(self, message, said_by=0):
        super().__init__(message)
        self.said_by = said_by


def check_split(batch_size, processes, resuming=None):
    """Refuse a batch whose streams do not split evenly between the processes; resuming: the run
    directory of a run being resumed, whose batch size cannot change."""
    if resuming and batch_size % processes:
        counts = [str(n) for n in range(1, batch_size + 1) if batch_size % n == 0]
        raise TrainingError(f"the run in {resuming} has {setting('batch_size', batch_size)}, which does not split evenly "
                            f"between {processes} processes: resume it with {', '.join(counts[:-1])} or "
                            f"{counts[-1]} processes")
    if processes > batch_size:
        raise TrainingError(f"{processes} processes need at least as many streams, but {setting('batch_size', batch_size)} "
                            f"has fewer: raise {option('batch_size')} to {processes} or more, or start fewer processes")
    if batch_size % processes:
        lower = batch_size // processes * processes
        counts = [n for n in range(2, processes) if batch_size % n == 0]
        raise TrainingError(f"{setting('batch_size', batch_size)} does not split evenly between {processes} processes: "
                            f"use {setting('batch_size', lower)} or {lower + processes}"
                            + (f", or {' or '.join(map(str, counts))} processes" if counts else ""))
