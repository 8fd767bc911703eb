"""TextOptions: the choices of level, tokenizer and unit, each refused by name."""
import pytest

from seqkit.text.options import TextOptions


def test_bad_options_name_the_choices():
    with pytest.raises(ValueError, match="level must be one of char, word, got 'byte'"):
        TextOptions(level="byte")
    with pytest.raises(ValueError, match="tokenize must be one of regex, whitespace, got 'bpe'"):
        TextOptions(level="word", tokenize="bpe")
    with pytest.raises(ValueError, match="unit must be one of line, paragraph, document, got 'sentence'"):
        TextOptions(unit="sentence")
    with pytest.raises(ValueError, match="unknown text options colour"):
        TextOptions.from_dict({"level": "char", "colour": "red"})
