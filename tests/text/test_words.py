"""Word-level detokenisation: decoded words read as text (punctuation against its word), and
the text the tokenizer produced tokenizes back to the same tokens (hypothesis)."""
import pytest
import regex
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from seqkit.text.options import UNK, TextOptions
from seqkit.text.vocab import Vocab, build_vocab
from seqkit.text.words import WORD, detokenize

LETTERS = "abzAZ\u00e9\u00df\u00f1\u03b1\u03a9\u0436\u05e9\u0645\u4e2d"  # é ß ñ α Ω ж ש م 中
MARKS = "\u0301\u0308\u0327"  # combining acute, diaeresis, cedilla
PUNCTUATION = list(".,;:!?%()[]{}\"'/-&*#@") + ["\u2026", "\u201c", "\u201d", "\u2018", "\u2019", "\u00ab",
                                                "\u00bb", "\u00bf", "\u00a1", "\u2014", "\u201e", "\u2039"]
EXTRA = ["\u200d", "\U0001F469", "\U0001F3FD", "\U0001F1FA", "\U0001F1F8", "\u0600", "\t", "\r"]  # \u0600: Prepend
WORDS = st.text(st.sampled_from(LETTERS + MARKS), min_size=1, max_size=5)
NUMBERS = st.builds(lambda whole, sep, part: f"{whole}{sep}{part}", st.integers(0, 999),
                    st.sampled_from(["", ".", ","]), st.sampled_from(["", "5", "05"]))
PIECES = st.one_of(WORDS, NUMBERS, st.sampled_from(PUNCTUATION), st.sampled_from(["'", "\u2019", ".", ","]),
                   st.sampled_from([" ", " ", "\n"]), st.sampled_from(EXTRA), st.text(max_size=2))
TEXT = st.lists(PIECES, max_size=40).map("".join)
SETTINGS = settings(max_examples=300, deadline=None)
# A grapheme takes in whatever follows a Prepend character (U+0600 ARABIC NUMBER SIGN, ...) but a
# line break, so a token ending in one and the next come back apart only across lines.
PREPEND_END = regex.compile(r"\p{Grapheme_Cluster_Break=Prepend}\Z")


def apart_within_a_line(tokens):
    return not any(PREPEND_END.search(token) for token in tokens[:-1])


@SETTINGS
@given(TEXT)
def test_detokenized_text_tokenizes_back_to_the_same_tokens(text):
    tokens = WORD.findall(text)
    assume(apart_within_a_line(tokens))
    assert WORD.findall(detokenize(tokens)) == tokens


@SETTINGS
@given(TEXT, st.sampled_from(["line", "paragraph", "document"]), st.booleans())
def test_decoded_words_encode_back_to_the_same_ids(text, unit, lowercase):
    assume(apart_within_a_line(WORD.findall(text.lower() if lowercase else text)))
    vocab = build_vocab(text, TextOptions(level="word", unit=unit, lowercase=lowercase))
    ids = vocab.encode(text)
    assert list(vocab.encode(vocab.decode(ids))) == list(ids)


@pytest.mark.parametrize("text", [
    "\"Hello,\" she said (quietly). It's 3.5 o'clock!",
    "\u00bfQu\u00e9? \u00a1S\u00ed! \u00abBonjour\u00bb, \u201cquoted\u201d and \u2018single\u2019 [x] {y}.",
    "Wait\u2026 50% of 1,000 (or so) \"said\" \"twice\".",
    "Stra\u00dfe, na\u0308ive caf\u00e9s: done!",
])
def test_text_tokenized_then_detokenized_comes_back(text):
    assert detokenize(WORD.findall(text)) == text


@pytest.mark.parametrize("tokens, text", [
    (["a", "With", "Our", "and", ";", "senators"], "a With Our and; senators"),
    (["a", "b"], "a b"),
    (["3", "5"], "3 5"),
    (["3", ".", "5"], "3. 5"),
    (["3", ",", "5"], "3, 5"),
    (["don", "'", "t"], "don ' t"),
    (["don", "\u2019", "t"], "don\u2019 t"),
    (["(", "\u0301", ")"], "( \u0301)"),  # a mark would join the bracket's grapheme
    (["\"", "a", "\"", "b", "\"", "c", "\""], "\"a\" b \"c\""),
    (["(", "\"", "a", ".", "\"", ")", "."], "(\"a.\")."),
    ([".", ".", "."], "..."),
    ([], ""),
])
def test_punctuation_joins_its_word_and_words_stay_apart(tokens, text):
    assert detokenize(tokens) == text
    assert WORD.findall(text) == tokens


def test_word_level_decode_joins_each_unit_as_text():
    text = "a With Our and ; senators already That tell never senate men .\n( yes ) !\n"
    lines = build_vocab(text, TextOptions(level="word"))
    assert lines.decode(lines.encode(text)) == "a With Our and; senators already That tell never senate men.\n(yes)!\n"
    text = "x ,\ny .\n\n\" z \""
    paragraphs = build_vocab(text, TextOptions(level="word", unit="paragraph"))
    assert paragraphs.decode(paragraphs.encode(text)) == "x, y.\n\n\"z\"\n\n"


def test_unknown_words_keep_their_spaces():
    vocab = build_vocab("the ( ) .", TextOptions(level="word"))
    assert vocab.decode(vocab.encode("the (dog).")) == f"the ( {UNK} ).\n"
    assert vocab.decode(vocab.encode("the dog.", frame=False)) == f"the {UNK} ."


def test_whitespace_tokens_stay_joined_by_single_spaces():
    vocab = Vocab([UNK, "<s>", "</s>", "(", "x", ")", "."], TextOptions(level="word", tokenize="whitespace"))
    assert vocab.decode(vocab.encode("( x ) .")) == "( x ) .\n"


def test_char_level_decode_is_untouched():
    text = "( x ) . \"a\" , b\n\n( y )"
    for unit in ("line", "paragraph", "document"):
        vocab = build_vocab(text, TextOptions(unit=unit))
        assert vocab.decode(vocab.encode(text)) == text
