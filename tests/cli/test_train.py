"""The training workflow through the CLI: stopping rules that say what stopped a run, and
--resume changing what only steers training, with each change recorded."""
import json
import os
import re
import stat
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import seqkit as seqkit_package
from seqkit.cli.main import main
from seqkit.corpora import path as corpus_path
from seqkit.runs.checkpoint import load_arrays

SMALL = ["--hidden", "8", "--layers", "1", "--batch-size", "4", "--seq-len", "8", "--seed", "0",
         "--sample-length", "0", "--eval-every", "1000"]


def seqkit(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def records(run, kind):
    return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["kind"] == kind]


@pytest.fixture
def corpus(tmp_path):
    """A text so short that the default 10 epochs take few steps."""
    path = tmp_path / "short.txt"
    path.write_text(corpus_path().read_text()[:400])
    return path


def test_steps_alone_trains_past_the_default_epochs_and_says_what_stopped(corpus, tmp_path):
    by_epochs = seqkit("train", corpus, "-o", tmp_path / "a", *SMALL)
    assert by_epochs.exit_code == 0, by_epochs.output
    epoch_steps = records(tmp_path / "a", "train")[-1]["step"]
    assert f"stopped: --epochs 10 reached at step {epoch_steps}; " in by_epochs.stderr
    by_steps = seqkit("train", corpus, "-o", tmp_path / "b", "--steps", epoch_steps + 7, *SMALL)
    assert by_steps.exit_code == 0, by_steps.output
    assert f"stopped: --steps {epoch_steps + 7} reached at step {epoch_steps + 7}; " in by_steps.stderr


def test_a_resume_with_nothing_to_do_says_so_and_changes_nothing(corpus, tmp_path):
    run = tmp_path / "run"
    assert seqkit("train", corpus, "-o", run, "--steps", 5, *SMALL).exit_code == 0
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    result = seqkit("train", "--resume", run)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == ("nothing to do: the run reached --steps 5 at step 5; to train on, "
                                              "resume with a larger --steps (or another stopping rule)")
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_resume_changes_what_steers_training_and_records_it(corpus, tmp_path):
    run = tmp_path / "run"
    started = seqkit("train", corpus, "-o", run, "--steps", 5, "--lr-schedule", "constant", "--warmup", 0,
                     "--lr", 0.004, "--dropout", 0.2, *SMALL)
    assert started.exit_code == 0, started.output
    result = seqkit("train", "--resume", run, "--steps", 9, "--lr", 0.001, "--dropout", 0, "--clip", 1,
                    "--eval-every", 3)
    assert result.exit_code == 0, result.output
    assert ("changed: --steps 5 -> 9, --lr 0.004 -> 0.001, --dropout 0.2 -> 0.0, --clip 5.0 -> 1.0, "
            "--eval-every 1000 -> 3") in result.stderr
    saved = json.loads((run / "config.json").read_text())
    assert {k: saved["config"][k] for k in ("steps", "lr", "dropout", "clip", "eval_every")} == \
        {"steps": 9, "lr": 0.001, "dropout": 0.0, "clip": 1.0, "eval_every": 3}
    changed = {"steps": [5, 9], "lr": [0.004, 0.001], "dropout": [0.2, 0.0], "clip": [5.0, 1.0], "eval_every": [1000, 3]}
    assert saved["history"] == [{"step": 5, "changed": changed}]
    assert records(run, "resume") == [{"kind": "resume", "step": 5, "changed": changed}]
    rates = {r["step"]: r["lr"] for r in records(run, "train")}
    assert rates[5] == 0.004 and all(rates[step] == 0.001 for step in range(6, 10))
    assert [r["step"] for r in records(run, "eval")] == [5, 6, 9]


def test_given_stopping_rules_replace_the_runs(corpus, tmp_path):
    run = tmp_path / "run"
    assert seqkit("train", corpus, "-o", run, *SMALL).exit_code == 0  # stopped by --epochs 10
    epoch_steps = records(run, "train")[-1]["step"]
    result = seqkit("train", "--resume", run, "--steps", epoch_steps + 3)
    assert result.exit_code == 0, result.output
    assert f"changed: --epochs 10 -> none, --steps none -> {epoch_steps + 3}" in result.stderr
    assert f"stopped: --steps {epoch_steps + 3} reached at step {epoch_steps + 3}; " in result.stderr


def test_resume_follows_a_moved_corpus_only_to_the_same_text(corpus, tmp_path):
    run = tmp_path / "run"
    assert seqkit("train", corpus, "-o", run, "--steps", 3, *SMALL).exit_code == 0
    moved = corpus.rename(tmp_path / "moved.txt")
    lost = seqkit("train", "--resume", run, "--steps", 4)
    assert lost.exit_code == 1 and "Traceback" not in lost.output
    assert lost.stderr == (f"Error: the corpus of the run in {run}, {corpus}, is not there: if it moved, say "
                           f"where with --corpus\n")
    other = tmp_path / "other.txt"
    other.write_text(moved.read_text().upper())
    refused = seqkit("train", "--resume", run, "--steps", 4, "--corpus", other)
    assert refused.exit_code == 1
    assert f"Error: {other} is not the text the run in {run} started on" in refused.stderr
    followed = seqkit("train", "--resume", run, "--steps", 4, "--corpus", moved)
    assert followed.exit_code == 0, followed.output
    assert f"--corpus {corpus} -> {moved}" in followed.stderr
    assert json.loads((run / "config.json").read_text())["config"]["corpus"] == str(moved)
    assert load_arrays(run / "latest.npz")[1]["step"] == 4


def test_resume_refuses_what_it_cannot_change(corpus, tmp_path):
    run = tmp_path / "run"
    assert seqkit("train", corpus, "-o", run, "--steps", 2, *SMALL).exit_code == 0
    result = seqkit("train", "--resume", run, "--cell", "gru", "--hidden", 16)
    assert result.exit_code == 2
    assert "so --cell, --hidden cannot change; it can change --epochs, --steps, --time, --lr," in result.stderr
    assert seqkit("train", "--resume", run, corpus).exit_code == 2
    alone = seqkit("train", corpus, "--corpus", corpus)
    assert alone.exit_code == 2 and "--corpus points a resumed run at its moved corpus" in alone.stderr


def test_an_unchanged_resume_continues_exactly(corpus, tmp_path):
    """Changing only the stopping rule under a constant schedule: the same model as one run."""
    common = [*SMALL, "--lr-schedule", "constant"]
    assert seqkit("train", corpus, "-o", tmp_path / "straight", "--steps", 8, *common).exit_code == 0
    assert seqkit("train", corpus, "-o", tmp_path / "split", "--steps", 4, *common).exit_code == 0
    assert seqkit("train", "--resume", tmp_path / "split", "--steps", 8).exit_code == 0
    straight, split = (load_arrays(tmp_path / name / "latest.npz")[0] for name in ("straight", "split"))
    assert straight.keys() == split.keys()
    assert all(np.array_equal(straight[k], split[k]) for k in straight)


@pytest.fixture(scope="module")
def char_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    corpus = root / "corpus.txt"
    corpus.write_text(corpus_path().read_text()[:400])
    assert seqkit("train", corpus, "-o", root / "runs" / "short", "--steps", 2, *SMALL).exit_code == 0
    return root / "runs" / "short"


def test_eval_says_how_many_tokens_the_vocabulary_lacks_and_which_characters(char_run, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("First Citizen: héllo ßß\n")
    result = seqkit("eval", char_run, text)
    assert result.exit_code == 0, result.output
    assert result.stderr == (f"warning: 3 of the 25 tokens in {text} are not in the vocabulary and count "
                             f"as <unk>: 'é' 'ß'\n")
    assert result.stdout.endswith("over 25 tokens\n")


def test_eval_json_and_the_latest_run_by_default(char_run, tmp_path, monkeypatch):
    text = tmp_path / "text.txt"
    text.write_text("First Citizen:\n")
    named = json.loads(seqkit("eval", char_run, text, "--json").stdout)
    monkeypatch.chdir(char_run.parent.parent)
    result = seqkit("eval", text, "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"using {char_run.relative_to(char_run.parent.parent)}\n"
    assert json.loads(result.stdout) == named
    assert set(named) == {"loss", "perplexity", "bits_per_char", "tokens", "unknown_tokens", "text_file"}
    assert named["tokens"] == 16 and named["unknown_tokens"] == 0 and named["perplexity"] > 1


def test_eval_names_the_argument_that_is_missing(char_run, tmp_path):
    result = seqkit("eval", char_run, tmp_path / "none.txt")
    assert result.exit_code == 2
    assert f"Error: Invalid value for TEXT_FILE: '{tmp_path / 'none.txt'}' does not exist" in result.stderr
    assert "Error: expected [RUN] TEXT_FILE, got 3 arguments" in seqkit("eval", "a", "b", "c").stderr


def test_progress_lines_when_stderr_is_not_a_terminal(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr("seqkit.cli.progress.LINE_EVERY", 0.0)
    result = seqkit("train", corpus, "-o", tmp_path / "run", "--steps", 6, *SMALL)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if re.match(r"step \d+  \d+%", line)]
    assert len(lines) == 6
    assert all(re.fullmatch(rf"step {n}  {round(100 * n / 6)}%  loss \d+\.\d{{3}}  [\d,]+ tok/s  ETA 0:00:\d\d", line)
               for n, line in enumerate(lines, 1)), lines


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_run_files_follow_the_umask(corpus, tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        assert seqkit("train", corpus, "-o", tmp_path / "run", "--steps", 2, *SMALL).exit_code == 0
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "run").iterdir() if not p.name.startswith(".")}
    assert modes == dict.fromkeys(["config.json", "vocab.json", "latest.npz", "best.npz", "metrics.jsonl"], mode)


def test_python_dash_m_seqkit_and_dash_capital_v(tmp_path):
    # From tmp_path: in the repository root, ./seqkit (without cli/, which installing maps in) would be found first.
    result = subprocess.run([sys.executable, "-m", "seqkit", "-V"], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == f"seqkit, version {seqkit_package.__version__}\n"


def test_train_help_comes_in_groups_without_stray_bounds():
    result = seqkit("train", "--help")
    assert result.exit_code == 0
    headings = [line[:-1] for line in result.stdout.splitlines() if line and not line[0].isspace() and line.endswith(":")]
    assert headings == ["Run", "Data", "Model", "Optimisation", "Learning-rate schedule", "Stopping and logging",
                        "Other options"]  # -h, --help
    assert "None" not in result.stdout


def test_the_training_clock_goes_on_across_a_resume(corpus, tmp_path):
    run = tmp_path / "run"
    assert seqkit("train", corpus, "-o", run, "--steps", 3, *SMALL).exit_code == 0
    assert seqkit("train", "--resume", run, "--steps", 6).exit_code == 0
    seconds = [r["seconds"] for r in records(run, "train")]
    assert len(seconds) == 6 and seconds == sorted(seconds) and seconds[0] >= 0
    assert [r["seconds"] for r in records(run, "eval")][-1] >= seconds[-1]


def test_a_resume_that_does_nothing_records_no_change(corpus, tmp_path):
    run = tmp_path / "run"
    assert seqkit("train", corpus, "-o", run, "--steps", 5, *SMALL).exit_code == 0
    before = (run / "config.json").read_bytes(), (run / "metrics.jsonl").read_bytes()
    result = seqkit("train", "--resume", run, "--steps", 3)
    assert result.exit_code == 0 and "nothing to do: the run reached --steps 3 at step 5" in result.stderr
    assert "changed:" not in result.stderr
    assert ((run / "config.json").read_bytes(), (run / "metrics.jsonl").read_bytes()) == before


def test_a_decay_interval_given_on_resume_picks_the_step_schedule(corpus, tmp_path):
    run = tmp_path / "run"
    assert seqkit("train", corpus, "-o", run, "--steps", 2, *SMALL).exit_code == 0
    result = seqkit("train", "--resume", run, "--steps", 6, "--lr-decay-every", 2, "--lr-decay", 0.5, "--warmup", 0)
    assert result.exit_code == 0, result.output
    assert "--lr-schedule cosine -> step" in result.stderr
    rates = {r["step"]: r["lr"] for r in records(run, "train")}
    # record n is the update that followed step n - 1: 4e-3 halved at steps 2 and 4
    assert [rates[step] for step in (3, 4, 5, 6)] == [2e-3, 2e-3, 1e-3, 1e-3]


def test_run_arguments_that_are_not_runs_are_said_plainly(char_run, tmp_path):
    alone = seqkit("eval", char_run)
    assert alone.exit_code == 2
    assert f"Error: expected [RUN] TEXT_FILE: {char_run} is a directory; give the text to evaluate after it" in alone.stderr
    text = tmp_path / "t.txt"
    text.write_text("First")
    best_file = seqkit("eval", "--best", char_run / "latest.npz", text)
    assert best_file.exit_code == 2 and "Error: --best picks best.npz in a run directory, but" in best_file.stderr
    not_npz = seqkit("sample", char_run / "config.json")
    assert not_npz.exit_code == 1
    assert not_npz.stderr == (f"Error: {char_run / 'config.json'} is not a checkpoint: give a run directory, or its "
                              f"best.npz or latest.npz\n")
