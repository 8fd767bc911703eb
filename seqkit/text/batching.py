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
