"""Tokenizers and vocabularies: exact round trips, framing, caps, compact ids, JSON."""
import json

import numpy as np
import pytest

import seqkit.text.vocab
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
    chars = build_vocab(text, TextOptions(unit="document"))
    assert tokens_of(chars, chars.encode(text)) == [BOS] + list(text) + [EOS]
    chars = build_vocab(text, CHAR)  # char level frames lines by default too, "\n" as </s> <s>
    assert tokens_of(chars, chars.encode(text)) == [BOS, *"to be", EOS, BOS, EOS, BOS, *"or not", EOS, BOS, EOS]
    assert chars.decode(chars.encode(text)) == text


def test_runs_written_before_0_2_0_keep_their_unit():
    """A unit of None in an old run's vocab.json or config.json is what it was then: the
    document at char level, the line at word level. New options say their unit."""
    assert TextOptions.from_dict({**CHAR.to_dict(), "unit": None}).unit == "document"
    assert TextOptions.from_dict({**WORD.to_dict(), "unit": None}).unit == "line"
    assert CHAR.unit == WORD.unit == "line" and TextOptions.from_dict(CHAR.to_dict()) == CHAR


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
