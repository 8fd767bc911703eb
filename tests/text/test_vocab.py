"""Tokenizers, vocabularies and the BPTT layout: exact round trips, framing, caps, batching."""
import json

import numpy as np
import pytest

import seqkit.text.vocab
from seqkit.corpora import path as corpus_path
from seqkit.text.batching import batchify, chunks, count_chunks, split_ids
from seqkit.text.corpus import read_text
from seqkit.text.options import BOS, EOS, UNK, TextOptions
from seqkit.text.vocab import Vocab, build_vocab

CHAR, WORD = TextOptions(), TextOptions(level="word")
FAMILY = "\U0001F469\u200D\U0001F469\u200D\U0001F467"  # woman ZWJ woman ZWJ girl: one grapheme
TEXTS = {
    "ascii": "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n",
    "combining": "Cafe\u0301 and nai\u0308ve\n\n\nre\u0301sume\u0301",
    "emoji": f"hi {FAMILY} and \U0001F44D\U0001F3FD\n \n\nbye",
    "rtl": "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd\n\u0645\u0631\u062d\u0628\u0627 123\n",
    "crlf": "one\r\ntwo\r\n\r\nthree",
    "edges": "\n\nstarts and ends blank\n\n",
    "empty": "",
}


def tokens_of(vocab, ids):
    return [vocab.tokens[i] for i in ids]


@pytest.mark.parametrize("unit", ["document", "line", "paragraph"])
@pytest.mark.parametrize("graphemes", [False, True])
@pytest.mark.parametrize("name", list(TEXTS))
def test_char_level_decodes_back_to_the_exact_text(name, graphemes, unit):
    text = TEXTS[name]
    vocab = build_vocab(text, TextOptions(unit=unit, graphemes=graphemes))
    ids = vocab.encode(text)
    assert vocab.decode(ids) == text
    assert list(vocab.encode(text, frame=False)) == list(ids[1:-1])


def test_char_lines_are_framed_and_the_newline_is_no_token():
    vocab = build_vocab("ab\nc\n", TextOptions(unit="line"))
    assert "\n" not in vocab.tokens
    # Three pieces of str.split("\n"): "ab", "c" and the empty line after the final newline.
    assert tokens_of(vocab, vocab.encode("ab\nc\n")) == [BOS, "a", "b", EOS, BOS, "c", EOS, BOS, EOS]
    assert vocab.decode(vocab.encode("ab\nc\n")) == "ab\nc\n"


def test_char_paragraphs_keep_their_blank_lines_as_tokens():
    text = "a\n\nb\n \n\nc"
    vocab = build_vocab(text, TextOptions(unit="paragraph"))
    assert "".join(tokens_of(vocab, vocab.encode(text))) == "<s>a\n\n</s><s>b\n \n\n</s><s>c</s>"


def test_graphemes_are_one_token_each():
    text = f"e\u0301{FAMILY}a"
    points = build_vocab(text, CHAR)
    assert tokens_of(points, points.encode(text, frame=False)) == list(text)
    clusters = build_vocab(text, TextOptions(graphemes=True))
    assert tokens_of(clusters, clusters.encode(text, frame=False)) == ["e\u0301", FAMILY, "a"]


def test_word_tokenizer_splits_words_numbers_and_punctuation():
    text = "Hello, world! 42."
    vocab = build_vocab(text, WORD)
    assert tokens_of(vocab, vocab.encode(text, frame=False)) == ["Hello", ",", "world", "!", "42", "."]
    assert build_vocab("o'er 3.14 \u00e9t\u00e9", WORD).tokens[3:] == ["o'er", "3.14", "\u00e9t\u00e9"]


def test_lowercase_merges_cases():
    vocab = build_vocab("The the THE tHe", TextOptions(level="word", lowercase=True))
    assert vocab.tokens[3:] == ["the"]
    assert tokens_of(vocab, vocab.encode("THE", frame=False)) == ["the"]


def test_whitespace_mode_reads_a_literal_unk_as_the_unknown_token():
    text = "the <unk> sat , on the <unk>\n"
    vocab = build_vocab(text, TextOptions(level="word", tokenize="whitespace"))
    ids = vocab.encode(text)
    assert list(ids[[2, 7]]) == [0, 0] and vocab.id_of(UNK) == 0
    assert tokens_of(vocab, ids) == [BOS, "the", UNK, "sat", ",", "on", "the", UNK, EOS]
    assert vocab.tokens.count(UNK) == 1 and "<" not in vocab.tokens and vocab.unknown(text) == []


def test_min_count_and_max_vocab_send_the_rest_to_unk():
    text = "a a a b b c d"
    assert build_vocab(text, TextOptions(level="word", min_count=2)).tokens[3:] == ["a", "b"]
    capped = build_vocab(text, TextOptions(level="word", max_vocab=1))
    assert capped.tokens == [UNK, BOS, EOS, "a"]
    assert tokens_of(capped, capped.encode("a b c z", frame=False)) == ["a", UNK, UNK, UNK]
    assert capped.unknown("a b c b z") == ["b", "c", "z"]


def test_ties_in_count_keep_first_appearance_order():
    assert build_vocab("b a c a", WORD).tokens[3:] == ["a", "b", "c"]
    assert build_vocab("zyxy", CHAR).tokens[3:] == ["y", "z", "x"]
    assert build_vocab("zyx", TextOptions(graphemes=True)).tokens[3:] == ["z", "y", "x"]


def test_units_are_framed_by_start_and_end_tokens():
    text = "to be\n\nor not\n"
    lines = build_vocab(text, WORD)  # word level frames lines by default, an empty one too
    assert tokens_of(lines, lines.encode(text)) == [BOS, "to", "be", EOS, BOS, EOS, BOS, "or", "not", EOS]
    assert lines.decode(lines.encode(text)) == "to be\n\nor not\n"
    document = build_vocab(text, TextOptions(level="word", unit="document"))
    assert tokens_of(document, document.encode(text)) == [BOS, "to", "be", "or", "not", EOS]
    chars = build_vocab(text, CHAR)  # char level frames the whole document by default
    assert tokens_of(chars, chars.encode(text)) == [BOS] + list(text) + [EOS]


def test_ids_are_compact():
    assert build_vocab("abc", CHAR).encode("abc").dtype == np.uint8
    chars = [chr(0x4E00 + i) for i in range(253)]  # 256 ids in all: the most a byte holds
    assert Vocab([UNK, BOS, EOS] + chars, CHAR).encode("".join(chars)).dtype == np.uint8
    assert Vocab([UNK, BOS, EOS] + chars + ["a"], CHAR).encode("a").dtype == np.uint16
    words = [f"w{i}" for i in range(70_000)]
    big = Vocab([UNK, BOS, EOS] + words, TextOptions(level="word", tokenize="whitespace"))
    assert big.id_dtype == np.uint32 and list(big.encode("w5 w69999", frame=False)) == [8, 70002]


def test_unknown_lists_missing_tokens_in_order():
    vocab = build_vocab("abc", TextOptions(unit="line"))
    assert vocab.unknown("a\nxbyx\nz") == ["x", "y", "z"]  # the line break is no unknown token
    assert list(vocab.encode("axb", frame=False)) == [vocab.id_of("a"), 0, vocab.id_of("b")]


def test_vocab_survives_json():
    text = TEXTS["emoji"] + TEXTS["rtl"]
    for options in (TextOptions(level="word", lowercase=True, max_vocab=5, unit="paragraph"),
                    TextOptions(graphemes=True, min_count=2)):
        vocab = build_vocab(text, options)
        again = Vocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
        assert again.tokens == vocab.tokens and again.options == vocab.options
        np.testing.assert_array_equal(again.encode(text), vocab.encode(text))


def test_results_do_not_depend_on_the_block_size(monkeypatch):
    text = "".join(TEXTS.values()) * 3
    units = ("document", "line", "paragraph")
    options = [TextOptions(unit=u, graphemes=g) for u in units for g in (False, True)]
    options += [TextOptions(level="word", unit=u) for u in units]
    expected = [(v.tokens, v.encode(text)) for v in (build_vocab(text, o) for o in options)]
    monkeypatch.setattr(seqkit.text.vocab, "BLOCK", 5)  # characters at a time: many blocks
    for o, (tokens, ids) in zip(options, expected):
        vocab = build_vocab(text, o)
        assert vocab.tokens == tokens
        np.testing.assert_array_equal(vocab.encode(text), ids)
        assert vocab.unknown("\u2603\u2604" + text + "\u2604\u2603") == ["\u2603", "\u2604"]


def test_bad_options_name_the_choices():
    with pytest.raises(ValueError, match="level must be one of char, word, got 'byte'"):
        TextOptions(level="byte")
    with pytest.raises(ValueError, match="tokenize must be one of regex, whitespace, got 'bpe'"):
        TextOptions(level="word", tokenize="bpe")
    with pytest.raises(ValueError, match="unit must be one of line, paragraph, document, got 'sentence'"):
        TextOptions(unit="sentence")
    with pytest.raises(ValueError, match="unknown text options colour"):
        TextOptions.from_dict({"level": "char", "colour": "red"})


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


def test_runs_saved_before_val_blocks_keep_their_tail_split():
    """A config.json without val_blocks (seqkit 0.1.0's) loads as the tail split it trained on;
    a new config holds out ten blocks."""
    from seqkit.config import TrainConfig
    old = TrainConfig(seed=1).to_dict()
    del old["val_blocks"]
    assert TrainConfig.from_dict(old).val_blocks == 1 and TrainConfig().val_blocks == 10


def test_read_text_drops_a_bom_and_normalises_line_endings(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes("\ufeffone\r\ntwo\rthree\n\u00e9".encode("utf-8"))
    assert read_text(path) == "one\ntwo\nthree\n\u00e9"
    path.write_bytes(b"caf\xe9")
    with pytest.raises(ValueError, match="is not utf-8 text"):
        read_text(path)
    assert read_text(path, encoding="latin-1") == "caf\u00e9"


def test_shipped_corpus_round_trips_with_its_65_characters():
    text = corpus_path().read_text()
    vocab = build_vocab(text, CHAR)
    assert len(set(text)) == 65 and set(vocab.tokens[3:]) == set(text) and len(vocab) == 65 + 3
    ids = vocab.encode(text)
    assert len(ids) == len(text) + 2 and vocab.decode(ids) == text
