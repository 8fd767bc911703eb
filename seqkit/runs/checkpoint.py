"""Checkpoint files: plain arrays plus JSON, written atomically, read without pickle.

A checkpoint is an .npz archive (readable by `np.load(path, allow_pickle=False)` anywhere)
whose members are the arrays by name plus `__meta__`, the UTF-8 bytes of a JSON object, so
the arrays and what describes them (step, RNG state, ...) are replaced together in one
rename. Members are written in the order given with a fixed timestamp, so the same
content gives the same bytes: two runs with the same seed end in identical files.
"""
import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np

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
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would keep other users from sampling a run
        with os.fdopen(fd, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
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


def load_arrays(path):
    """Read a checkpoint written by save_arrays: returns (arrays, meta). Raises CheckpointError
    naming the file for anything else: a truncated or corrupt archive, a pickled object."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays.pop(META).tobytes().decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is not a readable seqkit checkpoint ({error})") from None
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {found!r}, this seqkit reads format "
                              f"{FORMAT_VERSION}")
    return arrays, meta


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
