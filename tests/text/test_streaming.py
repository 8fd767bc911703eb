"""The streaming tokenizer (seqkit.text.streaming) gives what Vocab.encode and build_vocab give for
a whole text, however the text comes cut into pieces; labels start every unit; reading a file in
pieces gives read_text's text and errors; the corpus's files are found as seqkit.text.files says;
and the token file written in place (widened, remapped) holds the ids memory holds."""
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared import UNITS, shakespeare

import seqkit
import seqkit.text.corpus
from seqkit.errors import InputError, OptionError
from seqkit.runs.tokenfile import FileSink, Unusable, open_token_file
from seqkit.text.corpus import read_pieces, read_text
from seqkit.text.files import find_files
from seqkit.text.options import BOS_ID, TextOptions
from seqkit.text.streaming import Encoder
from seqkit.text.tokens import MemorySink, encode_files
from seqkit.text.vocab import Vocab, build_vocab

PIECES = ["a", "b", " ", "\n", "\n\n", " \n", "\u0301", "\U0001F469", "\u200d", "\u00e9", "\u0391\u03a3", ".", " <s> ",
          "\t", "1,5", "<unk>"]
TEXT = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
OPTIONS = UNITS + [TextOptions(graphemes=True, unit="line"), TextOptions(graphemes=True, unit="paragraph"),
                   TextOptions(level="word", unit="document")]


def cut(text, sizes):
    """text in pieces of the sizes given, in turn (the rest in one piece)."""
    pieces, at = [], 0
    for size in sizes:
        pieces.append(text[at:at + size])
        at += size
    return pieces + [text[at:]]


def streamed(options, documents, given=None, extend=False):
    """(Vocab, ids) of documents [(pieces, label)] through the Encoder."""
    encoder = Encoder(options)
    ids = [block for pieces, label in documents for block in encoder.document(pieces, label, "doc.txt")]
    vocab, table = encoder.vocab(given, extend)
    return vocab, table[np.concatenate(ids)] if ids else np.zeros(0, np.int64)


@settings(max_examples=60, deadline=None)
@given(TEXT, st.lists(st.integers(0, 7), max_size=12))
def test_streamed_ids_and_vocabulary_are_those_of_the_whole_text(text, sizes):
    for options in OPTIONS:
        vocab, ids = streamed(options, [(cut(text, sizes), None)])
        whole = build_vocab(text, options)
        assert vocab.tokens == whole.tokens
        assert ids.tolist() == whole.encode(text).tolist(), options


def test_caps_and_a_given_vocabulary_are_applied_as_build_vocab_and_fine_tuning_apply_them():
    text = shakespeare(2000)
    for options in (TextOptions(max_vocab=20), TextOptions(level="word", min_count=2)):
        vocab, ids = streamed(options, [([text], None)])
        assert vocab.tokens == build_vocab(text, options).tokens and ids.tolist() == vocab.encode(text).tolist()
    small = build_vocab("First Citizen", TextOptions())
    vocab, ids = streamed(TextOptions(), [([text], None)], given=small)
    assert vocab is small and ids.tolist() == small.encode(text).tolist()
    grown, ids = streamed(TextOptions(), [([text], None)], given=small, extend=True)
    new = [t for t in build_vocab(text, TextOptions()).tokens[3:] if t not in small.index]
    assert grown.tokens == small.tokens + new and ids.tolist() == grown.encode(text).tolist()


@pytest.mark.parametrize("options", [TextOptions(), TextOptions(unit="line"), TextOptions(unit="paragraph"),
                                     TextOptions(graphemes=True, unit="line"), TextOptions(level="word")])
def test_a_label_follows_every_start_of_a_unit_and_reads_as_nothing(options):
    texts = {"poem": "Roses are red,\nviolets blue.\n\nSo are you.", "letter": "Dear sir,\n\nYours."}
    vocab, ids = streamed(options, [([text], label) for label, text in texts.items()])
    assert vocab.tokens[3:5] == ["<label letter>", "<label poem>"] and vocab.labels == {"letter": 3, "poem": 4}
    plain = build_vocab("".join(texts.values()), options)
    expected = []
    for label, text in texts.items():
        for i in plain.encode(text).tolist():
            expected += [vocab.index[plain.tokens[i]]] + ([vocab.labels[label]] if i == BOS_ID else [])
    assert ids.tolist() == expected
    assert vocab.decode(ids) == plain.decode(np.concatenate([plain.encode(text) for text in texts.values()]))


def test_labels_by_line_prefix_and_their_errors():
    options = TextOptions(label_from="prefix")
    vocab, ids = streamed(options, [(["poem\tab\n", "\nletter\tc", "d\npoem\t\n"], None)])
    tokens = [vocab.tokens[i] for i in ids]
    assert tokens == ["<s>", "<label poem>", "a", "b", "</s>", "<s>", "<label letter>", "c", "d", "</s>",
                      "<s>", "<label poem>", "</s>"]  # the empty line is skipped, the empty text kept
    assert options.resolved_unit == "line"
    with pytest.raises(InputError, match=r"doc.txt line 2 has no tab: with label_from=prefix each line is "):
        streamed(options, [(["poem\tab\nno label here\n"], None)])
    with pytest.raises(InputError, match=r"doc.txt line 1: the label '' is empty"):
        streamed(options, [(["\ttext\n"], None)])
    with pytest.raises(InputError, match=r"the label 'a\\tb' contains a tab"):
        streamed(TextOptions(), [(["text"], "a\tb")])
    with pytest.raises(OptionError, match="label_from=prefix labels each line, so the unit is the line"):
        TextOptions(label_from="prefix", unit="paragraph")
    known = Vocab(["<unk>", "<s>", "</s>", "<label poem>", "a"], options)
    with pytest.raises(InputError, match=r"the label 'letter' is not one the vocabulary knows \(its labels: poem\)"):
        streamed(options, [(["letter\ta\n"], None)], given=known)


# --- reading files in pieces ----------------------------------------------------------------------------
@pytest.mark.parametrize("data", ["\ufeffone\r\ntwo\rthree\r".encode(), "caf\u00e9 \u00e9\u00e9\r\n".encode() * 5])
def test_pieces_join_into_read_text_however_the_bytes_are_cut(tmp_path, monkeypatch, data):
    path = tmp_path / "c.txt"
    path.write_bytes(data)
    for size in (1, 2, 3, 5):
        monkeypatch.setattr(seqkit.text.corpus, "PIECE", size)
        assert "".join(read_pieces(path)) == read_text(path)


@pytest.mark.parametrize("data, phrase", [
    (b"abc\xff\xfedef" * 3, "is not utf-8 text (invalid start byte at byte 3)"),
    (b"ab\xc3", "is not utf-8 text (unexpected end of data at byte 2)"),
    (b"", "is empty"), (b" \n\t", "holds only whitespace"),
    (b"text\x00", "looks like a binary file, not text (a NUL character at character 4)"),
])
def test_pieces_stop_with_read_texts_errors(tmp_path, monkeypatch, data, phrase):
    path = tmp_path / "c.txt"
    path.write_bytes(data)
    monkeypatch.setattr(seqkit.text.corpus, "PIECE", 2)
    with pytest.raises(InputError, match=phrase.replace("(", r"\(").replace(")", r"\)")):
        list(read_pieces(path))
    with pytest.raises(InputError, match=phrase.replace("(", r"\(").replace(")", r"\)")):
        read_text(path)


def test_a_file_that_changes_or_goes_while_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "c.txt"
    path.write_text("x" * 100)
    monkeypatch.setattr(seqkit.text.corpus, "PIECE", 10)
    listed = find_files([path]).files[0].listed
    pieces = read_pieces(path, listed=listed)
    next(pieces)
    with open(path, "a") as file:
        file.write("more")
    with pytest.raises(InputError, match=f"{path} changed while it was read \\(100 bytes when it was found, 104 now\\)"):
        list(pieces)
    pieces = read_pieces(path, listed=find_files([path]).files[0].listed)
    next(pieces)
    path.unlink()
    with pytest.raises(InputError, match=f"{path} was removed while it was read"):
        list(pieces)
    with pytest.raises(InputError, match=f"{path} is gone: it was removed after it was found"):
        list(read_pieces(path, listed=listed))


# --- finding the files ------------------------------------------------------------------------------------
def test_files_are_found_in_sorted_order_and_what_is_not_text_is_counted(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.txt").write_text("two")
    (tmp_path / "a.txt").write_text("one")
    (tmp_path / ".hidden.txt").write_text("hidden")
    (tmp_path / "b" / "image.png").write_bytes(bytes(range(256)))
    (tmp_path / "b" / "empty.txt").write_text("")
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "b" / "link.txt").symlink_to(tmp_path / "a.txt")  # the same file twice: read once
    found = find_files([tmp_path])
    assert [f.path for f in found.files] == [str(tmp_path / "a.txt"), str(tmp_path / "b" / "two.txt")]
    assert found.skipped == 4
    assert [f.path for f in find_files([str(tmp_path / "**" / "*.txt")]).files] == [str(tmp_path / "a.txt"),
                                                                                     str(tmp_path / "b" / "two.txt")]


def test_what_cannot_be_a_corpus_is_refused_with_one_line(tmp_path):
    with pytest.raises(OptionError, match=f"'{tmp_path / 'none.txt'}' does not exist"):
        find_files([tmp_path / "none.txt"])
    with pytest.raises(OptionError, match="no file matches"):
        find_files([str(tmp_path / "*.md")])
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match="pipe is a FIFO \\(named pipe\\), not a regular file"):
        find_files([tmp_path / "pipe"])
    with pytest.raises(InputError, match="/dev/null is a character device, not a regular file"):
        find_files(["/dev/null"])
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(InputError, match="loop is a symbolic link loop: it leads back to itself"):
        find_files([tmp_path / "loop"])
    (tmp_path / "loop").unlink()
    (tmp_path / "pipe").unlink()
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "up").symlink_to(tmp_path)
    with pytest.raises(InputError, match=f"d/up is a symbolic link loop: it leads back to {tmp_path}"):
        find_files([tmp_path])


def test_labels_by_folder(tmp_path):
    for folder, name in (("poems", "a.txt"), ("poems", "b.txt"), ("letters/old", "c.txt")):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / name).write_text("text")
    found = find_files([tmp_path], label_from="dir")
    assert [(os.path.basename(f.path), f.label) for f in found.files] == [("c.txt", "letters/old"), ("a.txt", "poems"),
                                                                          ("b.txt", "poems")]
    (tmp_path / "loose.txt").write_text("text")
    with pytest.raises(InputError, match=f"loose.txt is not in a folder of {tmp_path}: with label_from=dir each file"):
        find_files([tmp_path], label_from="dir")
    with pytest.raises(InputError, match="is a file, but label_from=dir labels each file by its folder"):
        find_files([tmp_path / "loose.txt"], label_from="dir")
    (tmp_path / "loose.txt").unlink()
    (tmp_path / "tab\there").mkdir()
    (tmp_path / "tab\there" / "d.txt").write_text("text")
    with pytest.raises(InputError, match=r"names the label 'tab\\there', which contains a tab: rename the folder"):
        find_files([tmp_path], label_from="dir")


# --- the token file ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [TextOptions(), TextOptions(level="word", max_vocab=30)])
def test_a_token_file_holds_the_ids_memory_holds_widened_and_narrowed_in_place(tmp_path, options):
    """300 distinct characters widen the provisional ids from one byte to two part way; a word
    vocabulary capped below 256 narrows them back at the end."""
    path = tmp_path / "c.txt"
    path.write_text(shakespeare(3000) + "".join(chr(0x4E00 + i) for i in range(300)) + shakespeare(500))
    files = find_files([path]).files
    vocab, ids, _, documents, records = encode_files(files, options, MemorySink())
    mapped_vocab, mapped, where, mapped_documents, _ = encode_files(files, options, FileSink(tmp_path / "cache", "k"))
    assert mapped_vocab.tokens == vocab.tokens and mapped.dtype == ids.dtype and np.array_equal(mapped, ids)
    assert mapped_documents == documents and where == str(tmp_path / "cache" / "k.tokens")
    again, again_vocab, _ = open_token_file(where, records, vocab)
    assert np.array_equal(again, ids) and again_vocab.tokens == vocab.tokens
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.endswith(".tmp")]


def test_a_token_file_that_cannot_serve_says_why(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(shakespeare(1000))
    files = find_files([path]).files
    vocab, _, where, _, records = encode_files(files, TextOptions(), FileSink(tmp_path, "k"))
    with pytest.raises(Unusable, match="it holds other files"):
        open_token_file(where, [{**records[0], "sha256": "0" * 64}])
    with pytest.raises(Unusable, match="it was tokenized with another vocabulary"):
        open_token_file(where, records, build_vocab("abc", TextOptions()))
    data = bytearray(open(where, "rb").read())
    open(where, "wb").write(data[:-10])
    with pytest.raises(Unusable):
        open_token_file(where, records)
    version = f'"seqkit_version": "{seqkit.__version__}"'.encode()
    open(where, "wb").write(data.replace(version, version[:-len(seqkit.__version__) - 1] + b"9" * len(seqkit.__version__)
                                         + b'"'))
    with pytest.raises(Unusable, match="it was written by seqkit 9+, whose tokenizer may differ"):
        open_token_file(where, records)


def test_a_killed_writers_temporary_file_is_removed_and_a_writing_ones_kept(tmp_path):
    import fcntl
    import time

    from seqkit.runs.tokenfile import STALE_AFTER, remove_stale
    killed, writing = tmp_path / ".k1.tokens.abc.tmp", tmp_path / ".k2.tokens.def.tmp"
    killed.write_bytes(b"half")
    writing.write_bytes(b"half")
    old = time.time() - 2 * STALE_AFTER
    for path in (killed, writing):
        os.utime(path, (old, old))
    with open(writing, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        remove_stale(tmp_path)
    assert not killed.exists() and writing.exists()
