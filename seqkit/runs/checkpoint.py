"""Checkpoint files: plain arrays plus JSON, written atomically, read without pickle.

A checkpoint is an .npz archive (readable by `np.load(path, allow_pickle=False)` anywhere)
whose members are the arrays by name plus `__meta__`, the UTF-8 bytes of a JSON object, so
the arrays and what describes them (step, RNG state, ...) are replaced together in one
rename. Members are written in the order given with a fixed timestamp, so the same
content gives the same bytes: two runs with the same seed end in identical files.
"""
import contextlib
import json
import math
import os
import tempfile
import tokenize
import zipfile

import numpy as np

from seqkit._checks import check_regular_file
from seqkit._memory import available_bytes, gigabytes
from seqkit.errors import CheckpointError

META = "__meta__"
FORMAT_VERSION = 1
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def _umask():
    """The process's umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Call write(file) on a temporary file beside `path`, fsync it, then rename it over `path`:
    a reader sees the old file or the new one, never a half-written one."""
    with atomic_file(path, "wb") as file:
        write(file)


@contextlib.contextmanager
def atomic_file(path, mode="wb"):
    """A temporary file beside `path` (opened with `mode`), with the user's umask, that becomes
    `path` when the block ends, flushed, fsynced and renamed; removed if the block raises."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None  # named by the file meant, not the temporary
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would keep other users from sampling a run
        with os.fdopen(fd, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except OSError as error:
        os.unlink(tmp)
        raise OSError(error.errno, error.strerror, str(path)) from None
    except BaseException:
        os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def save_arrays(path, arrays, meta):
    """Write `arrays` (name -> ndarray) and `meta` (JSON-able dict) to the .npz `path`, atomically."""
    def write(file):
        with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
            members = dict(arrays)
            members[META] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
            for name, array in members.items():
                with archive.open(zipfile.ZipInfo(f"{name}.npy", _EPOCH), "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
    atomic_write(path, write)


def load_arrays(path, available=None):
    """Read a checkpoint written by save_arrays: returns (arrays, meta). Every member's header
    is read first, and what it declares (shape, dtype) checked against the member's size and,
    all members together, against the memory available (available_bytes() unless given) before
    any array is allocated. Raises CheckpointError naming the file for anything else: not a
    regular file, a truncated or corrupt archive, a pickled object, a size that lies."""
    check_regular_file(path, CheckpointError, "checkpoint")
    try:
        with zipfile.ZipFile(path) as archive:
            members = [(info, *_member_header(archive, info)) for info in archive.infolist()]
            needed = sum(nbytes for *_, nbytes in members)
            available = available_bytes() if available is None else available
            if available is not None and needed > available:
                raise CheckpointError(f"{path} declares {gigabytes(needed)} of arrays, more than the "
                                      f"{gigabytes(available)} of memory available: it is not a seqkit "
                                      f"checkpoint of this machine's size", file=path)
            arrays = {info.filename[:-len(".npy")]: _read_member(archive, info, shape, dtype, fortran, offset)
                      for info, shape, dtype, fortran, offset, _ in members}
        meta = json.loads(arrays.pop(META).tobytes().decode())
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, TypeError, SyntaxError, tokenize.TokenError, OverflowError, zipfile.BadZipFile,
            EOFError, UnicodeDecodeError, MemoryError) as error:  # what NumPy's header parser and zipfile raise
        raise CheckpointError(f"{path} is not a readable seqkit checkpoint ({error})", file=path) from None
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {found!r}, this seqkit reads format "
                              f"{FORMAT_VERSION}", file=path)
    return arrays, meta


ARRAY_KINDS = "biuf"  # what a checkpoint's arrays hold: bools, integers, floats (never objects)


def _member_header(archive, info):
    """(shape, dtype, fortran_order, header bytes, data bytes) an .npy member declares, checked
    against the member's own size; ValueError for anything else."""
    if not info.filename.endswith(".npy"):
        raise ValueError(f"member {info.filename!r} is not an array")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"member {info.filename!r} is an .npy file of version {version}")
        offset = member.tell()
    if dtype.hasobject or dtype.kind not in ARRAY_KINDS:
        raise ValueError(f"member {info.filename!r} holds {dtype} items, not numbers: seqkit never unpickles")
    nbytes = math.prod(shape) * dtype.itemsize
    if offset + nbytes != info.file_size:
        raise ValueError(f"member {info.filename!r} declares {shape} of {dtype} ({nbytes:,} bytes) but holds "
                         f"{info.file_size - offset:,}")
    return shape, dtype, fortran, offset, nbytes


def _read_member(archive, info, shape, dtype, fortran, offset):
    """The array of one member, read into memory allocated for exactly what it declared."""
    array = np.empty(shape[::-1] if fortran else shape, dtype)
    with archive.open(info) as member:
        member.read(offset)
        view = memoryview(array.reshape(-1).view(np.uint8))
        while view.nbytes:
            got = member.readinto(view)
            if not got:
                raise EOFError(f"member {info.filename!r} ends early")
            view = view[got:]
    return np.ascontiguousarray(array.T) if fortran else array


def write_text(path, text):
    """Write `text` (UTF-8) to `path`, atomically."""
    atomic_write(path, lambda file: file.write(text.encode()))


def write_json(path, obj):
    """Write `obj` as indented JSON to `path`, atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path):
    """Read a JSON file that seqkit wrote, raising CheckpointError naming the file if it can't."""
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path} could not be read ({error})") from None
