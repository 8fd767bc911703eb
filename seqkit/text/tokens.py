"""A corpus as token ids: its files read and tokenized in one streaming pass
(seqkit.text.streaming) into a store, in memory here or in a token file (seqkit.runs.tokenfile),
with the documents' bounds, the files' digests and the vocabulary.

    Tokens.ids         (N,) ids in the vocabulary's id dtype: an array, or a read-only memory map
    Tokens.documents   [(start, stop)] of each file's ids, in the order of the files
    Tokens.files       [{"path", "bytes", "sha256", "label"}] of the files, as config.json records them
"""
import hashlib
from dataclasses import dataclass, field

import numpy as np

from seqkit.errors import InputError
from seqkit.text.corpus import read_pieces
from seqkit.text.streaming import Encoder
from seqkit.text.vocab import Vocab

REMAP = 1 << 22  # ids mapped to the vocabulary's at a time


def storage_dtype(size):
    """The narrowest unsigned type for ids below size."""
    return np.dtype(next(t for t in (np.uint8, np.uint16, np.uint32) if size <= np.iinfo(t).max + 1))


@dataclass
class Tokens:
    vocab: Vocab
    ids: np.ndarray
    documents: list
    files: list
    path: str | None = None  # the token file the ids are mapped from; None: in memory
    cached: bool = False  # whether the token file was there already (no tokenizing this time)
    notes: list = field(default_factory=list)  # what the caller should say (a cache file replaced, ...)

    @property
    def mapped(self):
        return self.path is not None

    def count(self, token_id):
        """How many of the ids are token_id (a block at a time: the ids may be a map)."""
        return sum(int(np.count_nonzero(self.ids[i:i + REMAP] == token_id)) for i in range(0, len(self.ids), REMAP))


class MemorySink:
    """Provisional ids kept in memory, each block in the narrowest type its ids need."""

    def __init__(self):
        self.blocks, self.count = [], 0

    def write(self, ids, size):
        self.blocks.append(ids.astype(storage_dtype(size)))
        self.count += len(ids)

    def finish(self, table, dtype, **record):
        """The ids in the vocabulary: table[provisional id], as `dtype`."""
        table = table.astype(dtype)
        ids = np.concatenate([table[block] for block in self.blocks]) if self.blocks else np.zeros(0, dtype)
        self.blocks = []
        return ids, None

    def discard(self):
        self.blocks = []


def encode_files(files, options, sink, encoding="utf-8", errors="strict", given=None, extend=False,
                 expected=None, on_read=None):
    """(Vocab, ids, path, files' records) of CorpusFiles (seqkit.text.files), each a document,
    tokenized into `sink` (MemorySink, or seqkit.runs.tokenfile's) in one pass. given/extend:
    a vocabulary to use (see Encoder.vocab), options then being its. expected: the sha256 each
    file must have (a digest taken before), else InputError: it changed while it was read.
    on_read(n) is called for every n bytes read. The sink is discarded on any error."""
    encoder = Encoder(given.options if given is not None else options)
    documents, records = [], []
    try:
        for k, file in enumerate(files):
            digest, start = hashlib.sha256(), sink.count
            pieces = read_pieces(file.path, encoding, errors, file.listed, digest, on_read)
            for ids in encoder.document(pieces, file.label, file.path):
                sink.write(ids, encoder.size)
            documents.append((start, sink.count))
            records.append({"path": file.path, "bytes": file.size, "sha256": digest.hexdigest(), "label": file.label})
            if expected is not None and expected[k] != records[-1]["sha256"]:
                raise InputError(f"{file.path} changed while it was read: train again once the corpus stays as it is",
                                 file=file.path)
        vocab, table = encoder.vocab(given, extend)
        ids, path = sink.finish(table, vocab.id_dtype, vocab=vocab, documents=documents, files=records)
    except BaseException:
        sink.discard()
        raise
    return vocab, ids, path, documents, records
