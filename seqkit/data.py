"""Text to token ids and back, and the layout of ids for truncated BPTT.

Char level: tokens are Unicode code points (or, with graphemes, extended grapheme clusters,
regex's \\X). Word level: a Unicode-aware regex tokenizer (words, numbers, punctuation apart)
or plain whitespace splitting for corpora that come tokenized. Every unit of text (a line, a
paragraph or the whole document) is framed as <s> ... </s>, so a model learns where text
begins and ends. Ids live in compact numpy arrays (uint16 while the vocabulary fits).
"""
import dataclasses
from collections import Counter
from dataclasses import dataclass

import numpy as np
import regex

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
SPECIALS = (UNK, BOS, EOS)  # ids 0, 1, 2 in every vocabulary
LEVELS, TOKENIZERS, UNITS = ("char", "word"), ("regex", "whitespace"), ("line", "paragraph", "document")

# Numbers (3.14, 1,000), words with inner apostrophes (o'er, don't), then any other grapheme
# that is not whitespace (punctuation, symbols, an emoji with its modifiers) alone.
WORD_PATTERN = regex.compile(r"\p{N}+(?:[.,]\p{N}+)*|[\p{L}\p{M}]+(?:['\u2019][\p{L}\p{M}]+)*|(?!\s)\X")
GRAPHEME_PATTERN = regex.compile(r"\X")
PARAGRAPH_BREAK = regex.compile(r"\n\s*\n")


@dataclass(frozen=True)
class TextOptions:
    level: str = "char"            # char | word
    graphemes: bool = False        # char level: grapheme clusters rather than code points
    tokenize: str = "regex"        # word level: regex | whitespace
    lowercase: bool = False        # word level: lowercase before tokenizing
    unit: str | None = None        # line | paragraph | document; None: line for words, document for chars
    max_vocab: int | None = None   # keep only this many most frequent tokens (specials apart)
    min_count: int = 1             # drop tokens seen fewer times; they read as <unk>

    def __post_init__(self):
        for name, allowed in (("level", LEVELS), ("tokenize", TOKENIZERS), ("unit", UNITS + (None,))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(a for a in allowed if a)}, "
                                 f"got {getattr(self, name)!r}")

    @property
    def resolved_unit(self):
        return self.unit or ("line" if self.level == "word" else "document")

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        return cls(**d)


def split_units(text, options):
    """The units that <s> ... </s> frame. At char level each unit keeps its separator, so the
    units concatenate back to the text exactly; at word level separators are dropped."""
    unit = options.resolved_unit
    if unit == "document":
        return [text]
    if unit == "line":
        units = text.splitlines(keepends=True) if options.level == "char" else text.split("\n")
        return units[:-1] if options.level == "word" and units and units[-1] == "" else units
    if options.level == "char":
        ends = [m.end() for m in PARAGRAPH_BREAK.finditer(text)] + [len(text)]
        return [text[a:b] for a, b in zip([0] + ends[:-1], ends) if b > a]
    return [p for p in PARAGRAPH_BREAK.split(text) if p.strip()]


def tokenize(unit, options):
    """The tokens of one unit of text, as strings."""
    if options.level == "char":
        return GRAPHEME_PATTERN.findall(unit) if options.graphemes else list(unit)
    if options.lowercase:
        unit = unit.lower()
    return unit.split() if options.tokenize == "whitespace" else WORD_PATTERN.findall(unit)


class Vocab:
    """Tokens by id (specials first) and the options that produced them."""

    def __init__(self, tokens, options):
        if list(tokens[:3]) != list(SPECIALS):
            raise ValueError(f"a vocabulary starts with {', '.join(SPECIALS)}")
        self.tokens, self.options = list(tokens), options
        self.index = {token: i for i, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("a vocabulary lists each token once")
        self._code_points = None
        if options.level == "char" and not options.graphemes:
            points = np.array([ord(t) for t in self.tokens[3:]], np.uint32)
            order = np.argsort(points)
            self._code_points = (points[order], (order + 3).astype(self.id_dtype))

    def __len__(self):
        return len(self.tokens)

    @property
    def id_dtype(self):
        return np.dtype(np.uint16 if len(self.tokens) <= 1 << 16 else np.uint32)

    def id_of(self, token):
        return self.index.get(token, 0)

    def encode(self, text, frame=True):
        """Ids of `text`; with frame, each unit wrapped in <s> ... </s>."""
        dtype = self.id_dtype
        bos, eos = np.array([1], dtype), np.array([2], dtype)
        pieces = []
        for unit in split_units(text, self.options) if frame else [text]:
            if self._code_points is not None:
                ids = self._encode_code_points(unit)
            else:
                ids = np.fromiter((self.index.get(t, 0) for t in tokenize(unit, self.options)), dtype)
            pieces.extend([bos, ids, eos] if frame else [ids])
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype)

    def _encode_code_points(self, text):
        """Char-level ids through numpy: no Python object per character."""
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
        known, ids = self._code_points
        if len(known) == 0:
            return np.zeros(len(points), self.id_dtype)
        where = np.minimum(np.searchsorted(known, points), len(known) - 1)
        return np.where(known[where] == points, ids[where], 0).astype(self.id_dtype)

    def decode(self, ids):
        """Text of ids. Char level: the tokens concatenated (decode(encode(t)) == t). Word level:
        tokens joined by spaces, a line per unit."""
        tokens = [self.tokens[int(i)] for i in ids]
        if self.options.level == "char":
            return "".join(t for t in tokens if t not in (BOS, EOS))
        lines, line = [], []
        for token in tokens:
            if token == EOS:
                lines.append(" ".join(line))
                line = []
            elif token != BOS:
                line.append(token)
        return "\n".join(lines + ([" ".join(line)] if line else []))

    def unknown(self, text):
        """The distinct tokens of text the vocabulary lacks, in order of appearance."""
        missing = {}
        for token in tokenize(text, self.options):
            if token not in self.index:
                missing.setdefault(token)
        return list(missing)

    def to_dict(self):
        return {"tokens": self.tokens, "options": self.options.to_dict()}

    @classmethod
    def from_dict(cls, d):
        return cls(d["tokens"], TextOptions.from_dict(d["options"]))


def build_vocab(text, options):
    """The vocabulary of text: specials, then tokens by falling count (ties: first seen),
    cut by min_count and max_vocab."""
    counts = Counter()
    if options.level == "char" and not options.graphemes:
        points, first, n = np.unique(np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32),
                                     return_index=True, return_counts=True)
        order = np.lexsort((first, -n))
        ranked = [(chr(points[i]), int(n[i])) for i in order]
    else:
        for unit in split_units(text, options):
            counts.update(tokenize(unit, options))
        ranked = counts.most_common()  # stable: equal counts keep first-seen order
    kept = [t for t, c in ranked if c >= options.min_count and t not in SPECIALS]
    if options.max_vocab is not None:
        kept = kept[:options.max_vocab]
    return Vocab(list(SPECIALS) + kept, options)


def read_text(path, encoding="utf-8", errors="strict"):
    """A corpus as text: universal newlines (CRLF and CR become \\n), a leading BOM dropped."""
    with open(path, encoding=encoding, errors=errors, newline=None) as file:
        text = file.read()
    return text[1:] if text.startswith("\ufeff") else text


def split_ids(ids, val_fraction):
    """(train, validation): the last round(len * val_fraction) ids are held out."""
    n_val = int(round(len(ids) * val_fraction))
    return ids[:len(ids) - n_val], ids[len(ids) - n_val:]


def batchify(ids, batch_size):
    """Cut the id stream into batch_size parallel streams, one per column; the tail that does
    not fill a whole row is dropped. For ids a b c d e f g h i j k l and batch_size 3:

        ids:   a b c d | e f g h | i j k l          streams (T_total=4, B=3):
                                                    a e i
        each column is one contiguous piece,        b f j
        read top to bottom; a chunk is a band       c g k
        of rows, the next chunk the next band.      d h l
    """
    rows = len(ids) // batch_size
    if rows < 2:
        raise ValueError(f"the text is too short: {len(ids)} tokens make no training pair for "
                         f"{batch_size} streams; it needs at least {2 * batch_size} tokens")
    return np.ascontiguousarray(ids[:rows * batch_size].reshape(batch_size, rows).T)


def chunks(streams, seq_len, start=0):
    """(position, inputs, targets) for truncated BPTT from row `start`: inputs are rows
    i .. i+T-1 and targets the rows one later; the last chunk may be shorter. Views only."""
    for i in range(start, len(streams) - 1, seq_len):
        T = min(seq_len, len(streams) - 1 - i)
        yield i, streams[i:i + T], streams[i + 1:i + 1 + T]


def count_chunks(n_rows, seq_len):
    """How many chunks `chunks` yields from row 0 of n_rows rows."""
    return -(-(n_rows - 1) // seq_len) if n_rows > 1 else 0
