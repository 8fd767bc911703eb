"""Word-level detokenisation: decoded words read as text, punctuation against its word, and the
text the tokenizer produced tokenizes back to the same tokens. (Properties: test_properties.py.)"""
import pytest

from seqkit.text.words import WORD, detokenize


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
