"""The seqkit command through click's CliRunner on tiny corpora: exact messages, exit codes,
files written, and stdout holding only generated text."""
import json
import re

import pytest
from click.testing import CliRunner

from seqkit.cli.main import main
from seqkit.corpora import path as corpus_path

TINY = ["--hidden", "16", "--layers", "1", "--batch-size", "2", "--seq-len", "8", "--seed", "0",
        "--sample-length", "20"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run trained once for the tests that read it: (run directory, corpus path)."""
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "tiny.txt"
    corpus.write_text(corpus_path().read_text()[:2000])
    run = root / "run"
    result = CliRunner().invoke(main, ["train", str(corpus), "-o", str(run), "--steps", "6",
                                       "--eval-every", "3", *TINY])
    assert result.exit_code == 0, result.output
    return run, corpus, result


def test_train_writes_the_run_directory_and_reports(trained):
    run, _, result = trained
    assert {p.name for p in run.iterdir()} >= {"config.json", "vocab.json", "latest.npz", "best.npz",
                                               "metrics.jsonl"}
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "eval"] == [3, 6]
    assert all(r["val_perplexity"] > 1 for r in records if r["kind"] == "eval")
    assert result.stdout == ""
    assert re.search(r"step 3  epoch 0  train loss \d+\.\d{4}  val loss \d+\.\d{4}  ppl [\d.]+  bpc [\d.]+",
                     result.stderr)
    assert f"stopped: --steps 6 reached at step 6; sample from it with: seqkit sample {run}" in result.stderr
    assert re.search(r"\(52 tokens in the vocabulary, [\d,]+ parameters, seed 0\)", result.stderr)
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["hidden"] == 16 and config["seqkit_version"]


def test_sample_prints_only_text_continuing_the_prime(trained):
    run, _, _ = trained
    result = CliRunner().invoke(main, ["sample", str(run), "--length", "40", "--prime", "First", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("First")
    assert result.stderr == ""
    again = CliRunner().invoke(main, ["sample", str(run), "--length", "40", "--prime", "First", "--seed", "5"])
    assert again.stdout == result.stdout


def test_sample_count_and_argmax(trained):
    run, _, _ = trained
    result = CliRunner().invoke(main, ["sample", str(run), "--length", "30", "--count", "3",
                                       "--temperature", "0"])
    assert result.exit_code == 0, result.output
    samples = result.stdout.rstrip("\n").split("\n\n")
    assert len(samples) == 3 and len(set(samples)) == 1  # argmax is deterministic


def test_sample_defaults_to_the_latest_run_under_runs(trained, tmp_path, monkeypatch):
    run, corpus, _ = trained
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["train", str(corpus), "--steps", "2", "--eval-every", "2", *TINY])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["sample", "--length", "10", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "using runs/tiny\n"
    second = CliRunner().invoke(main, ["train", str(corpus), "--steps", "2", "--eval-every", "2", *TINY])
    assert "into runs/tiny-2" in second.stderr


@pytest.mark.parametrize("option, message", [
    (["--temperature", "-1"], "temperature must be zero (argmax) or positive and finite, got -1.0"),
    (["--top-p", "1.5"], "top-p must be in (0, 1], got 1.5"),
    (["--top-k", "0"], "top-k must be at least 1, got 0"),
])
def test_sample_refuses_meaningless_options(trained, option, message):
    run, _, _ = trained
    result = CliRunner().invoke(main, ["sample", str(run), *option])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_sample_refuses_prime_characters_outside_the_vocabulary(trained):
    run, _, _ = trained
    result = CliRunner().invoke(main, ["sample", str(run), "--prime", "First ü"])
    assert result.exit_code == 1
    assert "Error: the prime text has characters the vocabulary lacks: 'ü'" in result.stderr


def test_eval_counts_every_predicted_token(trained, tmp_path):
    run, _, _ = trained
    text = "First Citizen:\nWe are accounted poor citizens.\n"
    held_out = tmp_path / "held_out.txt"
    held_out.write_text(text)
    result = CliRunner().invoke(main, ["eval", str(run), str(held_out)])
    assert result.exit_code == 0, result.output
    # char level, one document: every character is predicted, and </s>; <s> never is.
    assert re.fullmatch(rf"loss \d+\.\d{{4}} nats/token  perplexity [\d.]+  bits/char \d+\.\d{{4}}  "
                        rf"over {len(text) + 1} tokens\n", result.stdout)


def test_train_refuses_to_overwrite_a_run(trained):
    run, corpus, _ = trained
    before = (run / "latest.npz").read_bytes()
    result = CliRunner().invoke(main, ["train", str(corpus), "-o", str(run), "--steps", "1"])
    assert result.exit_code == 2
    assert f"{run} already holds a run: continue it with --resume {run}" in result.stderr
    assert (run / "latest.npz").read_bytes() == before


def test_resume_refuses_architecture_changes(trained):
    run, _, _ = trained
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--hidden", "32"])
    assert result.exit_code == 2
    assert ("Error: a resumed run keeps its model, tokenizer, data, batch and optimizer, so --hidden cannot change; "
            "it can change --epochs, --steps, --time, --lr,") in result.stderr


def test_resume_continues_to_more_steps(trained, tmp_path):
    run, corpus, _ = trained
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in run.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    result = CliRunner().invoke(main, ["train", "--resume", str(copy), "--steps", "8"])
    assert result.exit_code == 0, result.output
    assert f"resuming {copy} at step 6" in result.stderr
    assert "stopped: --steps 8 reached at step 8" in result.stderr


def test_missing_corpus_is_a_usage_error():
    result = CliRunner().invoke(main, ["train", "no/such/file.txt"])
    assert result.exit_code == 2
    assert "'no/such/file.txt' does not exist" in result.stderr


def test_a_corpus_too_short_for_its_chunks_says_how_long_it_must_be(tmp_path):
    corpus = tmp_path / "short.txt"
    corpus.write_text("To be, or not to be, that is the question.\n")
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", str(corpus), "-o", str(run), "--batch-size", "4",
                                       "--seq-len", "10"])
    assert result.exit_code == 1
    assert re.fullmatch(r"Error: the training text has \d+ tokens, but --batch-size 4 streams of --seq-len 10 "
                        r"need at least 44: use a longer corpus or lower those options\n", result.stderr)
    assert not run.exists()


def test_train_refuses_a_run_directory_another_process_is_writing(trained):
    """--resume on a run whose lock is held (as by a training process) exits with 1 and one
    line naming the directory, and touches none of its files."""
    from seqkit.runs.directory import lock_run_dir
    run, _, _ = trained
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    lock = lock_run_dir(run)
    try:
        result = CliRunner().invoke(main, ["train", "--resume", str(run), "--steps", "9"])
    finally:
        lock.close()
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {run} is in use by another seqkit train (it holds {run / '.lock'}): wait for that "
        f"one to finish, or train into another directory with -o"]
    assert "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
