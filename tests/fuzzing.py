"""Mutations of real run files, and the readers they are fed to, for tests/test_fuzz.py (a
minute of cases in the suite) and bench/fuzz_soak.py (tens of thousands).

A case takes a pristine copy of a run directory or a .safetensors file, damages one file in
it with a mutation drawn from `mutations` (bytes flipped, cut or inserted; a JSON value
replaced, removed or nested; an .npy member's header rewritten to declare another shape or
dtype; log lines cut, doubled or garbled), and runs every reader of that file. A reader may
load it or refuse it; refusing means raising one of seqkit's own error types with a message.
Anything else (a Python or NumPy exception, an empty message) is a failure, returned for the
caller to report.

Corpora are made whole by `damaged_corpus`: a directory of files (in folders, hidden ones,
several encodings, some with their bytes damaged, label prefixes right or wrong), with one odd
entry (an empty or blank file, a link, a dangling link, a link loop, a link to a folder above,
a FIFO), given as the directory, its files or a pattern, with drawn labels, encodings and
error handling; `corpus_readers` finds and tokenizes it as `seqkit train` does."""
import io
import json
import os
import shutil
import traceback
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

import seqkit
from seqkit.errors import SeqkitError

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70)
                           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                       max_size=3), max_leaves=6)


def _paths(value, prefix=()):
    """Every (path of keys and indices) inside a JSON value, itself included."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


def _replace(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


def _remove(value, path):
    if len(path) == 1:
        copy = dict(value) if isinstance(value, dict) else list(value)
        del copy[path[0]]
        return copy
    return _replace(value, path[:1], _remove(value[path[0]], path[1:]))


@st.composite
def mutated_json(draw, data):
    """The bytes of a JSON file with one value replaced, one key removed, or the text damaged."""
    value = json.loads(data)
    paths = list(_paths(value))
    kind = draw(st.sampled_from(["replace", "remove", "bytes"]))
    if kind == "bytes":
        return draw(mutated_bytes(data))
    path = draw(st.sampled_from(paths[1:] if kind == "remove" and len(paths) > 1 else paths))
    if kind == "remove" and path:
        value = _remove(value, path)
    else:
        value = _replace(value, path, draw(JSON_VALUES))
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def mutated_bytes(draw, data):
    """data with bytes flipped, a piece cut out, bytes inserted, or the end cut off."""
    data = bytearray(data)
    kind = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
    if not data:
        return bytes(draw(st.binary(max_size=64)))
    at = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        for offset in range(draw(st.integers(1, 8))):
            data[(at + offset) % len(data)] ^= draw(st.integers(1, 255))
    elif kind == "cut":
        del data[at:at + draw(st.integers(1, 64))]
    elif kind == "insert":
        data[at:at] = draw(st.binary(min_size=1, max_size=64))
    else:
        del data[at:]
    return bytes(data)


@st.composite
def mutated_npz(draw, data):
    """A checkpoint with one member's header rewritten (its shape or dtype), a member removed or
    added, a member's bytes damaged, or the archive's bytes damaged."""
    kind = draw(st.sampled_from(["header", "remove", "add", "member", "bytes"]))
    if kind == "bytes":
        return draw(mutated_bytes(data))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    name = draw(st.sampled_from(sorted(members)))
    if kind == "remove":
        del members[name]
    elif kind == "add":
        members[draw(st.text(min_size=1, max_size=12)) + ".npy"] = members[name]
    elif kind == "member":
        members[name] = draw(mutated_bytes(members[name]))
    else:
        buffer = io.BytesIO(members[name])
        if np.lib.format.read_magic(buffer) != (1, 0):
            return data
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(buffer)
        body = members[name][buffer.tell():]
        shape = draw(st.one_of(st.just(shape), st.lists(st.integers(0, 2 ** 62), max_size=3).map(tuple)))
        dtype = draw(st.sampled_from([dtype, np.dtype(np.float64), np.dtype(np.float16), np.dtype(np.int8),
                                      np.dtype("O"), np.dtype("<U4")]))
        header = io.BytesIO()
        try:
            np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                          "fortran_order": draw(st.booleans()), "shape": shape})
        except ValueError:
            return data
        members[name] = header.getvalue() + body
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return out.getvalue()


@st.composite
def mutated_log(draw, data):
    """metrics.jsonl with a line cut short, doubled, replaced by JSON of another kind, or the
    bytes damaged."""
    lines = data.decode().splitlines(keepends=True)
    kind = draw(st.sampled_from(["cut", "double", "replace", "bytes"]))
    if kind == "bytes" or not lines:
        return draw(mutated_bytes(data))
    at = draw(st.integers(0, len(lines) - 1))
    if kind == "cut":
        lines[at] = lines[at][:draw(st.integers(0, max(0, len(lines[at]) - 1)))]
    elif kind == "double":
        lines.insert(at, lines[at])
    else:
        lines[at] = json.dumps(draw(JSON_VALUES), allow_nan=True) + "\n"
    return "".join(lines).encode()


RUN_FILES = {"config.json": mutated_json, "vocab.json": mutated_json, "latest.npz": mutated_npz,
             "best.npz": mutated_npz, "metrics.jsonl": mutated_log}


@st.composite
def mutated_safetensors(draw, data):
    """A .safetensors file with its JSON header mutated (a shape, an offset, a dtype, the
    metadata), or its bytes damaged."""
    if draw(st.booleans()):
        return draw(mutated_bytes(data))
    length = int.from_bytes(data[:8], "little")
    header = draw(mutated_json(data[8:8 + length]))
    return len(header).to_bytes(8, "little") + header + data[8 + length:]


def run_readers(run):
    """Every reader of a run directory, as (name, call)."""
    from seqkit.runs.curves import read_curves
    from seqkit.runs.metrics import read_metrics
    from seqkit.training.finetune import Source
    from seqkit.training.trainer import Trainer

    def resume():
        Trainer.resume(run).release()

    return [("seqkit.load", lambda: seqkit.load(run)), ("seqkit.load best", lambda: seqkit.load(run, best=True)),
            ("sample", lambda: seqkit.load(run).sample(length=5, seed=0)), ("resume", resume),
            ("fine-tune source", lambda: Source.load(run)), ("read_metrics", lambda: read_metrics(run)),
            ("read_curves", lambda: read_curves(run))]


def safetensors_readers(path, vocab):
    """Every reader of a .safetensors file, as (name, call)."""
    from seqkit.runs import interop
    return [("seqkit.load", lambda: seqkit.load(path)), ("interop.read with a vocabulary",
                                                         lambda: interop.read(path, vocab=vocab)),
            ("import", lambda: interop.import_run(path, Path(path).with_suffix(".run"))),
            ("sample", lambda: seqkit.load(path).sample(length=5, seed=0))]


def failures(readers):
    """(reader, what went wrong) for each reader that neither loaded nor raised a seqkit error."""
    found = []
    for name, call in readers:
        try:
            call()
        except SeqkitError as error:
            if not str(error).strip():
                found.append((name, f"{type(error).__name__} with an empty message"))
        except Exception as error:  # the failures this suite exists to find
            frame = traceback.extract_tb(error.__traceback__)[-1]
            found.append((name, f"{type(error).__name__}: {error} (at {Path(frame.filename).name}:{frame.lineno})"))
    return found


def damaged_run(pristine, where, name, data):
    """A copy of the run directory `pristine` in `where` whose file `name` holds `data`."""
    run = Path(where) / "run"
    if run.exists():
        shutil.rmtree(run)
    shutil.copytree(pristine, run)
    (run / name).write_bytes(data)
    return run


@st.composite
def damaged_corpus(draw, where, text):
    """(paths, label_from, encoding, errors): a new corpus under `where` (see the module docstring)."""
    root = Path(where) / "corpus"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir()
    label_from = draw(st.sampled_from([None, None, "dir", "prefix"]))
    written = []
    for k in range(draw(st.integers(1, 4))):
        folder = root / draw(st.sampled_from(["", "poems", "letters", "poems/old", ".hidden"]))
        folder.mkdir(parents=True, exist_ok=True)
        start = draw(st.integers(0, len(text) - 1))
        piece = text[start:start + draw(st.integers(0, 3000))]
        if label_from == "prefix" and draw(st.booleans()):
            piece = "".join(f"{draw(st.sampled_from(['a', 'b', '', ' x']))}\t{line}\n" for line in piece.splitlines())
        data = piece.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "latin-1"])), errors="replace")
        if draw(st.booleans()):
            data = draw(mutated_bytes(data))
        path = folder / f"{k}{draw(st.sampled_from(['.txt', '.md', '', '.bin']))}"
        path.write_bytes(data)
        written.append(path)
    odd = root / draw(st.sampled_from(["odd.txt", "poems/odd.txt", ".odd"]))
    odd.parent.mkdir(parents=True, exist_ok=True)
    kind = draw(st.sampled_from(["none", "empty", "blank", "link", "dangling", "loop", "up", "fifo"]))
    if kind == "empty":
        odd.write_bytes(b"")
    elif kind == "blank":
        odd.write_text(" \n\t\n")
    elif kind == "link":
        odd.symlink_to(written[0])
    elif kind == "dangling":
        odd.symlink_to(root / "nowhere")
    elif kind == "loop":
        odd.symlink_to(odd)
    elif kind == "up":
        odd.symlink_to(root)
    elif kind == "fifo":
        os.mkfifo(odd)
    given = draw(st.sampled_from(["directory", "files", "pattern"]))
    paths = ([str(root)] if given == "directory" else [str(root / "**" / "*.txt")] if given == "pattern"
             else [str(p) for p in written])
    return (paths, label_from, draw(st.sampled_from(["utf-8", "latin-1", "utf-16"])),
            draw(st.sampled_from(["strict", "replace", "ignore"])))


def corpus_readers(paths, label_from, encoding, errors):
    """The readers of a corpus, as (name, call): its files found and tokenized as a new run's are."""
    from seqkit.config import TrainConfig
    from seqkit.text.files import find_files
    from seqkit.text.options import TextOptions
    from seqkit.training.streams import load_tokens

    def tokenize():
        config = TrainConfig(corpus=tuple(paths), text=TextOptions(label_from=label_from), encoding=encoding,
                             encoding_errors=errors)
        load_tokens(config, find_files(paths, label_from, encoding, errors).files)

    return [("find_files + load_tokens", tokenize)]
