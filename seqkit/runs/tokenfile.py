"""Token files: a corpus's ids on disk, read back as a memory map, so that a corpus far larger
than memory trains in the memory of its model (seqkit.text.tokens tokenizes into one).

A token file lives in the cache (SEQKIT_CACHE_DIR, else $XDG_CACHE_HOME/seqkit, else
~/.cache/seqkit; in its tokens/ folder), named by a key: the digest of the files' digests and
labels, the tokenizer's options, the encoding and the vocabulary asked for. A second run on the
same corpus with the same options maps the same file and starts at once; a run resumed maps
it again. The file:

    bytes 0-7     MAGIC
    bytes 8-23    the footer's offset and length (little-endian uint64)
    bytes 64-     the ids, `count` of `dtype` (little-endian)
    footer        JSON: format, seqkit_version, dtype, count, key, vocab, documents, files

It is written under a temporary name (locked while it is written, so that a later run can tell
a writer's file from one a killed process left), the ids first as provisional ids in the
narrowest type they need (widened in place when more come), then mapped to the vocabulary's
ids in place, and renamed once whole: a full disk or a kill leaves no file by that name.
"""
import errno
import hashlib
import json
import os
import struct
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

import numpy as np

from seqkit import _version
from seqkit.errors import TrainingError
from seqkit.runs.checkpoint import atomic_file
from seqkit.text.tokens import REMAP, storage_dtype
from seqkit.text.vocab import Vocab

MAGIC = b"SEQKITTK"
FORMAT = 1
DATA = 64  # the ids start here
STALE_AFTER = 60.0  # seconds after which an unlocked temporary file is a killed writer's


def cache_dir():
    """Where token files go: SEQKIT_CACHE_DIR, $XDG_CACHE_HOME/seqkit, or ~/.cache/seqkit; tokens/ in it."""
    root = os.environ.get("SEQKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "seqkit")
    return Path(root) / "tokens"


def cache_key(options, encoding, errors, files, given=None, extend=False):
    """The name of the token file of `files` ([{"sha256", "label"}]) tokenized with TextOptions
    `options` read in `encoding` (errors), into a new vocabulary or the Vocab `given`."""
    wanted = None if given is None else hashlib.sha256(json.dumps(given.to_dict()).encode()).hexdigest()
    described = {"format": FORMAT, "options": options.to_dict(), "encoding": encoding, "errors": errors,
                 "files": [[f["sha256"], f["label"]] for f in files], "vocab": wanted, "extend": bool(extend)}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]


class FileSink:
    """Provisional ids written to a temporary token file in `directory`, which finish() turns
    into the token file `key`.tokens (seqkit.text.tokens.encode_files drives it)."""

    def __init__(self, directory, key):
        self.directory, self.key = Path(directory), key
        self.path = self.directory / f"{key}.tokens"
        self.count, self.dtype = 0, np.dtype(np.uint8)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            remove_stale(self.directory)
            self._context = atomic_file(self.path, "w+b")
            self.file = self._context.__enter__()
            if fcntl is not None:
                fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.file.write(bytes(DATA))
        except OSError as error:
            raise self._failed(error) from None

    def write(self, ids, size):
        try:
            wanted = storage_dtype(size)
            if wanted.itemsize > self.dtype.itemsize:
                self._retype(wanted)
            self.file.write(ids.astype(self.dtype).tobytes())
            self.count += len(ids)
        except OSError as error:
            self.discard()
            raise self._failed(error) from None

    def finish(self, table, dtype, vocab, documents, files):
        """Map the ids to the vocabulary's (table[provisional id], as dtype), add the footer and
        rename: returns (the ids as a read-only memory map, the file's path)."""
        try:
            self.file.flush()
            self._retype(np.dtype(dtype), table)
            footer = json.dumps({"format": FORMAT, "seqkit_version": _version.__version__, "dtype": self.dtype.str,
                                 "count": self.count, "key": self.key, "vocab": vocab.to_dict(),
                                 "documents": documents, "files": files}).encode()
            at = DATA + self.count * self.dtype.itemsize
            self.file.seek(at)
            self.file.write(footer)
            self.file.truncate()
            self.file.seek(0)
            self.file.write(MAGIC + struct.pack("<QQ", at, len(footer)))
            self._context.__exit__(None, None, None)
        except OSError as error:
            self.discard()
            raise self._failed(error) from None
        return np.memmap(self.path, self.dtype, "r", DATA, (self.count,)), str(self.path)

    def discard(self):
        """Remove the temporary file (after an error, or when the pass is abandoned)."""
        context, self._context = getattr(self, "_context", None), None
        if context is not None:
            try:
                context.__exit__(RuntimeError, RuntimeError("discarded"), None)
            except (RuntimeError, OSError):
                pass

    def _retype(self, dtype, table=None):
        """Rewrite the ids so far as `dtype` (through `table` if given), in place: from the end
        when they grow, so that none is overwritten before it is read; else from the start."""
        self.file.flush()
        fd, old, new = self.file.fileno(), self.dtype, np.dtype(dtype)
        if table is not None:
            table = table.astype(new)  # a lookup in a table of the stored type is a fast gather
        starts = range(0, self.count, REMAP)
        for start in (reversed(starts) if new.itemsize > old.itemsize else starts):
            n = min(REMAP, self.count - start)
            ids = np.frombuffer(os.pread(fd, n * old.itemsize, DATA + start * old.itemsize), old)
            ids = table[ids] if table is not None else ids.astype(new)
            os.pwrite(fd, ids.tobytes(), DATA + start * new.itemsize)
        self.dtype = new
        self.file.seek(DATA + self.count * new.itemsize)

    def _failed(self, error):
        room = " (it needs about the corpus's size in bytes, or twice that for words)" if error.errno == errno.ENOSPC else ""
        return TrainingError(f"could not write the token file {self.path} ({error.strerror or error}): make room "
                             f"in {self.directory}{room}, or set SEQKIT_CACHE_DIR to a folder with room; nothing was "
                             f"left half-written")


def remove_stale(directory):
    """Remove temporary token files that no process is writing (a killed run's)."""
    for tmp in Path(directory).glob(".*.tokens.*.tmp"):
        try:
            if time.time() - tmp.stat().st_mtime < STALE_AFTER:
                continue
            with open(tmp, "rb") as file:
                if fcntl is not None:
                    fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                tmp.unlink()
        except OSError:
            continue  # being written, or gone already


class Unusable(Exception):
    """A token file that is there but cannot serve this run; str() says why."""


def open_token_file(path, files, given=None):
    """(ids as a read-only memory map, Vocab, documents) of the token file at path, which must
    hold `files` (their sha256 and labels, in order) tokenized by this seqkit into `given`
    (a Vocab) or into a vocabulary of its own. Raises Unusable saying why not, FileNotFoundError
    if there is none."""
    with open(path, "rb") as file:
        head = file.read(DATA)
        if len(head) < DATA or head[:8] != MAGIC:
            raise Unusable("it is not a seqkit token file")
        at, length = struct.unpack("<QQ", head[8:24])
        file.seek(at)
        try:
            footer = json.loads(file.read(length))
        except ValueError:
            raise Unusable("its description is damaged") from None
    if footer.get("format") != FORMAT or footer.get("seqkit_version") != _version.__version__:
        raise Unusable(f"it was written by seqkit {footer.get('seqkit_version')}, whose tokenizer may differ")
    dtype, count = np.dtype(footer["dtype"]), footer["count"]
    if os.path.getsize(path) != DATA + count * dtype.itemsize + length or at != DATA + count * dtype.itemsize:
        raise Unusable("it is truncated or damaged")
    if [[f["sha256"], f["label"]] for f in footer["files"]] != [[f["sha256"], f["label"]] for f in files]:
        raise Unusable("it holds other files")
    vocab = Vocab.from_dict(footer["vocab"])
    if given is not None and (vocab.tokens != given.tokens or vocab.options != given.options):
        raise Unusable("it was tokenized with another vocabulary")
    ids = np.memmap(path, dtype, "r", DATA, (count,)) if count else np.zeros(0, dtype)
    return ids, vocab, [tuple(d) for d in footer["documents"]]
