"""The truncated-BPTT layout: streams in columns, chunks with targets one later, the held-out split."""
import numpy as np
import pytest

from seqkit.text.batching import batchify, chunks, count_chunks, split_ids


def test_batchify_lays_streams_out_in_columns_of_a_view():
    ids = np.arange(14, dtype=np.uint16)
    streams = batchify(ids, 3)
    assert streams.shape == (4, 3) and streams.dtype == np.uint16 and np.shares_memory(streams, ids)
    for b in range(3):
        np.testing.assert_array_equal(streams[:, b], np.arange(4 * b, 4 * b + 4))


def test_a_corpus_too_short_for_the_streams_says_how_many_tokens_it_needs():
    with pytest.raises(ValueError, match="the text has 5 tokens, too few for 3 streams: it needs at least 6"):
        batchify(np.arange(5), 3)


def test_chunks_cover_every_row_once_with_targets_one_later():
    streams = batchify(np.arange(60), 2)  # 30 rows
    seen = []
    for position, inputs, targets in chunks(streams, 8):
        assert np.shares_memory(inputs, streams) and len(targets) == len(inputs)
        np.testing.assert_array_equal(targets, streams[position + 1:position + 1 + len(inputs)])
        seen.extend(range(position, position + len(inputs)))
    assert seen == list(range(29))  # the last row is only ever a target
    assert count_chunks(len(streams), 8) == len(list(chunks(streams, 8))) == 4
    resumed = list(chunks(streams, 8, start=16))
    assert [p for p, _, _ in resumed] == [16, 24] and len(resumed[-1][1]) == 5
    assert count_chunks(1, 8) == 0 and count_chunks(9, 8) == 1 and count_chunks(10, 8) == 2


def test_split_holds_out_the_tail():
    train, val = split_ids(np.arange(100), 0.05)
    assert len(train) == 95 and list(val) == list(range(95, 100))
    train, val = split_ids(np.arange(10), 0.0)
    assert len(train) == 10 and len(val) == 0


def test_split_in_blocks_holds_out_the_end_of_each_span():
    """Validation samples the whole corpus: the last tenth of each fifth, and training keeps the
    rest in order."""
    train, val = split_ids(np.arange(100), 0.1, blocks=5)
    assert list(val) == [18, 19, 38, 39, 58, 59, 78, 79, 98, 99]
    assert list(train) == [i for i in range(100) if i not in set(val)]
    with pytest.raises(ValueError, match="blocks must be a positive integer, got 0"):
        split_ids(np.arange(100), 0.1, blocks=0)
