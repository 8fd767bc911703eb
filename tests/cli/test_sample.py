"""Bad requests to `seqkit sample`: options without meaning, primes the vocabulary cannot read,
run directories that are not runs, outputs it must not write. One error line each, a non-zero
exit, no traceback, and the run directory left as it was. Every integer option takes 0, -1, 2**63
and 10**30 without a traceback or an allocation of their size."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqkit.cli.main import main
from seqkit.corpora import path as corpus_path
from seqkit.lm import LanguageModel

TINY = ["--hidden", "8", "--layers", "1", "--batch-size", "2", "--seq-len", "8", "--steps", "2",
        "--eval-every", "2", "--sample-length", "0", "--seed", "0"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A char-level and a word-level run trained for two steps: {level: run directory}."""
    root = tmp_path_factory.mktemp("sample")
    corpus = root / "c.txt"
    corpus.write_text(corpus_path().read_text()[:3000])
    made = {}
    for level in ("char", "word"):
        made[level] = root / level
        result = CliRunner().invoke(main, ["train", str(corpus), "-o", str(made[level]), "--level", level, *TINY])
        assert result.exit_code == 0, result.output
    return made


def snapshot(run):
    return {p.name: p.read_bytes() for p in run.iterdir()}


def error_line(result, exit_code):
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize("options, message", [
    (["--temperature", "-0.5"], "temperature must be zero (argmax) or positive and finite, got -0.5"),
    (["--temperature", "nan"], "temperature must be zero (argmax) or positive and finite, got nan"),
    (["--temperature", "inf"], "temperature must be zero (argmax) or positive and finite, got inf"),
    (["--seed", "-1"], "Invalid value for '--seed': -1 is not in the range x>=0"),
    (["--top-p", "0"], "top-p must be in (0, 1], got 0.0"),
    (["--top-p", "1.5"], "top-p must be in (0, 1], got 1.5"),
    (["--top-k", "0"], "top-k must be at least 1, got 0"),
    (["--length", "-3"], "Invalid value for '--length'"),
    (["--temperature", "warm"], "Invalid value for '--temperature'"),
])
def test_meaningless_options_are_usage_errors(runs, options, message):
    before = snapshot(runs["char"])
    assert message in error_line(CliRunner().invoke(main, ["sample", str(runs["char"]), *options]), 2)
    assert snapshot(runs["char"]) == before


def test_a_char_prime_the_vocabulary_lacks_lists_the_characters(runs):
    result = CliRunner().invoke(main, ["sample", str(runs["char"]), "--prime", "Zebra\u20ac", "--seed", "1"])
    line = error_line(result, 1)
    assert "the prime text has characters the vocabulary lacks" in line and "'\u20ac'" in line


def test_a_word_prime_with_unknown_words_warns_and_samples(runs):
    result = CliRunner().invoke(main, ["sample", str(runs["word"]), "--prime", "the zyzzyva",
                                       "--length", "5", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "warning: the prime has words the vocabulary lacks, read as <unk>: zyzzyva" in result.stderr
    assert result.stdout.startswith("the <unk> ")  # the prime as the model read it


def test_run_directories_that_are_not_runs(runs, tmp_path):
    line = error_line(CliRunner().invoke(main, ["sample", str(tmp_path / "nowhere")]), 2)
    assert "does not exist" in line
    assert "is not a seqkit run directory (it has no config.json)" in error_line(
        CliRunner().invoke(main, ["sample", str(tmp_path)]), 1)
    (runs["char"] / "latest.npz").rename(tmp_path / "kept.npz")
    try:
        line = error_line(CliRunner().invoke(main, ["sample", str(runs["char"])]), 1)
    finally:
        (tmp_path / "kept.npz").rename(runs["char"] / "latest.npz")
    assert "holds no checkpoint (latest.npz is missing)" in line


# --- every integer option, at the edges -------------------------------------------------------------------
HUGE = [str(2 ** 63), str(10 ** 30)]


@pytest.mark.parametrize("option, value, message", [
    ("--top-k", "0", "Error: top-k must be at least 1, got 0"),
    ("--top-k", "-1", "Error: top-k must be at least 1, got -1"),
    ("--length", "-1", "Error: Invalid value for '--length': -1 is not in the range x>=0."),
    ("--seed", "-1", "Error: Invalid value for '--seed': -1 is not in the range x>=0."),
    ("--count", "0", "Error: Invalid value for '--count': 0 is not in the range x>=1."),
    ("--count", "-1", "Error: Invalid value for '--count': -1 is not in the range x>=1."),
])
def test_integer_options_out_of_range_are_usage_errors(runs, option, value, message):
    assert error_line(CliRunner().invoke(main, ["sample", str(runs["char"]), option, value]), 2) == message


def sample(run, *options):
    result = CliRunner().invoke(main, ["sample", str(run), *options])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    return result.stdout


@pytest.mark.parametrize("value", HUGE)
def test_a_top_k_beyond_the_vocabulary_draws_from_all_of_it(runs, value):
    assert sample(runs["word"], "--top-k", value, "--length", "30", "--seed", "2") == \
        sample(runs["word"], "--length", "30", "--seed", "2")


@pytest.mark.parametrize("value", ["0", *HUGE])
def test_any_seed_draws_and_draws_again(runs, value):
    text = sample(runs["char"], "--seed", value, "--length", "20")
    assert len(text) > 1 and text == sample(runs["char"], "--seed", value, "--length", "20")


def test_length_zero_prints_the_prime(runs):
    assert sample(runs["char"], "--length", "0", "--prime", "The", "--count", "2") == "The\n\nThe\n"


def seqkit_command(*args):
    return subprocess.Popen([str(Path(sys.executable).with_name("seqkit")), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


@pytest.mark.parametrize("option, value", [(option, value) for option in ("--length", "--count") for value in HUGE])
def test_huge_lengths_and_counts_stream_until_the_reader_stops(runs, option, value):
    """Nothing of count x length is allocated: text comes at once, and a reader that stops (as
    `| head` does) ends the command quietly."""
    process = seqkit_command("sample", str(runs["char"]), "--seed", "1", "--length", "50", option, value)
    try:
        head = process.stdout.read(5000)
        process.stdout.close()
        assert process.wait(60) in (0, 1)
    finally:
        process.kill()
    assert len(head) == 5000 and process.stderr.read() == b""


# --- primes, outputs and checkpoint files --------------------------------------------------------------
def test_prime_and_prime_file_together_are_refused(runs, tmp_path):
    (tmp_path / "p.txt").write_text("The")
    line = error_line(CliRunner().invoke(main, ["sample", str(runs["char"]), "--prime", "a",
                                                "--prime-file", str(tmp_path / "p.txt")]), 2)
    assert line == "Error: --prime and --prime-file both give a prime: use one of them"


def test_a_prime_file_not_in_the_runs_encoding(runs, tmp_path):
    (tmp_path / "p.txt").write_bytes("Caf\u00e9 au lait".encode("latin-1"))
    result = CliRunner().invoke(main, ["sample", str(runs["char"]), "--prime-file", str(tmp_path / "p.txt")])
    line = error_line(result, 1)
    assert line == (f"Error: --prime-file {tmp_path / 'p.txt'} is not utf-8 text, the run's encoding (invalid "
                    f"continuation byte at byte 3): save it as utf-8")


def test_separator_with_jsonl_is_refused(runs):
    line = error_line(CliRunner().invoke(main, ["sample", str(runs["char"]), "--jsonl", "--separator", "--"]), 2)
    assert line == "Error: --separator goes between plain samples and --jsonl writes one a line: drop one"


def test_best_with_a_checkpoint_file_is_refused(runs):
    file = runs["char"] / "latest.npz"
    line = error_line(CliRunner().invoke(main, ["sample", str(file), "--best"]), 2)
    assert line == (f"Error: --best picks best.npz in a run directory, but {file} is a checkpoint file: drop "
                    f"--best, or give the run directory")


def test_files_that_are_not_checkpoints_of_a_run(runs, tmp_path):
    (tmp_path / "latest.npz").write_bytes((runs["char"] / "latest.npz").read_bytes())
    line = error_line(CliRunner().invoke(main, ["sample", str(tmp_path / "latest.npz")]), 1)
    assert line == (f"Error: {tmp_path / 'latest.npz'} is not in a seqkit run directory ({tmp_path} has no "
                    f"config.json): give a checkpoint file where seqkit train wrote it")
    line = error_line(CliRunner().invoke(main, ["sample", str(runs["char"] / "vocab.json")]), 1)
    assert line == (f"Error: {runs['char'] / 'vocab.json'} is not a checkpoint: give a run directory, or its "
                    f"best.npz or latest.npz")


def test_outputs_that_must_not_be_written(runs, tmp_path):
    before = snapshot(runs["char"])
    for name in ("latest.npz", "best.npz", "config.json"):
        line = error_line(CliRunner().invoke(main, ["sample", str(runs["char"]), "-o", str(runs["char"] / name)]), 2)
        assert line == f"Error: -o {runs['char'] / name} would replace a file of the run: write the samples elsewhere"
    assert snapshot(runs["char"]) == before
    line = error_line(CliRunner().invoke(main, ["sample", str(runs["char"]), "-o", str(tmp_path / "no" / "s.txt")]), 2)
    assert line == f"Error: -o {tmp_path / 'no' / 's.txt'}: there is no directory {tmp_path / 'no'} to write it in"


def test_an_error_while_writing_leaves_the_output_as_it_was(runs, tmp_path, monkeypatch):
    real_stream = LanguageModel.stream

    def breaking(self, *args, **kwargs):
        texts = real_stream(self, *args, **kwargs)

        def broken():
            yield next(texts)
            yield next(texts)
            raise ValueError("the model broke")
        return broken()

    monkeypatch.setattr(LanguageModel, "stream", breaking)
    out = tmp_path / "samples.txt"
    out.write_text("kept")
    result = CliRunner().invoke(main, ["sample", str(runs["char"]), "--seed", "1", "-o", str(out)])
    assert error_line(result, 1) == f"Error: the model broke; {out} was left as it was"
    assert out.read_text() == "kept" and os.listdir(tmp_path) == ["samples.txt"]
    result = CliRunner().invoke(main, ["sample", str(runs["char"]), "--seed", "1", "-o", str(tmp_path / "new.txt")])
    assert error_line(result, 1) == f"Error: the model broke; {tmp_path / 'new.txt'} was not written"
    assert os.listdir(tmp_path) == ["samples.txt"]


def test_a_prime_file_too_big_for_the_memory_is_refused_before_reading(runs, tmp_path, monkeypatch):
    import seqkit.cli.sampling
    monkeypatch.setattr(seqkit.cli.sampling, "available_bytes", lambda: 100)
    (tmp_path / "p.txt").write_text("First Citizen")
    result = CliRunner().invoke(main, ["sample", str(runs["char"]), "--prime-file", str(tmp_path / "p.txt")])
    assert error_line(result, 1) == (f"Error: --prime-file {tmp_path / 'p.txt'} is 13 bytes, more than the memory "
                                     f"available (100 bytes) can prime from: give a shorter prime")
