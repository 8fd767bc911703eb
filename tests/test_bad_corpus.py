"""Bad corpora given to `seqkit train`: each gets one line naming the file and the problem, a
non-zero exit and no traceback, and leaves no half-made run behind. BOM and CRLF are no error."""
import json

import pytest
from click.testing import CliRunner

from seqkit.cli.main import main
from seqkit.corpora import path as corpus_path

TINY = ["--hidden", "8", "--layers", "1", "--batch-size", "2", "--seq-len", "8", "--steps", "1",
        "--sample-length", "0", "--seed", "0"]
TEXT = corpus_path().read_text()[:3000]


def train(tmp_path, corpus, *options):
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", str(corpus), "-o", str(run), *TINY, *options])
    return result, run


def refused(result, run, exit_code, *phrases):
    """Exit code as given, one "Error: " line holding each phrase (a usage error, exit 2, comes
    after click's usage hint), no traceback, and no run directory started."""
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and (exit_code == 2 or len(lines) == 1), result.stderr
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in errors[0]
    assert not (run / "config.json").exists()


def test_a_missing_path_and_a_directory(tmp_path):
    result, run = train(tmp_path, tmp_path / "nowhere.txt")
    refused(result, run, 2, "nowhere.txt", "does not exist")
    result, run = train(tmp_path, tmp_path)
    refused(result, run, 2, "is a directory")


@pytest.mark.parametrize("content, phrase", [(b"", "is empty"), (b"  \n\t\n\r\n  ", "holds only whitespace")])
def test_empty_and_whitespace_only_files(tmp_path, content, phrase):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(content)
    result, run = train(tmp_path, corpus)
    refused(result, run, 1, str(corpus), phrase)


def test_a_corpus_shorter_than_one_chunk_says_how_long_it_must_be(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("To be, or not to be.")
    result, run = train(tmp_path, corpus, "--batch-size", "4", "--seq-len", "50")
    refused(result, run, 1, "--batch-size 4 streams of --seq-len 50 need at least 204")


@pytest.mark.parametrize("content, options", [
    (TEXT[:1000].encode() + b"\x00\x01\x02" + TEXT[1000:].encode(), []),  # NUL bytes in text
    (bytes(range(256)) * 40, ["--encoding", "latin-1"]),  # a binary blob decodes as latin-1
])
def test_binary_files_are_refused(tmp_path, content, options):
    corpus = tmp_path / "blob.bin"
    corpus.write_bytes(content)
    result, run = train(tmp_path, corpus, *options)
    refused(result, run, 1, str(corpus), "looks like a binary file")


def test_a_char_vocabulary_over_the_bound_needs_max_vocab(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(chr(0x4E00 + i) for i in range(10_000)) * 2)  # CJK ideographs: at the bound
    result, _ = train(tmp_path / "at", corpus)
    assert result.exit_code == 0, result.output
    corpus.write_text("".join(chr(0x4E00 + i) for i in range(10_500)) * 2)
    result, run = train(tmp_path, corpus)
    refused(result, run, 1, str(corpus), "has 10,500 distinct characters, more than the 10,000", "--max-vocab")
    result, run = train(tmp_path, corpus, "--max-vocab", "10500")
    assert result.exit_code == 0, result.output
    assert len(json.loads((run / "vocab.json").read_text())["tokens"]) == 10_503


def test_invalid_bytes_name_their_offset_and_the_way_out(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(TEXT[:2000].encode() + b"\xff\xfe" + TEXT[2000:].encode())
    result, run = train(tmp_path, corpus)
    refused(result, run, 1, str(corpus), "is not utf-8 text", "at byte 2000", "--encoding-errors replace")
    result, run = train(tmp_path, corpus, "--encoding-errors", "replace")
    assert result.exit_code == 0, result.output
    assert "\ufffd" in json.loads((run / "vocab.json").read_text())["tokens"]


def test_an_unknown_encoding(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    result, run = train(tmp_path, corpus, "--encoding", "klingon")
    refused(result, run, 1, "unknown text encoding 'klingon'")


def test_a_bom_and_crlf_line_endings_are_read_as_plain_text(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(b"\xef\xbb\xbf" + TEXT.replace("\n", "\r\n").encode())
    result, run = train(tmp_path, corpus)
    assert result.exit_code == 0, result.output
    tokens = json.loads((run / "vocab.json").read_text())["tokens"]
    assert "\ufeff" not in tokens and "\r" not in tokens
