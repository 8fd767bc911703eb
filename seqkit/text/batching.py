"""The layout of token ids for truncated BPTT: validation split off, the ids cut into parallel
streams, the streams consumed in chunks."""
import numpy as np

from seqkit._checks import check_count
from seqkit.errors import OptionError, setting


def split_ids(ids, val_fraction, blocks=1):
    """(train, validation): the ids cut into `blocks` equal spans, the last val_fraction of each
    span held out, the heads joined for training and the tails for validation. With blocks = 1
    the corpus's tail is held out (views, no copy); with more, validation samples the whole
    corpus and training sees all of it: a tail is one part (a book, a play) that the model
    would never see, though it is often the text nearest to what follows the corpus."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    check_count("blocks", blocks)
    if blocks > len(ids):
        raise OptionError(f"{setting('val_blocks', blocks)} is more than the corpus's {len(ids):,} tokens: lower it",
                          field="val_blocks", value=blocks)
    bounds = [len(ids) * k // blocks for k in range(blocks + 1)]
    held = [int(round(end * val_fraction)) for end in bounds]  # held out before each bound, in all
    cuts = [end - (after - before) for end, before, after in zip(bounds[1:], held, held[1:])]
    if blocks == 1:
        return ids[:cuts[0]], ids[cuts[0]:]
    heads = [ids[start:cut] for start, cut in zip(bounds, cuts)]
    tails = [ids[cut:end] for cut, end in zip(cuts, bounds[1:])]
    return np.concatenate(heads), np.concatenate(tails)


def batchify(ids, batch_size):
    """Cut the id stream (N,) into B = batch_size parallel streams (T_total, B), T_total =
    N // B, one contiguous piece of the stream per column; the tail that does not fill a whole
    row is dropped (pytorch/examples' word_language_model). A view of ids, not a copy: the ids
    of a big corpus are the biggest array training holds. For ids a b c ... m and B = 3:

        ids:  a b c d | e f g h | i j k l | m       streams (T_total = 4, B = 3):
              col 0     col 1     col 2    dropped   a e i
                                                     b f j  <- row t: step t of every stream
        a chunk of truncated BPTT is a band of rows, c g k
        and the next chunk the next band, so each    d h l
        stream's state carries on down its column.
    """
    check_count("batch_size", batch_size)
    rows = len(ids) // batch_size
    if rows < 2:
        raise ValueError(f"the text has {len(ids)} tokens, too few for {batch_size} streams: it needs at "
                         f"least {2 * batch_size} (an input and a target each); use a longer text or fewer streams")
    return ids[:rows * batch_size].reshape(batch_size, rows).T


def chunks(streams, seq_len, start=0):
    """(position i, inputs streams[i:i+T], targets streams[i+1:i+1+T]) for truncated BPTT, for
    i = start, start + seq_len, ...; T = seq_len, less for the last chunk. Views, no copies."""
    check_count("seq_len", seq_len)
    for i in range(start, len(streams) - 1, seq_len):
        T = min(seq_len, len(streams) - 1 - i)
        yield i, streams[i:i + T], streams[i + 1:i + 1 + T]


def count_chunks(n_rows, seq_len):
    """How many chunks `chunks` yields from row 0 of n_rows rows."""
    return -(-(n_rows - 1) // seq_len) if n_rows > 1 else 0


def split_ranges(documents, val_fraction, blocks=1):
    """(train, validation) as lists of (start, stop) ranges of the ids: each document's
    (start, stop) split as split_ids splits ids, `blocks` spans each (no more than the
    document has ids, when there are several documents), so that validation takes its share of
    every file. One document gives the ranges of split_ids's views: split_ids(ids, f, b) is the
    ids of these ranges joined."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    check_count("blocks", blocks)
    train, val = [], []
    for start, stop in documents:
        n = stop - start
        spans = blocks if len(documents) == 1 else max(1, min(blocks, n))
        if spans > n:
            raise OptionError(f"{setting('val_blocks', blocks)} is more than the corpus's {n:,} tokens: lower it",
                              field="val_blocks", value=blocks)
        bounds = [n * k // spans for k in range(spans + 1)]
        held = [int(round(end * val_fraction)) for end in bounds]
        cuts = [end - (after - before) for end, before, after in zip(bounds[1:], held, held[1:])]
        train += [(start + a, start + cut) for a, cut in zip(bounds, cuts) if cut > a]
        val += [(start + cut, start + end) for cut, end in zip(cuts, bounds[1:]) if end > cut]
    return train, val


class Streams:
    """The streams (T_total, B) that batchify lays out from the ids of `ranges` of `ids` joined,
    without joining them (the ids may be a memory map of a corpus larger than memory): a slice
    of rows is read as an array, streams[i:j] (j - i, B); len() is T_total. One range is a view,
    as batchify's; several are gathered row by row. columns(slice) keeps a block of the streams."""

    def __init__(self, ids, ranges, batch_size, columns=None):
        check_count("batch_size", batch_size)
        self.ids, self.ranges, self.batch_size = ids, [tuple(r) for r in ranges], batch_size
        lengths = np.array([stop - start for start, stop in self.ranges], np.int64)
        self.tokens = int(lengths.sum())
        self.rows = self.tokens // batch_size
        if self.rows < 2:
            raise ValueError(f"the text has {self.tokens} tokens, too few for {batch_size} streams: it needs at "
                             f"least {2 * batch_size} (an input and a target each); use a longer text or fewer streams")
        self.at = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)  # each range's place when joined
        self.base = np.array([start for start, _ in self.ranges], np.int64)
        self.columns_kept = slice(0, batch_size) if columns is None else columns
        self._view = None
        if len(self.ranges) == 1:
            start = self.ranges[0][0]
            self._view = batchify(ids[start:start + self.rows * batch_size], batch_size)[:, self.columns_kept]

    @property
    def shape(self):
        return self.rows, len(range(*self.columns_kept.indices(self.batch_size)))

    def __len__(self):
        return self.rows

    def __getitem__(self, rows):
        if not isinstance(rows, slice):
            raise TypeError("Streams take a slice of rows: streams[i:j]")
        if self._view is not None:
            return self._view[rows]
        first, stop, _ = rows.indices(self.rows)
        columns = np.arange(self.batch_size)[self.columns_kept]
        joined = columns[None, :] * self.rows + np.arange(first, max(first, stop))[:, None]  # places in the join
        which = np.searchsorted(self.at, joined, side="right") - 1
        return np.asarray(self.ids[(joined - self.at[which] + self.base[which]).reshape(-1)]).reshape(joined.shape)

    def columns(self, kept):
        """These streams' columns `kept` (a slice), as Streams."""
        return Streams(self.ids, self.ranges, self.batch_size, kept)

    def __array__(self, dtype=None, copy=None):
        whole = self[0:self.rows]
        return whole if dtype is None else whole.astype(dtype)
