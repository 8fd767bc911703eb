"""`seqkit score [RUN] TEXT_FILE` through the command line: one JSON line per line (or --unit) of
the file with what the library's score gives it, empty lines left out but counted in the index,
--sort by loss, --tokens with --top alternatives, the tokens the vocabulary lacks said as eval
says them; and the files and arguments it refuses, as eval refuses them."""
import json

import pytest
from shared import invoke

import seqkit

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nzqzqx qzx\n"


def records(result):
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text(TEXT)
    return path


def test_each_line_gets_what_the_library_gives_it(char_run, text):
    found = records(invoke("score", char_run, text))
    lines = [line for line in TEXT.split("\n")[:-1]]
    assert [r["index"] for r in found] == [0, 1, 3, 4]  # the empty line left out, still counted
    assert [r["text"] for r in found] == [lines[i] for i in (0, 1, 3, 4)]
    expected = seqkit.load(char_run).score([lines[i] for i in (0, 1, 3, 4)])
    for record, library in zip(found, expected):
        assert {k: v for k, v in record.items() if k != "index"} == library
        assert set(record) == {"index", "text", "tokens", "logprob", "loss", "perplexity", "unknown_tokens"}
        assert record["tokens"] == len(record["text"]) + 1  # every character, and </s>


def test_sort_orders_by_loss_and_tokens_gives_each_tokens_details(char_run, text):
    found = records(invoke("score", char_run, text, "--sort"))
    assert [r["loss"] for r in found] == sorted(r["loss"] for r in found)
    detailed = records(invoke("score", char_run, text, "--tokens", "--top", "2"))
    first = detailed[0]["per_token"]
    assert [t["token"] for t in first] == list("First Citizen:") + ["</s>"]
    assert all(len(t["top"]) == 2 and t["rank"] >= 1 for t in first)
    assert sum(t["logprob"] for t in first) == pytest.approx(detailed[0]["logprob"])


def test_units_as_in_train(word_run, text):
    paragraphs = records(invoke("score", word_run, text, "--unit", "paragraph"))
    assert [r["text"] for r in paragraphs] == ["First Citizen:\nBefore we proceed any further, hear me speak.",
                                               "All:\nzqzqx qzx"]
    (whole,) = records(invoke("score", word_run, text, "--unit", "document"))
    assert whole["text"] == TEXT[:-1] and whole["index"] == 0


def test_tokens_the_vocabulary_lacks_are_said_as_eval_says_them(char_run, tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("First Citizen: h\u00e9llo \u00df\u00df\n")
    result = invoke("score", char_run, path)
    (record,) = records(result)
    assert record["unknown_tokens"] == 3
    # eval's words, over the 23 characters and </s> of the one line (eval also counts the empty line after it)
    assert result.stderr == (f"warning: 3 of the 24 tokens in {path} are not in the vocabulary and count "
                             f"as <unk>: '\u00e9' '\u00df'\n")


@pytest.mark.parametrize("content, message", [
    (b"", "is empty: give a file with text in it"),
    (b"\n\n  \n", "holds only whitespace: give a file with text in it"),
    (b"abc\x00def", "looks like a binary file, not text (a NUL character at character 3): give a text file"),
])
def test_files_that_are_not_text_are_refused_as_eval_refuses_them(char_run, tmp_path, content, message):
    path = tmp_path / "t.txt"
    path.write_bytes(content)
    for command in ("score", "eval"):
        result = invoke(command, char_run, path)
        assert result.exit_code == 1 and result.stdout == ""
        assert result.stderr.strip() == f"Error: {path} {message}"


def test_arguments_that_are_not_what_it_takes(char_run, tmp_path):
    result = invoke("score", char_run, tmp_path / "none.txt")
    assert result.exit_code == 2
    assert f"Error: Invalid value for TEXT_FILE: '{tmp_path / 'none.txt'}' does not exist" in result.stderr
    alone = invoke("score", char_run)
    assert alone.exit_code == 2 and (f"Error: expected [RUN] TEXT_FILE: {char_run} is a directory; give the text to "
                                     f"score after it") in alone.stderr
    assert "Error: Invalid value for '--top': 0 is not in the range x>=1." in invoke("score", char_run, char_run / "config.json",
                                                                                    "--top", "0").stderr
