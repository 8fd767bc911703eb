"""The text layer's properties, by hypothesis: tokenizers round-trip arbitrary Unicode (combining
marks, emoji, right-to-left scripts), detokenized words tokenize back to the same tokens, and the
streaming joiner and decoder give what joining and decoding at once give."""
import functools

import regex
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shared import UNITS, shakespeare

from seqkit.text.decoding import Decoder
from seqkit.text.options import TextOptions
from seqkit.text.vocab import build_vocab
from seqkit.text.words import WORD, Joiner, detokenize

# Arbitrary text without surrogates, mixed with marks, joiners, emoji and right-to-left letters.
MIXED = st.sampled_from(["\u0301", "\u0308", "\u200d", "\U0001F469", "\U0001F3FD", "\U0001F44D", "\u05e9",
                         "\u05dc", "\u0645", "\u0631", "\u200f", " ", "\n", "\r", "\t", "a", "Z", "1"])
ANY_TEXT = st.lists(st.one_of(st.text(min_size=1, max_size=3), MIXED), max_size=60).map("".join)

# Text made of what the word tokenizer tells apart: words, numbers, punctuation, spaces.
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
WORDY_TEXT = st.lists(PIECES, max_size=40).map("".join)
UNIT = st.sampled_from(["line", "paragraph", "document"])

# A grapheme takes in whatever follows a Prepend character (U+0600 ARABIC NUMBER SIGN, ...) but a
# line break, so a token ending in one and the next come back apart only across lines.
PREPEND_END = regex.compile(r"\p{Grapheme_Cluster_Break=Prepend}\Z")


def apart_within_a_line(tokens):
    return not any(PREPEND_END.search(token) for token in tokens[:-1])


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT, UNIT, st.booleans())
def test_char_level_round_trips_any_text_exactly(text, unit, graphemes):
    vocab = build_vocab(text, TextOptions(unit=unit, graphemes=graphemes))
    assert vocab.decode(vocab.encode(text)) == text
    assert not vocab.unknown(text)


@settings(max_examples=500, deadline=None)
@given(st.one_of(WORDY_TEXT, ANY_TEXT), st.sampled_from(["regex", "whitespace"]), UNIT, st.booleans())
def test_decoded_words_encode_back_to_the_same_ids(text, tokenize, unit, lowercase):
    """Decoding joins words by its own rule (spaces, or detokenize's), so text itself does not
    come back; what does is every token: encoding the decoded text gives the same ids."""
    read = text.lower() if lowercase else text
    if tokenize == "regex":
        assume(apart_within_a_line(WORD.findall(read)))
    else:  # pre-tokenized text spells the special tokens literally: a word "<s>" there is <s>
        assume(not {"<s>", "</s>"} & set(read.split()))
    vocab = build_vocab(text, TextOptions(level="word", tokenize=tokenize, unit=unit, lowercase=lowercase))
    ids = vocab.encode(text)
    assert list(vocab.encode(vocab.decode(ids))) == list(ids)


@settings(max_examples=300, deadline=None)
@given(WORDY_TEXT)
def test_detokenized_text_tokenizes_back_to_the_same_tokens(text):
    tokens = WORD.findall(text)
    assume(apart_within_a_line(tokens))
    assert WORD.findall(detokenize(tokens)) == tokens


WORDY = st.lists(st.one_of(st.sampled_from(['"', "'", "(", ")", ".", ",", "3", "5", "\u00bf", "\u201c", "\u201d",
                                            "-", "a", "b", "o'er", "<unk>"]),
                           st.text("ab.,'\"(", min_size=1, max_size=3)), max_size=30)


@settings(max_examples=300, deadline=None)
@given(WORDY)
def test_the_joiner_is_detokenize_a_token_at_a_time(tokens):
    joiner, spaces = Joiner(), Joiner(spaces_only=True)
    assert "".join(joiner.add(t) for t in tokens) == detokenize(tokens)
    assert "".join(spaces.add(t) for t in tokens) == " ".join(tokens)


@functools.cache
def vocabularies():
    """A vocabulary of each of UNITS, which knows every character the text below draws from."""
    return [build_vocab(shakespeare() + "\"'()3\u00bf", options) for options in UNITS]


@settings(max_examples=100, deadline=None)
@given(st.text(st.sampled_from("ab .,\"'()\n3"), max_size=60), st.integers(1, 7))
def test_decoding_a_piece_at_a_time_is_decoding_at_once(text, size):
    for vocab in vocabularies():
        ids = vocab.encode(text)
        decoder = Decoder(vocab)
        pieces = [decoder.decode(ids[i:i + size], final=False) for i in range(0, len(ids), size)] + [decoder.decode([])]
        assert "".join(pieces) == vocab.decode(ids)
