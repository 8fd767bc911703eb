"""Bad requests to `seqkit sample`: options without meaning, primes the vocabulary cannot read,
run directories that are not runs. One error line each, a non-zero exit, no traceback, and the
run directory left as it was."""
import pytest
from click.testing import CliRunner

from seqkit.cli.main import main
from seqkit.corpora import path as corpus_path

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
