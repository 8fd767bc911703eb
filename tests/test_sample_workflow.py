"""`seqkit sample` as people use it, through the command: the length asked for is the length
drawn, through the ends of lines; --stop-at-end for one line; checkpoint files as RUN; several
samples with a separator or as JSON lines, each with a seed that draws it again alone; a prime
from a file; -o FILE; a seed said when none is given; and Ctrl-C keeping what was drawn."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import seqkit
from seqkit.cli.main import main
from seqkit.corpora import path as corpus_path
from seqkit.text.options import BOS_ID, EOS_ID

TINY = ["--hidden", "16", "--layers", "1", "--batch-size", "4", "--seq-len", "16", "--sample-length", "0",
        "--seed", "0", "--lr", "0.02"]
STEPS = {"char": ["--unit", "line", "--steps", "4", "--eval-every", "4"],
         "word": ["--steps", "100", "--eval-every", "100"]}  # enough to learn where lines end


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A char-level run framing lines and a word-level one (lines too, its default): {level: dir}."""
    root = tmp_path_factory.mktemp("workflow")
    corpus = root / "c.txt"
    corpus.write_text(corpus_path().read_text()[:4000])
    made = {"char": root / "char", "word": root / "word"}
    for level in made:
        result = CliRunner().invoke(main, ["train", str(corpus), "-o", str(made[level]), "--level", level,
                                           *STEPS[level], *TINY])
        assert result.exit_code == 0, result.output
    return made


def ok(*args):
    result = CliRunner().invoke(main, ["sample", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def test_the_length_asked_for_is_the_length_drawn_through_line_ends(runs):
    text = ok(runs["char"], "--length", "300", "--prime", "First", "--seed", "4").stdout
    assert len(text) == len("First") + 300 + 1  # a character a token, "\n" for </s>; echo's newline
    assert text.count("\n") > 2
    words = ok(runs["word"], "--length", "200", "--seed", "4").stdout[:-1]
    tokens = [i for i in seqkit.load(runs["word"]).vocab.encode(words) if i not in (BOS_ID, EOS_ID)]
    assert len(tokens) + words.count("\n") == 200  # the words, and a </s> for each line ended
    assert words.count("\n") > 2  # not four words and the end of a line


def test_stop_at_end_draws_one_line(runs):
    through = ok(runs["word"], "--length", "200", "--seed", "4").stdout
    one = ok(runs["word"], "--length", "200", "--seed", "4", "--stop-at-end").stdout
    assert one == through.split("\n")[0] + "\n"


def test_a_checkpoint_file_is_a_run(runs):
    run = runs["char"]
    same = ["--length", "40", "--seed", "3"]
    assert ok(run / "best.npz", *same).stdout == ok(run, "--best", *same).stdout
    assert ok(run / "latest.npz", *same).stdout == ok(run, *same).stdout


def test_count_with_a_separator_writes_each_seeds_sample_in_turn(runs):
    alone = [ok(runs["word"], "--length", "30", "--seed", seed).stdout[:-1] for seed in (7, 8, 9)]
    together = ok(runs["word"], "--length", "30", "--seed", "7", "--count", "3", "--separator", "\\n---\\n").stdout
    assert together == "\n---\n".join(alone) + "\n"
    assert ok(runs["word"], "--length", "30", "--seed", "7", "--count", "3").stdout == "\n\n".join(alone) + "\n"


def test_jsonl_gives_each_sample_with_what_draws_it_again(runs):
    result = ok(runs["word"], "--length", "25", "--seed", "7", "--count", "3", "--jsonl", "--prime", "The",
                "--temperature", "0.9", "--top-k", "50")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["seed"] for r in records] == [7, 8, 9] and [r["index"] for r in records] == [0, 1, 2]
    assert records[0] == {"index": 0, "seed": 7, "prime": "The", "temperature": 0.9, "top_k": 50, "top_p": None,
                          "length": 25, "stop_at_end": False, "allow_unk": False,
                          "checkpoint": str(runs["word"] / "latest.npz"), "text": records[0]["text"]}
    for r in records:
        again = ok(runs["word"], "--length", r["length"], "--seed", r["seed"], "--prime", r["prime"],
                   "--temperature", r["temperature"], "--top-k", r["top_k"]).stdout
        assert again == r["text"] + "\n" and r["text"].startswith("The")


def test_a_prime_file_is_read_in_the_runs_encoding(runs, tmp_path):
    prime = tmp_path / "prime.txt"
    prime.write_bytes("\ufeffFirst Citizen:\r\nWe are".encode())
    from_file = ok(runs["char"], "--prime-file", prime, "--length", "50", "--seed", "2").stdout
    assert from_file == ok(runs["char"], "--prime", "First Citizen:\nWe are", "--length", "50", "--seed", "2").stdout
    assert from_file.startswith("First Citizen:\nWe are")


def test_output_to_a_file(runs, tmp_path):
    out = tmp_path / "samples.txt"
    out.write_text("old")
    result = ok(runs["char"], "--length", "60", "--count", "2", "--seed", "1", "-o", out)
    assert result.stdout == "" and result.stderr == ""
    assert out.read_text() == ok(runs["char"], "--length", "60", "--count", "2", "--seed", "1").stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.txt"]


def test_a_seed_not_given_is_said(runs):
    result = ok(runs["char"], "--length", "30")
    seed = int(result.stderr.split()[1])
    assert result.stderr == f"seed {seed} (--seed {seed} draws the same again)\n"
    assert ok(runs["char"], "--length", "30", "--seed", seed).stdout == result.stdout
    assert ok(runs["char"], "--length", "30", "--seed", "1").stderr == ""


def test_the_library_and_the_command_draw_the_same(runs):
    lm = seqkit.load(runs["word"] / "best.npz")
    assert lm.checkpoint == runs["word"] / "best.npz"
    with pytest.raises(ValueError, match="best=True picks a run directory's best.npz, but .* is a checkpoint file"):
        seqkit.load(runs["word"] / "best.npz", best=True)
    assert ok(runs["word"], "--best", "--length", "40", "--seed", "5").stdout == lm.sample(length=40, seed=5)[0] + "\n"


def test_ctrl_c_keeps_what_was_drawn(runs, tmp_path):
    """An endless sample to a file, interrupted: the file holds the JSON lines drawn so far, the
    last marked as interrupted, and the command exits with 130."""
    out = tmp_path / "endless.jsonl"
    process = subprocess.Popen([str(Path(sys.executable).with_name("seqkit")), "sample", str(runs["char"]),
                                "--length", str(10 ** 15), "--count", "2", "--seed", "1", "--jsonl", "-o", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size > 10_000 for p in tmp_path.glob(".endless.jsonl.*")):
            assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 130
    finally:
        process.kill()
    assert process.stderr.read() == f"interrupted: {out} has the text drawn until then\n"
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["interrupted"] is True and record["seed"] == 1 and len(record["text"]) > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["endless.jsonl"]
