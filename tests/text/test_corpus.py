"""Reading a corpus: a BOM dropped, line endings normalised, other encodings by name; the shipped text."""
import pytest

from seqkit.corpora import path as corpus_path
from seqkit.text.corpus import read_text
from seqkit.text.options import TextOptions
from seqkit.text.vocab import build_vocab


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
    vocab = build_vocab(text, TextOptions(unit="document"))
    assert len(set(text)) == 65 and set(vocab.tokens[3:]) == set(text) and len(vocab) == 65 + 3
    ids = vocab.encode(text)
    assert len(ids) == len(text) + 2 and vocab.decode(ids) == text
    # By line, the default: "\n" is no token, </s> <s> stand for it.
    vocab = build_vocab(text, TextOptions())
    assert set(vocab.tokens[3:]) == set(text) - {"\n"} and len(vocab) == 64 + 3
    ids = vocab.encode(text)
    assert len(ids) == len(text) + 2 + text.count("\n") and vocab.decode(ids) == text
