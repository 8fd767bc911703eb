"""The streaming tokenizer: a corpus of any size turned into ids a piece of text at a time, its
vocabulary counted in the same pass, so that no more than a piece is ever held as text.

The ids are those Vocab.encode gives for each document (a file) as a whole, its units framed by
<s> ... </s> (seqkit.text.vocab); with labels, each <s> is followed by the unit's label token.
Since the vocabulary is known only once every token has been counted, the pass writes
provisional ids: 0, 1, 2 for the specials, then each token of text and each label numbered in
the order they first appear. `Encoder.vocab` then ranks them as build_vocab does (by falling
count, ties by first appearance, which is the provisional order) and gives the table that maps
each provisional id to its id in the vocabulary; the caller applies it to what it stored
(seqkit.text.tokens in memory, seqkit.runs.tokens in a file).

Pieces may be cut anywhere; the encoder cuts them again where tokens and units compose: after
a line break for the regex tokenizers (no token, grapheme cluster or lowercasing context
crosses one), before a run of whitespace for paragraphs (so that no paragraph break is split),
after a whole line for labels by line prefix. Code points go through one compiled kernel that
looks them up, numbers new ones, counts them and frames lines and paragraphs.
"""
import numpy as np
import regex

from seqkit._jit import kernel
from seqkit.errors import InputError, setting
from seqkit.text.options import BOS_ID, EOS_ID, SPECIALS, UNK_ID, label_problem, label_token
from seqkit.text.vocab import CODE_POINTS, GRAPHEME, PARAGRAPH_BREAK, Vocab
from seqkit.text.words import WORD

TRAILING_SPACE = regex.compile(r"\s*\Z")
MAX_CARRY = 1 << 26  # characters held back waiting for a line break, beyond which a piece is cut at a space
FIRST_ID = len(SPECIALS)  # the first provisional id of a token or label


@kernel
def frame_code_points(points, table, counts, next_id, breaks, line_units, label, line_labels, out):
    """Provisional ids of the code points (n,) into out, framed; returns how many were written.
    table (CODE_POINTS,) maps a code point to its provisional id, -1 for one not seen yet, which
    gets next_id[0] (then incremented); counts[id] counts each. Before the code point at each
    offset in `breaks` (sorted), </s> <s> go in (a paragraph's end); with line_units every "\\n"
    becomes </s> <s>. After each <s> written here, the unit's label id: line_labels[k] for the
    k-th line break when line_labels is not empty, else `label` (-1: none)."""
    n, b, k = 0, 0, 0
    for i in range(points.size):
        point = points[i]
        if b < breaks.size and breaks[b] == i:
            out[n], out[n + 1] = EOS_ID, BOS_ID
            n += 2
            if label >= 0:
                out[n] = label
                n += 1
            b += 1
        if line_units and point == 10:
            out[n], out[n + 1] = EOS_ID, BOS_ID
            n += 2
            unit_label = line_labels[k] if line_labels.size else label
            k += 1
            if unit_label >= 0:
                out[n] = unit_label
                n += 1
            continue
        token = table[point]
        if token < 0:
            token = next_id[0]
            table[point] = token
            next_id[0] += 1
        counts[token] += 1
        out[n] = token
        n += 1
    return n


class Encoder:
    """Provisional ids of documents, given as pieces of text, and the counts behind their
    vocabulary. `size` is the number of provisional ids handed out so far (specials included)."""

    def __init__(self, options):
        self.options = options
        self.unit = options.resolved_unit
        self.code_points = options.level == "char" and not options.graphemes
        self.char = options.level == "char"
        self.prefix = options.label_from == "prefix"
        self.next_id = np.array([FIRST_ID], np.int64)
        self.counts = np.zeros(FIRST_ID, np.int64)
        self.labels = {}  # label -> provisional id
        self.label_sources = {}  # label -> the document it first came in
        if self.code_points:
            self.table = np.full(CODE_POINTS, -1, np.int32)
        self.index = {token: i for i, token in enumerate(SPECIALS)}  # token of text -> provisional id
        self.kinds = [None] * FIRST_ID  # provisional id -> token of text, or ("label", name)

    @property
    def size(self):
        return int(self.next_id[0])

    # --- documents ----------------------------------------------------------------------------------
    def document(self, pieces, label=None, source="the text"):
        """The provisional ids of one document, an array per piece of its text, framed as the
        options say; `label` starts each unit (labels by folder), or with labels by line prefix
        each line names its own. `source` names the document in errors."""
        self.source, self.line = source, 0
        label_id = -1 if label is None else self.label_id(label)
        if self.prefix:
            yield from self._prefixed(pieces)
        elif self.code_points:
            yield from self._code_point_document(pieces, label_id)
        else:
            yield from self._token_document(pieces, label_id)

    def label_id(self, name):
        problem = label_problem(name)
        if problem:
            where = f"{self.source} line {self.line}" if self.prefix else self.source
            raise InputError(f"{where}: the label {name!r} {problem}: a label is a name without tabs or line breaks",
                             file=self.source, value=name)
        if name not in self.labels:
            self.labels[name] = self._new_id(("label", name))
            self.label_sources[name] = self.source
        return self.labels[name]

    def _new_id(self, kind):
        self._sync_kinds()
        token = self.size
        self.next_id[0] += 1
        self.kinds.append(kind)
        return token

    def _code_point_document(self, pieces, label):
        start = [BOS_ID] + ([label] if label >= 0 else [])
        yield np.array(start, np.int64)
        cut = _before_trailing_space if self.unit == "paragraph" else None
        for text, final in _recut(pieces, cut, fallback=None):
            breaks = np.zeros(0, np.int64)
            if self.unit == "paragraph":
                ends = (m.end() for m in PARAGRAPH_BREAK.finditer(text))
                breaks = np.array([end for end in ends if end < len(text) or not final], np.int64)
            yield self._frame(text, breaks, self.unit == "line", label, np.zeros(0, np.int64))
        yield np.array([EOS_ID], np.int64)

    def _frame(self, text, breaks, line_units, label, line_labels):
        points = _code_points(text)
        self._sync_kinds()
        extra = (2 + (label >= 0 or len(line_labels) > 0)) * ((text.count("\n") if line_units else 0) + len(breaks))
        out = np.empty(len(points) + extra, np.int32)
        needed = self.size + len(points)
        if len(self.counts) < needed:
            self.counts = np.concatenate([self.counts, np.zeros(max(needed - len(self.counts), len(self.counts)),
                                                                np.int64)])
        n = frame_code_points(points, self.table, self.counts, self.next_id, breaks, line_units, label, line_labels,
                              out)
        return out[:n]

    def _sync_kinds(self):
        """Keep kinds as long as the ids handed out (the kernel numbers code points itself)."""
        if len(self.kinds) < self.size:
            self.kinds.extend([None] * (self.size - len(self.kinds)))

    def _token_ids(self, tokens):
        """Provisional ids of tokens of text (strings), numbering the new ones, counting each."""
        ids = list(map(self.index.get, tokens))
        if None in ids:
            for k, (token, found) in enumerate(zip(tokens, ids)):
                if found is None:
                    found = self.index.get(token)
                    if found is None:
                        found = self.index[token] = self._new_id(token)
                    ids[k] = found
        return ids

    def _count(self, ids):
        if len(self.counts) < self.size:
            self.counts = np.concatenate([self.counts, np.zeros(max(self.size - len(self.counts), len(self.counts)),
                                                                np.int64)])
        if len(ids):
            self.counts[:self.size] += np.bincount(ids, minlength=self.size)

    def _tokens(self, text):
        """The tokens of a stretch of one unit's text (cut where tokens compose)."""
        if self.char:
            return GRAPHEME.findall(text)
        text = text.lower() if self.options.lowercase else text
        return text.split() if self.options.tokenize == "whitespace" else WORD.findall(text)

    def _token_document(self, pieces, label):
        """Graphemes and words: the units of Vocab._encode_tokens, streamed. A unit's <s> goes
        out with its first token where a unit without tokens is skipped (word-level paragraphs),
        else as soon as it begins."""
        unit, skip_empty = self.unit, not self.char and self.unit == "paragraph"
        start = [BOS_ID] + ([label] if label >= 0 else [])
        opened = False  # whether the current unit's <s> went out
        begun = False  # whether the current unit has begun (some of its text came)
        framed = False  # whether any unit of the document went out
        cut = _after_line_break_before_space if unit == "paragraph" else _after_line_break
        fallback = _before_last_cluster if self.char else _after_last_space
        if unit == "paragraph":  # never within a run of whitespace, which a paragraph break may be
            fallback = _before_space(fallback)
        for count, (text, final) in enumerate(_recut(pieces, cut, fallback)):
            out = []

            def add(stretch):
                nonlocal opened, begun, framed
                begun = True
                tokens = self._token_ids(self._tokens(stretch))
                if not opened and (tokens or not skip_empty):
                    out.extend(start)
                    opened = framed = True
                out.extend(tokens)

            def close():
                nonlocal opened, begun
                if opened:
                    out.append(EOS_ID)
                opened = begun = False

            if unit == "document":
                add(text)
            elif unit == "line":
                lines = text.split("\n")
                for line in lines[:-1]:
                    add(line)
                    close()
                # The piece after a final line break is a line of its own at char level; words
                # drop it, as str.split's last piece of a text that ends with a line break.
                if lines[-1] or begun or (final and (self.char or count == 0)):
                    add(lines[-1])
            else:
                position = 0
                for match in PARAGRAPH_BREAK.finditer(text):
                    add(text[position:match.end() if self.char else match.start()])
                    close()
                    position = match.end()
                if position < len(text):
                    add(text[position:])
            if final:
                if not framed and not skip_empty:  # an empty document is one empty unit
                    add("")
                close()
            ids = np.array(out, np.int64)
            self._count(ids[ids >= FIRST_ID])
            yield ids

    def _prefixed(self, pieces):
        """Labels by line prefix: each line that is not empty is `label<TAB>text`, a unit of its
        own that starts with its label's token."""
        for text, final in _recut(pieces, _after_line_break, fallback=None):
            lines = text.split("\n")
            if not final:
                lines.pop()  # the empty piece after the line break the text was cut at
            labels, texts = [], []
            for line in lines:
                self.line += 1
                if not line:
                    continue
                name, tab, rest = line.partition("\t")
                if not tab:
                    raise InputError(f"{self.source} line {self.line} has no tab: with {setting('label_from', 'prefix')} "
                                     f"each line is label<TAB>text", file=self.source)
                labels.append(self.label_id(name))
                texts.append(rest)
            if not texts:
                continue
            if self.code_points:
                framed = self._frame("\n".join(texts), np.zeros(0, np.int64), True, -1,
                                     np.array(labels[1:], np.int64))
                yield np.concatenate([[BOS_ID, labels[0]], framed, [EOS_ID]])
            else:
                out = []
                for label, rest in zip(labels, texts):
                    out += [BOS_ID, label, *self._token_ids(self._tokens(rest)), EOS_ID]
                ids = np.array(out, np.int64)
                self._count(ids[ids >= FIRST_ID])
                yield ids

    # --- the vocabulary ---------------------------------------------------------------------------
    def ranked(self):
        """The provisional ids of the tokens of text, by falling count, ties in order of first
        appearance: build_vocab's order."""
        self._sync_kinds()
        counts = np.zeros(self.size, np.int64)
        counts[:min(len(self.counts), self.size)] = self.counts[:self.size]
        is_text = np.array([not isinstance(kind, tuple) for kind in self.kinds], bool)
        is_text[:FIRST_ID] = False
        ids = np.flatnonzero(is_text & (counts > 0))
        return ids[np.argsort(-counts[ids], kind="stable")], counts

    def token_of(self):
        """Provisional id -> token string, for the tokens of text (None for the rest)."""
        self._sync_kinds()
        tokens = list(self.kinds)
        if self.code_points:
            points = np.flatnonzero(self.table >= 0)
            for point, token in zip(points.tolist(), self.table[points].tolist()):
                tokens[token] = chr(point)
        return [None if isinstance(t, tuple) else t for t in tokens]

    def vocab(self, given=None, extend=False):
        """(Vocab, table): the vocabulary and the table (size,) of each provisional id's id in it.
        given None: a new vocabulary (specials, the labels by name, then the tokens of text kept
        by the options' min_count and max_vocab); given a Vocab: that one, tokens it lacks
        reading as <unk>, or with extend the new tokens (and labels) appended. A label the given
        vocabulary lacks is refused unless extend."""
        options = self.options
        order, counts = self.ranked()
        tokens_of = self.token_of()
        ranked = [tokens_of[i] for i in order.tolist() if counts[i] >= options.min_count]
        kept = [t for t in ranked if t not in SPECIALS][:options.max_vocab]
        labels = [label_token(name) for name in sorted(self.labels)]
        if given is None:
            vocab = Vocab(list(SPECIALS) + labels + kept, options)
        elif extend:
            known = set(given.index) | {label_token(name) for name in given.labels}
            new = [t for t in labels + kept if t not in known]
            vocab = Vocab(given.tokens + new, given.options) if new else given
        else:
            missing = sorted(set(self.labels) - set(given.labels))
            if missing:
                known = ", ".join(sorted(given.labels)) or "none"
                source = self.label_sources[missing[0]]
                raise InputError(f"{source}: the label {missing[0]!r} is not one the vocabulary knows "
                                 f"(its labels: {known})", file=source, value=missing[0])
            vocab = given
        table = np.full(self.size, UNK_ID, np.int64)
        table[:FIRST_ID] = np.arange(FIRST_ID)
        for token, i in zip(tokens_of, range(self.size)):
            if token is not None and i >= FIRST_ID:
                table[i] = vocab.index.get(token, UNK_ID)
        for name, i in self.labels.items():
            table[i] = vocab.labels[name]
        return vocab, table


def _code_points(text):
    """The code points of text as an unsigned array, as narrow as the text allows (an ASCII or
    Latin-1 text's bytes are its code points: no four-byte copy)."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), np.uint8)
    try:
        return np.frombuffer(text.encode("latin-1"), np.uint8)
    except UnicodeEncodeError:
        return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)


# --- where a piece may be cut ------------------------------------------------------------------------
def _recut(pieces, cut=None, fallback=None):
    """(text, final) from pieces of one document, each text ending where `cut(text)` says it
    may (what follows is held for the next piece; None: anywhere); the last, final=True, holds
    what is left. When nothing may be cut from over MAX_CARRY characters, `fallback(text)`
    says where (None: hold on)."""
    held = ""
    for piece in pieces:
        text = held + piece if held else piece
        at = len(text) if cut is None else cut(text)
        if at == 0 and fallback is not None and len(text) > MAX_CARRY:
            at = fallback(text)
        held = text[at:]
        if at:
            yield text[:at], False
    yield held, True


def _after_line_break(text):
    return text.rfind("\n") + 1


def _before_trailing_space(text):
    """Where the run of whitespace that ends text begins (a paragraph break may go on after it)."""
    return TRAILING_SPACE.search(text).start()


def _after_line_break_before_space(text):
    return text.rfind("\n", 0, _before_trailing_space(text)) + 1


def _before_space(fallback):
    return lambda text: fallback(text[:_before_trailing_space(text)])


def _before_last_cluster(text):
    """For a line longer than MAX_CARRY: before its last grapheme cluster (the only one that
    what follows may extend), 0 if it has one only."""
    clusters = [m.start() for m in GRAPHEME.finditer(text, max(len(text) - 64, 0))]
    return clusters[-1] if len(clusters) > 1 else 0


def _after_last_space(text):
    """For a line of words longer than MAX_CARRY: after its last whitespace, 0 if it has none."""
    space = regex.search(r"\s(?=\S*\Z)", text)
    return space.end() if space else 0
