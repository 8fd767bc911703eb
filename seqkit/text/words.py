"""Word tokens: the regex that finds them, and detokenize, which joins them back into text that
reads as text (seqkit.text.vocab decodes word-level ids with it; seqkit.generation.sampler streams with Joiner)."""
from typing import Iterable

import regex

# Numbers (3.14, 1,000), words with inner apostrophes (o'er, don't), then any other grapheme
# that is not whitespace (punctuation, symbols, an emoji with its modifiers) alone.
WORD = regex.compile(r"\p{N}+(?:[.,]\p{N}+)*|[\p{L}\p{M}]+(?:['\u2019][\p{L}\p{M}]+)*|(?!\s)\X")
CLOSING = regex.compile(r"[\p{Pe}\p{Pf}.,;:!?\u2026%]")  # ) ] } ” ’ » . , ; : ! ? … %: no space before
OPENING = regex.compile(r"[\p{Ps}\p{Pi}\u00bf\u00a1]")  # ( [ { “ ‘ « ¿ ¡: no space after


def detokenize(tokens: Iterable[str]) -> str:
    """One unit's word tokens as text that reads as text: no space before closing punctuation,
    none after opening punctuation, straight double quotes opening and closing in turn. A token
    is glued on only where WORD finds it, and the two before it, again in the glued text ("3"
    "." "5" must not become 3.5), so WORD.findall(detokenize(tokens)) == tokens for any tokens
    WORD found. <unk> is not found again, so it keeps its spaces."""
    joiner = Joiner()
    return "".join(joiner.add(token) for token in tokens)


class Joiner:
    """detokenize a token at a time, for text that streams: add(token) returns the text the
    token adds, so that the pieces of one unit's tokens joined are detokenize(tokens) (with
    spaces_only, " ".join(tokens)). Its state: the last two tokens of the run that a token may
    be glued to, whether an opening mark came last, and the count of straight quotes."""

    def __init__(self, spaces_only=False):
        self.spaces_only, self.before, self.after_opening, self.quotes = spaces_only, [], False, 0

    def add(self, token):
        before = self.before
        straight_quote = token == '"'
        closing = CLOSING.fullmatch(token) or straight_quote and self.quotes % 2 == 1
        if (not self.spaces_only and before and (closing or self.after_opening)
                and WORD.findall("".join(before) + token) == before + [token]):
            piece, self.before = token, (before + [token])[-2:]
        else:
            piece, self.before = (" " + token if before else token), [token]
        self.after_opening = OPENING.fullmatch(token) or straight_quote and self.quotes % 2 == 0
        self.quotes += straight_quote
        return piece
