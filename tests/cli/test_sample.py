"""`seqkit sample` through the command line: the length asked for is the length drawn, through
the ends of lines; --stop-at-end for one line; checkpoint files as RUN; several samples with a
separator or as JSON lines, each with a seed that draws it again alone; a prime from a file; -o
FILE; a seed said when none is given; the latest run by default; Ctrl-C keeping what was drawn.
And the requests it cannot serve: options without meaning, primes the vocabulary cannot read, run
directories that are not runs, outputs it must not write: one error line each, a non-zero exit,
no traceback, and the run directory left as it was. Every integer option takes 0, -1, 2**63 and
10**30 without a traceback or an allocation of their size. (The sampler itself:
tests/generation/test_sampler.py.)"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from shared import copied_run, invoke

import seqkit
from seqkit.cli.main import main
from seqkit.lm import LanguageModel
from seqkit.text.options import BOS_ID, EOS_ID


def ok(*args):
    result = CliRunner().invoke(main, ["sample", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def snapshot(run):
    return {p.name: p.read_bytes() for p in run.iterdir()}


def error_line(result, exit_code):
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


# --- samples as people draw them -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def line_runs(corpus, tmp_path_factory):
    """Runs whose samples end lines: a char-level run framing lines (the shared one frames the
    document), and a word-level one trained long enough to learn where lines end: {level: dir}."""
    root = tmp_path_factory.mktemp("lines")
    tiny = ["--hidden", "16", "--layers", "1", "--batch-size", "4", "--seq-len", "16", "--sample-length", "0",
            "--seed", "0", "--lr", "0.02"]
    steps = {"char": ["--unit", "line", "--steps", "4", "--eval-every", "4"],
             "word": ["--steps", "100", "--eval-every", "100"]}
    for level in steps:
        result = invoke("train", corpus, "-o", root / level, "--level", level, *steps[level], *tiny)
        assert result.exit_code == 0, result.output
    return {level: root / level for level in steps}


def test_the_length_asked_for_is_the_length_drawn_through_line_ends(line_runs):
    text = ok(line_runs["char"], "--length", "300", "--prime", "First", "--seed", "4").stdout
    assert len(text) == len("First") + 300 + 1  # a character a token, "\n" for </s>; echo's newline
    assert text.count("\n") > 2
    words = ok(line_runs["word"], "--length", "200", "--seed", "4").stdout[:-1]
    tokens = [i for i in seqkit.load(line_runs["word"]).vocab.encode(words) if i not in (BOS_ID, EOS_ID)]
    assert len(tokens) + words.count("\n") == 200  # the words, and a </s> for each line ended
    assert words.count("\n") > 2  # not four words and the end of a line


def test_stop_at_end_draws_one_line(line_runs):
    through = ok(line_runs["word"], "--length", "200", "--seed", "4").stdout
    one = ok(line_runs["word"], "--length", "200", "--seed", "4", "--stop-at-end").stdout
    assert one == through.split("\n")[0] + "\n"


def test_sample_prints_only_text_continuing_the_prime(char_run):
    result = invoke("sample", char_run, "--length", "40", "--prime", "First", "--seed", "5")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("First")
    assert result.stderr == ""
    again = invoke("sample", char_run, "--length", "40", "--prime", "First", "--seed", "5")
    assert again.stdout == result.stdout


def test_sample_count_and_argmax(char_run):
    result = invoke("sample", char_run, "--length", "30", "--count", "3", "--temperature", "0")
    assert result.exit_code == 0, result.output
    samples = result.stdout.rstrip("\n").split("\n\n")
    assert len(samples) == 3 and len(set(samples)) == 1  # argmax is deterministic


def test_sample_defaults_to_the_latest_run_under_runs(corpus, tmp_path, monkeypatch):
    tiny = ["--hidden", "16", "--layers", "1", "--batch-size", "2", "--seq-len", "8", "--seed", "0",
            "--sample-length", "20", "--steps", "2", "--eval-every", "2"]
    monkeypatch.chdir(tmp_path)
    result = invoke("train", corpus, *tiny)
    assert result.exit_code == 0, result.output
    result = invoke("sample", "--length", "10", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"using runs/{corpus.stem}\n"
    second = invoke("train", corpus, *tiny)
    assert f"into runs/{corpus.stem}-2" in second.stderr


def test_a_checkpoint_file_is_a_run(char_run):
    run = char_run
    same = ["--length", "40", "--seed", "3"]
    assert ok(run / "best.npz", *same).stdout == ok(run, "--best", *same).stdout
    assert ok(run / "latest.npz", *same).stdout == ok(run, *same).stdout


def test_count_with_a_separator_writes_each_seeds_sample_in_turn(word_run):
    alone = [ok(word_run, "--length", "30", "--seed", seed).stdout[:-1] for seed in (7, 8, 9)]
    together = ok(word_run, "--length", "30", "--seed", "7", "--count", "3", "--separator", "\\n---\\n").stdout
    assert together == "\n---\n".join(alone) + "\n"
    assert ok(word_run, "--length", "30", "--seed", "7", "--count", "3").stdout == "\n\n".join(alone) + "\n"


def test_jsonl_gives_each_sample_with_what_draws_it_again(word_run):
    result = ok(word_run, "--length", "25", "--seed", "7", "--count", "3", "--jsonl", "--prime", "The",
                "--temperature", "0.9", "--top-k", "50")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["seed"] for r in records] == [7, 8, 9] and [r["index"] for r in records] == [0, 1, 2]
    assert records[0] == {"index": 0, "seed": 7, "prime": "The", "length": 25, "temperature": 0.9, "top_k": 50,
                          "top_p": None, "stop_at_end": False, "allow_unk": False, "stop": [], "strip_stop": False,
                          "ban": [], "repetition_penalty": 1.0, "repetition_window": 64, "no_repeat_ngram": None,
                          "beam": None, "best_of": None, "checkpoint": str(word_run / "latest.npz"),
                          "text": records[0]["text"]}
    for r in records:
        again = ok(word_run, "--length", r["length"], "--seed", r["seed"], "--prime", r["prime"],
                   "--temperature", r["temperature"], "--top-k", r["top_k"]).stdout
        assert again == r["text"] + "\n" and r["text"].startswith("The")


def test_a_prime_file_is_read_in_the_runs_encoding(char_run, tmp_path):
    prime = tmp_path / "prime.txt"
    prime.write_bytes("\ufeffFirst Citizen:\r\nWe are".encode())
    from_file = ok(char_run, "--prime-file", prime, "--length", "50", "--seed", "2").stdout
    assert from_file == ok(char_run, "--prime", "First Citizen:\nWe are", "--length", "50", "--seed", "2").stdout
    assert from_file.startswith("First Citizen:\nWe are")


def test_output_to_a_file(char_run, tmp_path):
    out = tmp_path / "samples.txt"
    out.write_text("old")
    result = ok(char_run, "--length", "60", "--count", "2", "--seed", "1", "-o", out)
    assert result.stdout == "" and result.stderr == ""
    assert out.read_text() == ok(char_run, "--length", "60", "--count", "2", "--seed", "1").stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.txt"]


def test_a_seed_not_given_is_said(char_run):
    result = ok(char_run, "--length", "30")
    seed = int(result.stderr.split()[1])
    assert result.stderr == f"seed {seed} (--seed {seed} draws the same again)\n"
    assert ok(char_run, "--length", "30", "--seed", seed).stdout == result.stdout
    assert ok(char_run, "--length", "30", "--seed", "1").stderr == ""


def test_the_library_and_the_command_draw_the_same(word_run):
    lm = seqkit.load(word_run / "best.npz")
    assert lm.checkpoint == word_run / "best.npz"
    with pytest.raises(ValueError, match="best=True picks a run directory's best.npz, but .* is a checkpoint file"):
        seqkit.load(word_run / "best.npz", best=True)
    assert ok(word_run, "--best", "--length", "40", "--seed", "5").stdout == lm.sample(length=40, seed=5)[0] + "\n"


def test_ctrl_c_keeps_what_was_drawn(char_run, tmp_path):
    """An endless sample to a file, interrupted: the file holds the JSON lines drawn so far, the
    last marked as interrupted, and the command exits with 130."""
    out = tmp_path / "endless.jsonl"
    process = subprocess.Popen([str(Path(sys.executable).with_name("seqkit")), "sample", str(char_run),
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


# --- requests it cannot serve ---------------------------------------------------------------------------
@pytest.mark.parametrize("options, message", [
    (["--temperature", "-0.5"], "--temperature must be zero (argmax) or positive and finite, got -0.5"),
    (["--temperature", "nan"], "--temperature must be zero (argmax) or positive and finite, got nan"),
    (["--temperature", "inf"], "--temperature must be zero (argmax) or positive and finite, got inf"),
    (["--seed", "-1"], "Invalid value for '--seed': -1 is not in the range x>=0"),
    (["--top-p", "0"], "--top-p must be in (0, 1], got 0.0"),
    (["--top-p", "1.5"], "--top-p must be in (0, 1], got 1.5"),
    (["--top-k", "0"], "--top-k must be at least 1, got 0"),
    (["--length", "-3"], "Invalid value for '--length'"),
    (["--temperature", "warm"], "Invalid value for '--temperature'"),
])
def test_meaningless_options_are_usage_errors(char_run, options, message):
    before = snapshot(char_run)
    assert message in error_line(CliRunner().invoke(main, ["sample", str(char_run), *options]), 2)
    assert snapshot(char_run) == before


def test_a_char_prime_the_vocabulary_lacks_lists_the_characters(char_run):
    result = CliRunner().invoke(main, ["sample", str(char_run), "--prime", "Zebra\u20ac", "--seed", "1"])
    line = error_line(result, 1)
    assert line.startswith("Error: the prime text has characters the vocabulary lacks: ") and "'\u20ac'" in line


def test_a_word_prime_with_unknown_words_warns_and_samples(word_run):
    result = CliRunner().invoke(main, ["sample", str(word_run), "--prime", "the zyzzyva",
                                       "--length", "5", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "warning: the prime has words the vocabulary lacks, read as <unk>: zyzzyva" in result.stderr
    assert result.stdout.startswith("the <unk> ")  # the prime as the model read it


def test_run_directories_that_are_not_runs(char_run, tmp_path):
    line = error_line(CliRunner().invoke(main, ["sample", str(tmp_path / "nowhere")]), 2)
    assert "does not exist" in line
    assert "is not a seqkit run directory (it has no config.json)" in error_line(
        CliRunner().invoke(main, ["sample", str(tmp_path)]), 1)
    run = copied_run(char_run, tmp_path)
    (run / "latest.npz").unlink()
    line = error_line(CliRunner().invoke(main, ["sample", str(run)]), 1)
    assert "holds no checkpoint (latest.npz is missing)" in line


# --- every integer option, at the edges -------------------------------------------------------------------
HUGE = [str(2 ** 63), str(10 ** 30)]


@pytest.mark.parametrize("option, value, message", [
    ("--top-k", "0", "Error: --top-k must be at least 1, got 0"),
    ("--top-k", "-1", "Error: --top-k must be at least 1, got -1"),
    ("--length", "-1", "Error: Invalid value for '--length': -1 is not in the range x>=0."),
    ("--seed", "-1", "Error: Invalid value for '--seed': -1 is not in the range x>=0."),
    ("--count", "0", "Error: Invalid value for '--count': 0 is not in the range x>=1."),
    ("--count", "-1", "Error: Invalid value for '--count': -1 is not in the range x>=1."),
])
def test_integer_options_out_of_range_are_usage_errors(char_run, option, value, message):
    assert error_line(CliRunner().invoke(main, ["sample", str(char_run), option, value]), 2) == message


def sample(run, *options):
    result = CliRunner().invoke(main, ["sample", str(run), *options])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    return result.stdout


@pytest.mark.parametrize("value", HUGE)
def test_a_top_k_beyond_the_vocabulary_draws_from_all_of_it(word_run, value):
    assert sample(word_run, "--top-k", value, "--length", "30", "--seed", "2") == \
        sample(word_run, "--length", "30", "--seed", "2")


@pytest.mark.parametrize("value", ["0", *HUGE])
def test_any_seed_draws_and_draws_again(char_run, value):
    text = sample(char_run, "--seed", value, "--length", "20")
    assert len(text) > 1 and text == sample(char_run, "--seed", value, "--length", "20")


def test_length_zero_prints_the_prime(char_run):
    assert sample(char_run, "--length", "0", "--prime", "The", "--count", "2") == "The\n\nThe\n"


def seqkit_command(*args):
    return subprocess.Popen([str(Path(sys.executable).with_name("seqkit")), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


@pytest.mark.parametrize("option, value", [(option, value) for option in ("--length", "--count") for value in HUGE])
def test_huge_lengths_and_counts_stream_until_the_reader_stops(char_run, option, value):
    """Nothing of count x length is allocated: text comes at once, and a reader that stops (as
    `| head` does) ends the command quietly."""
    process = seqkit_command("sample", str(char_run), "--seed", "1", "--length", "50", option, value)
    try:
        head = process.stdout.read(5000)
        process.stdout.close()
        assert process.wait(60) in (0, 1)
    finally:
        process.kill()
    assert len(head) == 5000 and process.stderr.read() == b""


# --- primes, outputs and checkpoint files --------------------------------------------------------------
def test_prime_and_prime_file_together_are_refused(char_run, tmp_path):
    (tmp_path / "p.txt").write_text("The")
    line = error_line(CliRunner().invoke(main, ["sample", str(char_run), "--prime", "a",
                                                "--prime-file", str(tmp_path / "p.txt")]), 2)
    assert line == "Error: --prime and --prime-file both give a prime: use one of them"


def test_a_prime_file_not_in_the_runs_encoding(char_run, tmp_path):
    (tmp_path / "p.txt").write_bytes("Caf\u00e9 au lait".encode("latin-1"))
    result = CliRunner().invoke(main, ["sample", str(char_run), "--prime-file", str(tmp_path / "p.txt")])
    line = error_line(result, 1)
    assert line == (f"Error: --prime-file {tmp_path / 'p.txt'} is not utf-8 text, the run's encoding (invalid "
                    f"continuation byte at byte 3): save it as utf-8")


def test_separator_with_jsonl_is_refused(char_run):
    line = error_line(CliRunner().invoke(main, ["sample", str(char_run), "--jsonl", "--separator", "--"]), 2)
    assert line == "Error: --separator goes between plain samples and --jsonl writes one a line: drop one"


def test_best_with_a_checkpoint_file_is_refused(char_run):
    file = char_run / "latest.npz"
    line = error_line(CliRunner().invoke(main, ["sample", str(file), "--best"]), 2)
    assert line == (f"Error: --best picks best.npz in a run directory, but {file} is a checkpoint file: drop "
                    f"--best, or give the run directory")


def test_files_that_are_not_checkpoints_of_a_run(char_run, tmp_path):
    (tmp_path / "latest.npz").write_bytes((char_run / "latest.npz").read_bytes())
    line = error_line(CliRunner().invoke(main, ["sample", str(tmp_path / "latest.npz")]), 1)
    assert line == (f"Error: {tmp_path / 'latest.npz'} is not in a seqkit run directory ({tmp_path} has no "
                    f"config.json): give a checkpoint file where seqkit train wrote it")
    for name in ("vocab.json", "config.json"):
        line = error_line(CliRunner().invoke(main, ["sample", str(char_run / name)]), 1)
        assert line == (f"Error: {char_run / name} is not a checkpoint: give a run directory, or its "
                        f"best.npz or latest.npz")


def test_outputs_that_must_not_be_written(char_run, tmp_path):
    before = snapshot(char_run)
    for name in ("latest.npz", "best.npz", "config.json"):
        line = error_line(CliRunner().invoke(main, ["sample", str(char_run), "-o", str(char_run / name)]), 2)
        assert line == f"Error: -o {char_run / name} would replace a file of the run: write the samples elsewhere"
    assert snapshot(char_run) == before
    line = error_line(CliRunner().invoke(main, ["sample", str(char_run), "-o", str(tmp_path / "no" / "s.txt")]), 2)
    assert line == f"Error: -o {tmp_path / 'no' / 's.txt'}: there is no directory {tmp_path / 'no'} to write it in"


def test_an_error_while_writing_leaves_the_output_as_it_was(char_run, tmp_path, monkeypatch):
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
    result = CliRunner().invoke(main, ["sample", str(char_run), "--seed", "1", "-o", str(out)])
    assert error_line(result, 1) == f"Error: the model broke; {out} was left as it was"
    assert out.read_text() == "kept" and os.listdir(tmp_path) == ["samples.txt"]
    result = CliRunner().invoke(main, ["sample", str(char_run), "--seed", "1", "-o", str(tmp_path / "new.txt")])
    assert error_line(result, 1) == f"Error: the model broke; {tmp_path / 'new.txt'} was not written"
    assert os.listdir(tmp_path) == ["samples.txt"]


def test_a_prime_file_too_big_for_the_memory_is_refused_before_reading(char_run, tmp_path, monkeypatch):
    import seqkit.cli.sampling
    monkeypatch.setattr(seqkit.cli.sampling, "available_bytes", lambda: 100)
    (tmp_path / "p.txt").write_text("First Citizen")
    result = CliRunner().invoke(main, ["sample", str(char_run), "--prime-file", str(tmp_path / "p.txt")])
    assert error_line(result, 1) == (f"Error: --prime-file {tmp_path / 'p.txt'} is 13 bytes, more than the memory "
                                     f"available (100 bytes) can prime from: give a shorter prime")


# --- the controls: stop strings, bans, repetition, beam search, best-of, novelty ------------------------
def test_stop_ends_each_sample_at_the_string_kept_or_stripped(char_run):
    free = [sample(char_run, "--length", "400", "--seed", seed)[:-1] for seed in ("3", "4")]
    stop = next(free[0][p:p + 2] for p in range(20, 300) if free[0].find(free[0][p:p + 2]) == p
                and "\n" not in free[0][p:p + 2] and free[1].find(free[0][p:p + 2]) > 0)
    cuts = [text.index(stop) + len(stop) for text in free]
    kept = sample(char_run, "--length", "400", "--seed", "3", "--count", "2", "--stop", stop, "--stop", "zzzzzzzz")
    assert kept == "\n\n".join(text[:cut] for text, cut in zip(free, cuts)) + "\n"
    stripped = sample(char_run, "--length", "400", "--seed", "3", "--count", "2", "--stop", stop, "--strip-stop")
    assert stripped == "\n\n".join(text[:cut - len(stop)] for text, cut in zip(free, cuts)) + "\n"


def test_a_stop_at_a_line_end_is_written_as_backslash_n(line_runs):
    free = sample(line_runs["word"], "--length", "200", "--seed", "4")
    assert sample(line_runs["word"], "--length", "200", "--seed", "4", "--stop", "\\n") == \
        free[:free.index("\n") + 1] + "\n"


def test_ban_and_repetition_options_draw_and_are_recorded(word_run):
    result = ok(word_run, "--length", "80", "--seed", "2", "--jsonl", "--ban", "the", "--ban", ",",
                "--repetition-penalty", "1.3", "--repetition-window", "16", "--no-repeat-ngram", "2")
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert {k: record[k] for k in ("ban", "repetition_penalty", "repetition_window", "no_repeat_ngram", "stop")} == \
        {"ban": ["the", ","], "repetition_penalty": 1.3, "repetition_window": 16, "no_repeat_ngram": 2, "stop": []}
    lm = seqkit.load(word_run)
    assert record["text"] == lm.sample(length=80, seed=2, ban=["the", ","], repetition_penalty=1.3,
                                       repetition_window=16, no_repeat_ngram=2)[0]
    words = lm.vocab.encode(record["text"], frame=False).tolist()
    assert lm.vocab.index["the"] not in words and lm.vocab.index[","] not in words


def test_beam_and_best_of_give_the_best_ones_and_say_their_loss(word_run):
    beams = [json.loads(line) for line in ok(word_run, "--length", "20", "--beam", "3", "--count", "2",
                                             "--jsonl").stdout.splitlines()]
    assert [r["seed"] for r in beams] == [None, None] and beams[0]["beam"] == 3
    assert beams[0]["logprob"] / beams[0]["tokens"] >= beams[1]["logprob"] / beams[1]["tokens"]
    assert ok(word_run, "--length", "20", "--beam", "3").stdout == beams[0]["text"] + "\n"
    best = [json.loads(line) for line in ok(word_run, "--length", "20", "--best-of", "4", "--count", "2", "--seed", "7",
                                            "--jsonl").stdout.splitlines()]
    assert best[0]["loss"] <= best[1]["loss"] and {r["seed"] for r in best} <= {7, 8, 9, 10}
    for r in best:  # each drawn again alone by its seed
        assert sample(word_run, "--length", "20", "--seed", r["seed"]) == r["text"] + "\n"


def test_novelty_says_what_the_corpus_holds(char_run, corpus):
    prime = corpus.read_text()[:60]
    result = ok(char_run, "--length", "30", "--seed", "1", "--novelty", "--prime", prime, "--temperature", "0")
    line = result.stderr.strip()
    assert line.startswith("novelty: longest passage shared with the corpus ") and "of its 11 20-token windows" in line
    result = ok(char_run, "--length", "30", "--seed", "1", "--novelty", "--jsonl", "--count", "2")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    lm = seqkit.load(char_run)
    for r in records:
        assert r["novelty"] == lm.novelty(r["text"]) and r["novelty"]["windows"] == 11
        assert r["novelty"]["longest"] in corpus.read_text()


def test_novelty_without_the_corpus_says_where_it_looked(char_run, tmp_path):
    run = copied_run(char_run, tmp_path)
    saved = json.loads((run / "config.json").read_text())
    saved["config"]["corpus"] = str(tmp_path / "gone.txt")
    (run / "config.json").write_text(json.dumps(saved))
    line = error_line(CliRunner().invoke(main, ["sample", str(run), "--novelty"]), 1)
    assert line == (f"Error: novelty compares a sample with the text the model trained on, but the run's corpus "
                    f"{tmp_path / 'gone.txt'} is not there")


@pytest.mark.parametrize("options, message", [
    (["--stop", ""], "Error: --stop must be a non-empty string, got ''"),
    (["--ban", ""], "Error: --ban must be a non-empty string, got ''"),
    (["--ban", "ab"], "Error: --ban 'ab' is not one token of the vocabulary (it reads as 2 tokens): ban one character "
                      "at a time"),
    (["--stop", "\u20ac"], "Error: --stop '\u20ac' holds a token the vocabulary lacks, so it is never drawn: give text "
                           "the model can write"),
    (["--repetition-penalty", "0"], "Error: --repetition-penalty must be positive and finite, got 0.0"),
    (["--repetition-penalty", "-2"], "Error: --repetition-penalty must be positive and finite, got -2.0"),
    (["--repetition-penalty", "nan"], "Error: --repetition-penalty must be positive and finite, got nan"),
    (["--repetition-penalty", "inf"], "Error: --repetition-penalty must be positive and finite, got inf"),
    (["--repetition-window", "0"], "Error: Invalid value for '--repetition-window': 0 is not in the range x>=1."),
    (["--no-repeat-ngram", "0"], "Error: Invalid value for '--no-repeat-ngram': 0 is not in the range x>=1."),
    (["--beam", "500"], "Error: --beam 500 is wider than the vocabulary, 54 tokens: lower it"),
    (["--beam", "3", "--count", "4"], "Error: --count 4 is more than the 3 continuations --beam 3 gives: lower --count "
                                      "or raise --beam"),
    (["--best-of", "2", "--count", "3"], "Error: --count 3 is more than the 2 continuations --best-of 2 gives: lower "
                                         "--count or raise --best-of"),
    (["--beam", "2", "--best-of", "2"], "Error: --beam and --best-of both choose among continuations: use one"),
    (["--beam", "2", "--temperature", "0.5"], "Error: beam search ranks continuations by the model's own "
                                              "probabilities, so --temperature does not apply to --beam: drop it"),
])
def test_controls_without_meaning_are_usage_errors(char_run, options, message):
    before = snapshot(char_run)
    assert error_line(CliRunner().invoke(main, ["sample", str(char_run), *options]), 2) == message
    assert snapshot(char_run) == before


def test_a_ban_of_every_token_is_a_usage_error(char_run):
    tokens = [t for t in seqkit.load(char_run).vocab.tokens if t != "<s>"]
    args = [a for t in tokens for a in ("--ban", t.replace("\\", "\\\\").replace("\t", "\\t"))]
    line = error_line(CliRunner().invoke(main, ["sample", str(char_run), *args]), 2)
    assert line == f"Error: --ban leaves no token to draw: the vocabulary has {len(tokens) + 1}, every one banned"
