"""Text to token ids and back: the tokenizers that TextOptions choose, and Vocab.

Char level: a token is a Unicode code point or, with graphemes, an extended grapheme cluster
(regex's \\X: an emoji, a letter with its combining marks). Word level: a Unicode-aware regex
tokenizer (words, numbers, punctuation apart), or whitespace splitting for corpora that come
tokenized. Each unit of text is framed as <s> ... </s>, so a model learns where text begins and
ends. Char level decodes back to the exact text whatever the unit:

    document   the whole text, one unit.
    line       the pieces of text.split("\\n"). The "\\n" is no token: </s> <s> stands for it
               and decode writes it back. Word level drops the empty piece after a final "\\n".
    paragraph  the text cut after each run of blank lines (the regex \\n\\s*\\n). Char level keeps
               the run, as tokens, at the end of its paragraph, since runs differ ("\\n\\n",
               "\\n \\n"); word level drops it and skips paragraphs without tokens.

Ids live in numpy arrays of Vocab.id_dtype. Big texts go a block at a time: code points through
numpy lookups, never a Python object per character; the regex tokenizers a block of lines at a
time into a compact array.array.
"""
from array import array
from collections import Counter

import numpy as np
import regex
from numpy.typing import ArrayLike

from seqkit.text.decoding import Decoder
from seqkit.text.options import BOS_ID, EOS_ID, SPECIALS, UNK_ID, TextOptions, label_name
from seqkit.text.words import WORD

GRAPHEME = regex.compile(r"\X")
PARAGRAPH_BREAK = regex.compile(r"\n\s*\n")
BLOCK = 1 << 20  # characters handled at once: bounds the temporaries of a big text
CODE_POINTS = 0x110000  # entries of a table indexed by code point
NEWLINE = ord("\n")


def _lines(text, stop):
    """text[:stop].split("\\n") lazily, about BLOCK characters' worth of lines at a time."""
    start = 0
    while (end := text.find("\n", start + BLOCK, stop)) >= 0:
        yield from text[start:end].split("\n")
        start = end + 1
    yield from text[start:stop].split("\n")


def _units(text, options):
    """The units that <s> ... </s> frame, as strings, lazily (see the module docstring)."""
    unit, char = options.resolved_unit, options.level == "char"
    if unit == "document":
        yield text
    elif unit == "line":
        yield from _lines(text, len(text) - (not char and text.endswith("\n")))
    else:
        start = 0
        for match in PARAGRAPH_BREAK.finditer(text):
            yield text[start:match.end() if char else match.start()]
            start = match.end()
        if start < len(text) or start == 0:
            yield text[start:]


def _blocks(text):
    """text in pieces of about BLOCK characters cut after a "\\n" (no token spans one)."""
    start = 0
    while len(text) - start > BLOCK and (end := text.find("\n", start + BLOCK) + 1) > 0:
        yield text[start:end]
        start = end
    yield text[start:] if start else text


def _tokens(unit, options):
    """The tokens of one unit as lists of strings, a block of its lines at a time."""
    for text in _blocks(unit):
        if options.level == "char":
            yield GRAPHEME.findall(text) if options.graphemes else list(text)
        else:
            text = text.lower() if options.lowercase else text
            yield text.split() if options.tokenize == "whitespace" else WORD.findall(text)


def _code_point_blocks(text):
    """(start, code points uint32) of text, BLOCK characters at a time."""
    for start in range(0, max(len(text), 1), BLOCK):
        block = text[start:start + BLOCK].encode("utf-32-le", "surrogatepass")
        yield start, np.frombuffer(block, np.uint32)


class Vocab:
    """tokens: id -> token, the specials first; index: token -> id, for the tokens of text;
    labels: label name -> id, for the label tokens (seqkit.text.options.label_token) among them;
    options: the TextOptions that produced them and that encode and decode follow."""

    def __init__(self, tokens, options):
        self.tokens, self.options = list(tokens), options
        if not all(isinstance(t, str) and t for t in self.tokens):
            raise ValueError("a vocabulary's tokens are non-empty strings")
        if self.tokens[:3] != list(SPECIALS):
            raise ValueError(f"a vocabulary starts with {', '.join(SPECIALS)}, got {self.tokens[:3]}")
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("a vocabulary lists each token once: remove the repeated ones")
        names = [label_name(t) for t in self.tokens]
        self.labels = {name: i for i, name in enumerate(names) if name is not None and i >= len(SPECIALS)}
        self.index = {token: i for i, token in enumerate(self.tokens) if names[i] is None or i < len(SPECIALS)}
        text = [i for i in range(len(SPECIALS), len(self.tokens)) if names[i] is None]
        self.code_points = options.level == "char" and not options.graphemes
        if self.code_points and any(len(self.tokens[i]) != 1 for i in text):
            raise ValueError("a char-level vocabulary without graphemes holds single code points only")
        if self.code_points:  # code point -> id, UNK_ID for the code points not listed
            self._table = np.zeros(CODE_POINTS, self.id_dtype)
            self._table[[ord(self.tokens[i]) for i in text]] = text

    def __len__(self):
        return len(self.tokens)

    @property
    def id_dtype(self):
        """The narrowest unsigned type that holds every id: a corpus's ids are its biggest array."""
        return np.dtype(next(t for t in (np.uint8, np.uint16, np.uint32) if len(self.tokens) <= np.iinfo(t).max + 1))

    def id_of(self, token):
        return self.index.get(token, UNK_ID)

    def encode(self, text: str, frame: bool = True) -> np.ndarray:
        """Ids (N,) of text. frame: each unit within <s> ... </s>; otherwise the outer <s> and
        </s> are left off (a prime), while units inside stay apart by </s> <s>."""
        ids = self._encode_code_points(text) if self.code_points else self._encode_tokens(text)
        return ids if frame else ids[1:-1]

    def _encode_tokens(self, text):
        buffer, get = array(self.id_dtype.char), self.index.get
        skip_empty = self.options.level == "word" and self.options.resolved_unit == "paragraph"
        for unit in _units(text, self.options):
            buffer.append(BOS_ID)
            start = len(buffer)
            for tokens in _tokens(unit, self.options):
                buffer.extend([get(t, UNK_ID) for t in tokens])
            if skip_empty and len(buffer) == start:
                buffer.pop()
            else:
                buffer.append(EOS_ID)
        return np.frombuffer(buffer, self.id_dtype)

    def _encode_code_points(self, text):
        """Framing by numpy: a line's "\\n" becomes </s> <s>; after a paragraph </s> <s> go in."""
        unit = self.options.resolved_unit
        breaks = np.zeros(0, np.int64)
        if unit == "paragraph":
            ends = (m.end() for m in PARAGRAPH_BREAK.finditer(text))
            breaks = np.array([end for end in ends if end < len(text)], np.int64)
        extra = text.count("\n") if unit == "line" else 2 * len(breaks)
        out = np.empty(len(text) + extra + 2, self.id_dtype)
        out[0], out[-1], n = BOS_ID, EOS_ID, 1
        for start, points in _code_point_blocks(text):
            ids = self._table[points]
            if unit == "line":
                at = np.flatnonzero(points == NEWLINE)
                ids[at] = EOS_ID
                ids = np.insert(ids, at + 1, BOS_ID)
            elif unit == "paragraph":
                at = breaks[(breaks >= start) & (breaks < start + len(points))] - start
                ids = np.insert(ids, np.repeat(at, 2), np.tile([EOS_ID, BOS_ID], len(at)))
            out[n:n + len(ids)] = ids
            n += len(ids)
        return out

    def decode(self, ids: ArrayLike) -> str:
        """Text of ids, as seqkit.text.decoding reads them: decode(encode(text)) == text at char
        level; at word level a line per unit, its tokens joined as text reads."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        if len(ids) and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids must lie in [0, {len(self)}) for this vocabulary, got {ids.min()} .. "
                             f"{ids.max()}: decode with the vocabulary that encoded them")
        return Decoder(self).decode(ids)

    def unknown(self, text):
        """The distinct tokens of text the vocabulary lacks, in order of appearance."""
        if not self.code_points:
            missing = {}
            for unit in _units(text, self.options):
                for tokens in _tokens(unit, self.options):
                    missing.update((t, None) for t in tokens if t not in self.index)
            return list(missing)
        first = {}
        for start, points in _code_point_blocks(text):
            lacking = self._table[points] == UNK_ID
            if self.options.resolved_unit == "line":
                lacking &= points != NEWLINE
            at = np.flatnonzero(lacking)
            found, index = np.unique(points[at], return_index=True)
            for point, position in zip(found.tolist(), (at[index] + start).tolist()):
                first.setdefault(point, position)
        return [chr(point) for point in sorted(first, key=first.get)]

    def to_dict(self):
        return {"tokens": list(self.tokens), "options": self.options.to_dict()}

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict) or not {"tokens", "options"} <= set(d):
            raise ValueError("a vocabulary dict has the keys 'tokens' and 'options' (from Vocab.to_dict)")
        return cls(d["tokens"], TextOptions.from_dict(d["options"]))


def build_vocab(text: str, options: TextOptions) -> "Vocab":
    """The vocabulary of text: specials, then tokens by falling count (ties: first seen), those
    seen fewer than min_count times left out, at most max_vocab kept."""
    if options.level == "char" and not options.graphemes:
        counts = np.zeros(CODE_POINTS, np.int64)
        first = np.full(CODE_POINTS, np.iinfo(np.int64).max)
        for start, points in _code_point_blocks(text):
            block_counts = np.bincount(points, minlength=CODE_POINTS)
            if np.any((block_counts > 0) & (counts == 0)):
                found, index = np.unique(points, return_index=True)
                first[found] = np.minimum(first[found], start + index)
            counts += block_counts
        if options.resolved_unit == "line":
            counts[NEWLINE] = 0
        seen = np.flatnonzero(counts)
        seen = seen[np.lexsort((first[seen], -counts[seen]))]
        ranked = [(chr(p), c) for p, c in zip(seen.tolist(), counts[seen].tolist())]
    else:
        counter: Counter[str] = Counter()
        for unit in _units(text, options):
            for tokens in _tokens(unit, options):
                counter.update(tokens)
        ranked = counter.most_common()  # stable sort: equal counts stay in first-seen order
    kept = [t for t, c in ranked if c >= options.min_count and t not in SPECIALS]
    return Vocab(list(SPECIALS) + kept[:options.max_vocab], options)
