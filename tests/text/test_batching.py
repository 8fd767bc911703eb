"""The truncated-BPTT layout: streams in columns, chunks with targets one later, the held-out split."""
import numpy as np
import pytest

from seqkit.text.batching import Streams, batchify, chunks, count_chunks, split_ids, split_ranges


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


def test_split_ranges_are_split_ids_views_and_take_validation_from_every_document():
    ids = np.arange(1000)
    for fraction, blocks in ((0.05, 1), (0.05, 10), (0.1, 3)):
        train, val = split_ranges([(0, 1000)], fraction, blocks)
        expected_train, expected_val = split_ids(ids, fraction, blocks)
        assert np.array_equal(np.concatenate([ids[a:b] for a, b in train]), expected_train)
        assert np.array_equal(np.concatenate([ids[a:b] for a, b in val]), expected_val)
    train, val = split_ranges([(0, 600), (600, 604), (604, 1000)], 0.1, 10)
    assert val[0] == (54, 60) and (594, 600) in val and val[-1] == (996, 1000)
    assert not [r for r in val if 600 <= r[0] < 604]  # a 4-token file: 4 spans, whose 10% rounds to nothing
    assert sum(b - a for a, b in train) + sum(b - a for a, b in val) == 1000


@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_streams_over_ranges_are_batchify_of_the_ranges_joined(batch_size):
    ids = np.arange(1000, dtype=np.uint16)
    ranges = [(0, 290), (300, 310), (310, 990)]
    joined = np.concatenate([ids[a:b] for a, b in ranges])
    streams, expected = Streams(ids, ranges, batch_size), batchify(joined, batch_size)
    assert streams.shape == expected.shape and len(streams) == len(expected)
    assert np.array_equal(np.asarray(streams), expected) and streams[5:9].dtype == np.uint16
    assert np.array_equal(streams.columns(slice(1, 3))[2:40], expected[2:40, 1:3])
    assert [i for i, _, _ in chunks(streams, 64)] == [i for i, _, _ in chunks(expected, 64)]
    one = Streams(ids, [(10, 990)], batch_size)
    assert np.shares_memory(one[0:4], ids)  # one range: batchify's view, no copy
