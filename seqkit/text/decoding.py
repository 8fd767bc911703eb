"""Token ids back to text: the one decoder, which Vocab.decode, the sampler's stream and seqkit
show's page all read text through.

Char level, each token is its text; </s> followed by <s> reads as "\\n" when the unit is the
line (the "\\n" was no token), and every other <s> and </s> reads as nothing. Word level, the
tokens of a unit are joined as text reads (seqkit.text.words.Joiner: no space before closing
punctuation or after opening), or by single spaces for the whitespace tokenizer, whose tokens
could split differently if glued; each </s> ends a line (a paragraph: a blank line after it)
and <s> reads as nothing. <unk> reads as `unknown`; a label's token reads as nothing.

A decoder keeps what a stream of ids needs from one piece to the next (the word joiner's
state, a char-level </s> whose text depends on the id after it), so the texts of the pieces
of a stream joined are the text of all its ids at once, in the memory of one piece.
"""
import numpy as np

from seqkit.text.options import BOS_ID, EOS_ID, UNK, UNK_ID
from seqkit.text.words import Joiner


class Decoder:
    """Text of the ids of one vocabulary (its tokens and TextOptions), a piece at a time."""

    def __init__(self, vocab, unknown=UNK):
        """unknown: the text <unk> reads as (seqkit show marks it with U+FFFD)."""
        options = vocab.options
        self.words = options.level == "word"
        self.line_breaks = not self.words and options.resolved_unit == "line"
        self.end = "\n\n" if options.resolved_unit == "paragraph" else "\n"
        self.spaces_only = options.tokenize == "whitespace"
        self.tokens = vocab.tokens
        self.strings = np.array(["", "", ""] + list(vocab.tokens[3:]), object)  # id -> text, char level
        self.strings[UNK_ID] = self.unknown = unknown
        self.strings[list(vocab.labels.values())] = ""
        self.silent = frozenset(vocab.labels.values())  # word level: the labels' ids
        self.joiner = Joiner(self.spaces_only)
        self.held = False  # char level, line unit: the last piece ended with a </s> not yet read

    def pieces(self, ids, final=True):
        """The text each id adds, a list as long as ids. final=False when more ids follow in
        another call: a last char-level </s> then adds "" here, and its "\\n" (if <s> comes
        next) starts the next call's first piece."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        if self.words:
            return [self._word(i) for i in ids.tolist()]
        strings = self.strings[ids]
        if self.line_breaks and len(ids):
            strings[np.flatnonzero((ids[:-1] == EOS_ID) & (ids[1:] == BOS_ID))] = "\n"
            if self.held and ids[0] == BOS_ID:
                strings[0] = "\n"
            self.held = not final and ids[-1] == EOS_ID
        return strings.tolist()

    def decode(self, ids, final=True):
        """The text of ids: pieces joined."""
        return "".join(self.pieces(ids, final))

    def _word(self, i):
        if i == EOS_ID:
            self.joiner = Joiner(self.spaces_only)
            return self.end
        if i == BOS_ID or i in self.silent:
            return ""
        return self.joiner.add(self.unknown if i == UNK_ID else self.tokens[i])
