"""`seqkit eval [RUN] TEXT_FILE` through the command line: the loss over every predicted token,
the tokens the vocabulary lacks said, JSON, the latest run by default, and arguments that are not
what it takes said plainly."""
import json
import os
import re

import pytest
from shared import invoke


def test_eval_counts_every_predicted_token(char_run, tmp_path):
    text = "First Citizen:\nWe are accounted poor citizens.\n"
    held_out = tmp_path / "held_out.txt"
    held_out.write_text(text)
    result = invoke("eval", char_run, held_out)
    assert result.exit_code == 0, result.output
    # char level, one document: every character is predicted, and </s>; <s> never is.
    assert re.fullmatch(rf"loss \d+\.\d{{4}} nats/token  perplexity [\d.]+  bits/char \d+\.\d{{4}}  "
                        rf"over {len(text) + 1} tokens\n", result.stdout)


def test_eval_says_how_many_tokens_the_vocabulary_lacks_and_which_characters(char_run, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("First Citizen: héllo ßß\n")
    result = invoke("eval", char_run, text)
    assert result.exit_code == 0, result.output
    assert result.stderr == (f"warning: 3 of the 25 tokens in {text} are not in the vocabulary and count "
                             f"as <unk>: 'é' 'ß'\n")
    assert result.stdout.endswith("over 25 tokens\n")


def test_eval_json_and_the_latest_run_by_default(char_run, tmp_path, monkeypatch):
    """The shared run is the one run under its runs/ directory."""
    text = tmp_path / "text.txt"
    text.write_text("First Citizen:\n")
    named = json.loads(invoke("eval", char_run, text, "--json").stdout)
    monkeypatch.chdir(char_run.parent.parent)
    result = invoke("eval", text, "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"using {char_run.relative_to(char_run.parent.parent)}\n"
    assert json.loads(result.stdout) == named
    assert set(named) == {"loss", "perplexity", "bits_per_char", "tokens", "unknown_tokens", "text_file"}
    assert named["tokens"] == 16 and named["unknown_tokens"] == 0 and named["perplexity"] > 1


def test_eval_names_the_argument_that_is_missing(char_run, tmp_path):
    result = invoke("eval", char_run, tmp_path / "none.txt")
    assert result.exit_code == 2
    assert f"Error: Invalid value for TEXT_FILE: '{tmp_path / 'none.txt'}' does not exist" in result.stderr
    assert "Error: expected [RUN] TEXT_FILE, got 3 arguments" in invoke("eval", "a", "b", "c").stderr


def test_run_arguments_that_are_not_runs_are_said_plainly(char_run, tmp_path):
    alone = invoke("eval", char_run)
    assert alone.exit_code == 2
    assert f"Error: expected [RUN] TEXT_FILE: {char_run} is a directory; give the text to evaluate after it" in alone.stderr
    text = tmp_path / "t.txt"
    text.write_text("First")
    best_file = invoke("eval", "--best", char_run / "latest.npz", text)
    assert best_file.exit_code == 2 and "Error: --best picks best.npz in a run directory, but" in best_file.stderr


@pytest.mark.parametrize("command", [["eval"], ["show"], ["sample", "--prime-file"]])
def test_a_device_or_a_fifo_is_refused_by_name_before_it_is_read(char_run, tmp_path, command):
    """/dev/zero would be read without end (gigabytes within seconds), a FIFO opened would block."""
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    what = "prime file" if "--prime-file" in command else "text file"
    for path, kind in (("/dev/zero", "a device"), (fifo, "a FIFO")):
        result = invoke(command[0], char_run, *command[1:], path)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.stderr.strip().splitlines()[-1] == f"Error: {path} is {kind}, not a {what}: give a regular file"


def test_a_text_too_large_for_memory_is_refused_before_it_is_read(char_run, corpus, monkeypatch):
    import seqkit.cli.common
    monkeypatch.setattr(seqkit.cli.common, "available_bytes", lambda: 1000)
    result = invoke("eval", char_run, corpus)
    assert result.exit_code == 1
    assert f"Error: {corpus} is {corpus.stat().st_size:,} bytes, more than the memory available" in result.stderr
