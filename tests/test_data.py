"""Tokenizers, vocabularies and the BPTT layout: exact round trips, framing, caps, batching."""
import json

import numpy as np
import pytest

from seqkit.corpora import path as corpus_path
from seqkit.data import (BOS, EOS, UNK, TextOptions, Vocab, batchify, build_vocab, chunks, count_chunks,
                         read_text, split_ids)

CHAR = TextOptions()
WORD = TextOptions(level="word")
MIXED = "Héllo wörld! e\u0301 👩‍👩‍👧 שלום עולם 3.14\n\nnext paragraph\n"


def tokens_of(vocab, ids):
    return [vocab.tokens[i] for i in ids]


@pytest.mark.parametrize("unit", ["document", "line", "paragraph"])
@pytest.mark.parametrize("graphemes", [False, True])
def test_char_level_decodes_back_to_the_text(unit, graphemes):
    options = TextOptions(unit=unit, graphemes=graphemes)
    vocab = build_vocab(MIXED, options)
    assert vocab.decode(vocab.encode(MIXED)) == MIXED


def test_graphemes_are_one_token_each():
    text = "e\u0301👩‍👩‍👧a"
    assert tokens_of(build_vocab(text, CHAR), build_vocab(text, CHAR).encode(text, frame=False)) == list(text)
    vocab = build_vocab(text, TextOptions(graphemes=True))
    assert tokens_of(vocab, vocab.encode(text, frame=False)) == ["e\u0301", "👩‍👩‍👧", "a"]


def test_word_tokenizer_splits_words_numbers_and_punctuation():
    vocab = build_vocab("Hello, world! 42. o'er 3.14", WORD)
    ids = vocab.encode("Hello, world! 42. o'er 3.14", frame=False)
    assert tokens_of(vocab, ids) == ["Hello", ",", "world", "!", "42", ".", "o'er", "3.14"]


def test_lowercase_merges_cases():
    vocab = build_vocab("The the THE", TextOptions(level="word", lowercase=True))
    assert vocab.tokens[3:] == ["the"]


def test_whitespace_mode_reads_a_literal_unk_as_the_unknown_token():
    text = "the <unk> sat on the <unk>\n"
    vocab = build_vocab(text, TextOptions(level="word", tokenize="whitespace"))
    ids = vocab.encode(text)
    assert tokens_of(vocab, ids) == [BOS, "the", UNK, "sat", "on", "the", UNK, EOS]
    assert vocab.tokens.count(UNK) == 1 and "<" not in vocab.tokens


def test_min_count_and_max_vocab_send_the_rest_to_unk():
    text = "a a a b b c"
    assert build_vocab(text, TextOptions(level="word", min_count=2)).tokens[3:] == ["a", "b"]
    capped = build_vocab(text, TextOptions(level="word", max_vocab=1))
    assert capped.tokens[3:] == ["a"]
    assert tokens_of(capped, capped.encode("a b c", frame=False)) == ["a", UNK, UNK]


def test_ties_in_count_keep_first_appearance_order():
    assert build_vocab("b a c", WORD).tokens[3:] == ["b", "a", "c"]
    assert build_vocab("zyx", CHAR).tokens[3:] == ["z", "y", "x"]


def test_units_are_framed_by_start_and_end_tokens():
    text = "to be\nor not\n"
    line = build_vocab(text, WORD)  # word level frames lines by default
    assert tokens_of(line, line.encode(text)) == [BOS, "to", "be", EOS, BOS, "or", "not", EOS]
    assert line.decode(line.encode(text)) == "to be\nor not"
    document = build_vocab(text, CHAR)  # char level frames the whole document
    ids = document.encode(text)
    assert tokens_of(document, ids[[0, -1]]) == [BOS, EOS] and BOS not in tokens_of(document, ids[1:-1])
    per_line = build_vocab(text, TextOptions(unit="line")).encode(text)
    assert list(per_line).count(1) == 2 and list(per_line).count(2) == 2


def test_ids_are_compact():
    assert build_vocab("abc", CHAR).encode("abc").dtype == np.uint16
    words = [f"w{i}" for i in range(70_000)]
    big = Vocab([UNK, BOS, EOS] + words, TextOptions(level="word", tokenize="whitespace"))
    assert big.encode("w5 w69999", frame=False).dtype == np.uint32
    assert list(big.encode("w5 w69999", frame=False)) == [8, 70002]


def test_unknown_lists_missing_tokens_in_order():
    vocab = build_vocab("abc", CHAR)
    assert vocab.unknown("axbyxz") == ["x", "y", "z"]
    assert list(vocab.encode("axb", frame=False)) == [vocab.id_of("a"), 0, vocab.id_of("b")]


def test_vocab_survives_json():
    vocab = build_vocab(MIXED, TextOptions(level="word", lowercase=True, max_vocab=5))
    again = Vocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again.tokens == vocab.tokens and again.options == vocab.options


def test_bad_options_name_the_choices():
    with pytest.raises(ValueError, match="level must be one of char, word, got 'byte'"):
        TextOptions(level="byte")
    with pytest.raises(ValueError, match="unit must be one of line, paragraph, document"):
        TextOptions(unit="sentence")


def test_batchify_lays_streams_out_in_columns():
    streams = batchify(np.arange(14, dtype=np.uint16), 3)
    assert streams.shape == (4, 3) and streams.dtype == np.uint16 and streams.flags.c_contiguous
    for b in range(3):
        np.testing.assert_array_equal(streams[:, b], np.arange(4 * b, 4 * b + 4))
    with pytest.raises(ValueError, match="needs at least 6 tokens"):
        batchify(np.arange(5), 3)


def test_chunks_cover_every_row_once_with_targets_one_later():
    streams = batchify(np.arange(60), 2)  # 30 rows
    seen = []
    for position, inputs, targets in chunks(streams, 8):
        np.testing.assert_array_equal(targets, streams[position + 1:position + 1 + len(inputs)])
        seen.extend(range(position, position + len(inputs)))
    assert seen == list(range(29))
    assert count_chunks(len(streams), 8) == len(list(chunks(streams, 8))) == 4
    assert [p for p, _, _ in chunks(streams, 8, start=16)] == [16, 24]


def test_split_holds_out_the_tail():
    train, val = split_ids(np.arange(100), 0.05)
    assert len(train) == 95 and list(val) == list(range(95, 100))


def test_read_text_drops_a_bom_and_normalises_line_endings(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes("\ufeffone\r\ntwo\rthree\n".encode("utf-8"))
    assert read_text(path) == "one\ntwo\nthree\n"


def test_shipped_corpus_round_trips_with_its_65_characters():
    text = corpus_path().read_text()
    vocab = build_vocab(text, CHAR)
    assert len(vocab) == 65 + 3
    ids = vocab.encode(text)
    assert len(ids) == len(text) + 2 and vocab.decode(ids) == text
