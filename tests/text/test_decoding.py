"""Decoding ids into text (seqkit.text.decoding, through Vocab.decode): each word-level unit joined
as text, unknown words and pre-tokenized words spaced, the char level untouched. (A piece at a time:
test_properties.py.)"""
from seqkit.text.options import UNK, TextOptions
from seqkit.text.vocab import Vocab, build_vocab


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
