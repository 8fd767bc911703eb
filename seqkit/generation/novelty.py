"""How much of a sample its training corpus already holds (torch-rnn's novel_substrings), so that
generated text can be told from copied text: the longest passage the two share, and how many of
the sample's WINDOW-token windows occur in the corpus.

Both read the sample and the corpus as the run's tokens (characters, or words; each </s> that
ends a unit one token, as a sample's length counts them, and <s> none). Passages are found by
64-bit polynomial hashes of every n-token window, the corpus's sorted once for each n asked (the
longest shared passage by bisection over n: a passage shared means every shorter one is), and
the longest checked token for token.
"""
from collections import OrderedDict

import numpy as np

from seqkit._jit import kernel
from seqkit.text.options import BOS_ID, EOS_ID

WINDOW = 20  # tokens in the windows counted: torch-rnn's novel_substrings default
CACHED = 8   # corpus hash tables kept (one per window length, each 8 bytes a token)


@kernel
def window_hashes(ids, n, out):
    """out[i] (len(ids) - n + 1,) uint64: the polynomial hash of ids[i:i + n] (mod 2**64)."""
    base, top, h = np.uint64(1099511628211), np.uint64(1), np.uint64(0)
    for _ in range(n - 1):
        top *= base
    for i in range(n):
        h = h * base + np.uint64(ids[i] + 1)
    out[0] = h
    for i in range(n, ids.size):
        h = (h - np.uint64(ids[i - n] + 1) * top) * base + np.uint64(ids[i] + 1)
        out[i - n + 1] = h


def hashes(ids, n):
    """The hashes of the n-token windows of ids (int64), an empty array when there are none."""
    out = np.empty(max(len(ids) - n + 1, 0), np.uint64)
    if len(out):
        window_hashes(ids, n, out)
    return out


class NoveltyIndex:
    """A corpus's tokens, to ask how much of a text they hold (`of`)."""

    def __init__(self, vocab, corpus_text):
        self.vocab = vocab
        self.corpus = _tokens(vocab, corpus_text, frame=True)
        self._sorted = OrderedDict()  # n -> the corpus's n-window hashes, sorted

    def _table(self, n):
        if n not in self._sorted:
            self._sorted[n] = np.sort(hashes(self.corpus, n))
            while len(self._sorted) > CACHED:
                self._sorted.popitem(last=False)
        self._sorted.move_to_end(n)
        return self._sorted[n]

    def _found(self, ids, n):
        """Which of the n-token windows of ids the corpus holds, by hash (bool array)."""
        table, windows = self._table(n), hashes(ids, n)
        at = np.minimum(np.searchsorted(table, windows), max(len(table) - 1, 0))
        return table[at] == windows if len(table) else np.zeros(len(windows), bool)

    def of(self, text, skip=0):
        """{"longest": the longest passage of `text` the corpus holds (as text), "longest_tokens":
        its length in tokens, "windows": the text's WINDOW-token windows, "copied": how many of
        them the corpus holds}, the first `skip` tokens of text (a prime) left out."""
        ids = _tokens(self.vocab, text)[skip:]
        low, high, where = 0, min(len(ids), len(self.corpus)), 0  # a passage of `low` tokens is shared
        while low < high:
            n = (low + high + 1) // 2
            found = np.flatnonzero(self._found(ids, n))
            shared = [i for i in found[:8].tolist() if self._holds(ids[i:i + n])]  # hashes checked
            if shared:
                low, where = n, shared[0]
            else:
                high = n - 1
        windows = max(len(ids) - WINDOW + 1, 0)
        copied = int(np.count_nonzero(self._found(ids, WINDOW))) if windows else 0
        passage = ids[where:where + low]
        passage = np.insert(passage, np.flatnonzero(passage == EOS_ID) + 1, BOS_ID)  # </s> read with <s>, as text
        return {"longest": self.vocab.decode(passage) if low else "", "longest_tokens": int(low),
                "windows": windows, "copied": copied}

    def _holds(self, passage):
        """Whether the corpus holds the tokens `passage`, checked token for token."""
        n = len(passage)
        starts = np.flatnonzero(hashes(self.corpus, n) == hashes(passage, n)[0])
        return any(np.array_equal(self.corpus[s:s + n], passage) for s in starts[:16].tolist())


def _tokens(vocab, text, frame=False):
    """The ids of text as the run reads it, <s> left out (int64)."""
    ids = np.asarray(vocab.encode(text, frame=frame), np.int64)
    return np.ascontiguousarray(ids[ids != BOS_ID])
