"""The files of a corpus: what `seqkit train A.txt B.txt`, `seqkit train DIR` and `seqkit train
"DIR/*.txt"` train on, each file a document, in sorted order.

A file named by itself is read whatever it holds (and refused by seqkit.text.corpus if it is
not text). A directory gives the files under it, symbolic links followed; hidden files and
folders (a name starting with "."), what is not a regular file (a FIFO, a device, a broken
link) and files whose first SNIFF bytes are not text are skipped and counted, not refused. A
pattern with * ? or [ that names no existing path is expanded (** across folders). With labels
by folder, a file's label is the path of its folder under the directory given.
"""
import codecs
import errno
import glob
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from seqkit.errors import InputError, OptionError, setting
from seqkit.text.corpus import BINARY_CONTROLS, CONTROL, PIECE
from seqkit.text.options import label_problem

SNIFF = 1 << 16  # bytes of a file in a directory read to tell whether it is text


@dataclass(frozen=True)
class CorpusFile:
    """A file of a corpus as it was found: its absolute path, size and time of change (which
    reading it checks again), and its label (labels by folder) or None."""
    path: str
    size: int
    mtime_ns: int
    label: str | None = None

    @property
    def listed(self):
        return self.size, self.mtime_ns


@dataclass
class Found:
    """find_files's answer: the files, and how many were skipped under the directories given."""
    files: list
    skipped: int = 0


def find_files(paths, label_from=None, encoding="utf-8", errors="strict"):
    """The files of a corpus given as paths (files, directories, patterns), sorted by path, each
    once (by its real path); see the module docstring. Raises OptionError for a path that does
    not exist, InputError for a symbolic link loop, a path that is not a regular file or
    directory, and a selection with no text file in it."""
    found = Found([])
    seen = set()
    for given in paths:
        given = os.fspath(given)
        if not os.path.lexists(given) and glob.has_magic(given):
            matches = sorted(glob.glob(given, recursive=True))
            if not matches:
                raise OptionError(f"no file matches {given!r}", field="corpus", value=given)
            for match in matches:
                _add_path(match, label_from, encoding, errors, found, seen, named=False)
        else:
            _add_path(given, label_from, encoding, errors, found, seen, named=True)
    if not found.files:
        skipped = f" ({found.skipped:,} skipped: hidden, not regular files or not text)" if found.skipped else ""
        where = ", ".join(os.fspath(p) for p in paths)
        raise InputError(f"{where} holds no text file{skipped}: give text files or a directory of them", file=where)
    found.files.sort(key=lambda f: f.path)
    return found


def _add_path(path, label_from, encoding, errors, found, seen, named):
    info = _stat(path, named)
    if stat.S_ISDIR(info.st_mode):
        _add_directory(Path(path), label_from, encoding, errors, found, seen)
    elif not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path} is {_kind(info.st_mode)}, not a regular file: give a text file or a directory "
                         f"of them", file=path)
    elif label_from == "dir":
        raise InputError(f"{path} is a file, but {setting('label_from', 'dir')} labels each file by its folder "
                         f"under a corpus directory: give the directory", file=path)
    elif named or _is_text(path, encoding, errors):
        _add_file(path, info, None, found, seen)
    else:
        found.skipped += 1


def _stat(path, named):
    try:
        return os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise InputError(f"{path} is a symbolic link loop: it leads back to itself", file=path) from None
        if error.errno == errno.ENOENT and named:
            raise OptionError(f"'{path}' does not exist", field="corpus", value=path) from None
        raise InputError(f"{path} cannot be read ({error.strerror})", file=path) from None


def _add_directory(root, label_from, encoding, errors, found, seen):
    """The files under root, links followed, refusing a link that leads back to a folder above it."""
    root_info = os.stat(root)
    ancestors = {}

    def walk(folder, chain):
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith("."):
                found.skipped += 1
                continue
            try:
                info = os.stat(entry.path)
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise InputError(f"{entry.path} is a symbolic link loop: it leads back to itself",
                                     file=entry.path) from None
                found.skipped += 1  # a broken link, or a file that went
                continue
            if stat.S_ISDIR(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if key in chain:
                    raise InputError(f"{entry.path} is a symbolic link loop: it leads back to {ancestors[key]}",
                                     file=entry.path)
                ancestors[key] = entry.path
                walk(entry.path, chain | {key})
            elif stat.S_ISREG(info.st_mode) and _is_text(entry.path, encoding, errors):
                label = None
                if label_from == "dir":
                    label = _folder_label(root, Path(entry.path))
                _add_file(entry.path, info, label, found, seen)
            else:
                found.skipped += 1

    ancestors[(root_info.st_dev, root_info.st_ino)] = str(root)
    walk(str(root), {(root_info.st_dev, root_info.st_ino)})


def _folder_label(root, path):
    folder = path.parent.relative_to(root)
    if folder == Path("."):
        raise InputError(f"{path} is not in a folder of {root}: with {setting('label_from', 'dir')} each file sits "
                         f"in a folder named by its label", file=str(path))
    label = folder.as_posix()
    problem = label_problem(label)
    if problem:
        raise InputError(f"the folder {root / folder} names the label {label!r}, which {problem}: rename the folder",
                         file=str(root / folder), value=label)
    return label


def _add_file(path, info, label, found, seen):
    real = os.path.realpath(path)
    if real in seen:
        return
    seen.add(real)
    found.files.append(CorpusFile(os.path.abspath(path), info.st_size, info.st_mtime_ns, label))


def _is_text(path, encoding, errors):
    """Whether a file in a directory looks like text in its first SNIFF bytes: something that
    is not whitespace, no NUL, no bytes invalid in the encoding (with errors="strict"), and few
    control characters (seqkit.text.corpus.check_text's rule)."""
    try:
        with open(path, "rb") as file:
            data = file.read(SNIFF)
        text = codecs.getincrementaldecoder(encoding)(errors).decode(data, final=len(data) < SNIFF)
    except (OSError, UnicodeError):
        return False
    except LookupError:
        return True  # an unknown encoding: reading the file says so
    text = text.removeprefix("\ufeff")
    controls = len(text) - len(CONTROL.sub("", text))
    return bool(text) and not text.isspace() and "\x00" not in text and controls <= BINARY_CONTROLS * len(text)


def _kind(mode):
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


STDIN = "-"  # the corpus argument that means standard input


def is_stream(path):
    """Whether a corpus given as `path` is read as a stream, once: standard input ("-") or a FIFO."""
    if os.fspath(path) == STDIN:
        return True
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def copy_stream(source, target, on_read=None):
    """Read the stream `source` (STDIN or a FIFO) once, a piece at a time, into the new file
    target (written under a temporary name, renamed when whole), so that a run can tokenize it,
    check it and resume on it as on any file; on_read(n) with each n bytes. Ctrl-C or an error
    leaves no part of target behind."""
    target = Path(target)
    partial = target.with_name(f".{target.name}.tmp")
    stdin = os.fspath(source) == STDIN
    reader = sys.stdin.buffer if stdin else open(source, "rb")
    try:
        with open(partial, "wb") as out:
            while data := reader.read(PIECE):
                out.write(data)
                if on_read is not None:
                    on_read(len(data))
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        if not stdin:
            reader.close()
    return target
