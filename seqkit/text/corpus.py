"""Corpus files in, and the layout of token ids for truncated BPTT: reading and checking a
text, splitting off validation, and cutting ids into parallel streams and chunks."""
import numpy as np
import regex

from seqkit._checks import check_count
from seqkit.errors import InputError, OptionError, option, setting


def read_text(path, encoding="utf-8", errors="strict"):
    """A text file as text: a leading BOM dropped, CRLF and lone CR turned into "\n".

    errors is Python's codec error handler ("strict", "replace", "ignore"). Raises ValueError
    naming the file for bytes that are not text in that encoding (with their byte offset), an
    empty or all-whitespace file, and what looks like a binary file."""
    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode(encoding, errors)
        del data  # freed before the copies below, so a big corpus is never held three times
    except UnicodeDecodeError as error:
        raise InputError(f"{path} is not {encoding} text ({error.reason} at byte {error.start}): give its "
                         f"encoding with {option('encoding')}, or replace such bytes with "
                         f"{setting('encoding_errors', 'replace')}", file=path) from None
    except LookupError:
        raise ValueError(f"unknown text encoding {encoding!r} for {path}: give one Python knows, "
                         f"such as utf-8 or latin-1") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    check_text(text, path)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        text = text.replace("\r", "\n")
    return text


BINARY_CONTROLS = 0.01  # more than this share of control characters (not tab, newline...) is binary
CONTROL = regex.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # the control characters that count


def check_text(text, source):
    """Raise ValueError naming `source` if text is empty, only whitespace, or looks binary: a NUL
    character, or over 1% control characters in its first megabyte (a binary file read as
    latin-1 decodes without error, but is about a quarter control characters)."""
    if not text:
        raise ValueError(f"{source} is empty: give a file with text in it")
    if text.isspace():
        raise ValueError(f"{source} holds only whitespace: give a file with text in it")
    nul = text.find("\x00")
    head = text[:1 << 20]
    controls = len(head) - len(CONTROL.sub("", head))
    if nul >= 0 or controls > BINARY_CONTROLS * len(head):
        where = (f"a NUL character at character {nul}" if nul >= 0
                 else f"{controls} control characters in its first {len(head)}")
        raise ValueError(f"{source} looks like a binary file, not text ({where}): give a text file")


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
