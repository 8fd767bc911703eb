"""`seqkit train` through the command line: what it writes and says; the stopping rules and what
stopped a run; --resume changing only what steers training, each change recorded; fine-tuning
with --init-from; --plot and --workers; and every option, corpus or fault it cannot use refused
with one error line (click's own checks exit with 2, those that need the corpus or happen while
training with 1), no traceback, and no run started or lost."""
import json
import os
import re
import stat

import numpy as np
import pytest
from shared import FINE_TUNING_TEXT, RUN_STEPS, copied_run, invoke, shakespeare

from seqkit.cli.main import main
from seqkit.nn.model import Model
from seqkit.runs.checkpoint import load_arrays
from seqkit.training.evaluation import summarize
from seqkit.training.trainer import MAX_BAD_STEPS, Trainer

SMALL = ["--hidden", "8", "--layers", "1", "--batch-size", "4", "--seq-len", "8", "--seed", "0",
         "--sample-length", "0", "--eval-every", "1000"]


def records(run, kind):
    return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["kind"] == kind]


def refused(result, run, exit_code, *phrases):
    """Exit code as given, one "Error: " line holding each phrase (a usage error, exit 2, comes
    after click's usage hint), no traceback, nothing on stdout, and no run directory started."""
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and (exit_code == 2 or len(lines) == 1), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    for phrase in phrases:
        assert phrase in errors[0]
    assert not (run / "config.json").exists()


@pytest.fixture
def short_corpus(text_file):
    """A text so short that the default 10 epochs take few steps (the shared corpus takes hundreds)."""
    return text_file(400)


# --- a run: what it writes and says -----------------------------------------------------------------------
def test_train_writes_the_run_directory_and_reports(corpus, tmp_path):
    run = tmp_path / "run"
    result = invoke("train", corpus, "-o", run, "--steps", 6, "--eval-every", 3, "--hidden", 16, "--layers", 1,
                    "--batch-size", 2, "--seq-len", 8, "--seed", 0, "--sample-length", 20)
    assert result.exit_code == 0, result.output
    assert {p.name for p in run.iterdir()} >= {"config.json", "vocab.json", "latest.npz", "best.npz",
                                               "metrics.jsonl"}
    assert [r["step"] for r in records(run, "eval")] == [3, 6]
    assert all(r["val_perplexity"] > 1 for r in records(run, "eval"))
    assert result.stdout == ""
    assert re.search(r"step 3  epoch 0  train loss \d+\.\d{4}  val loss \d+\.\d{4}  ppl [\d.]+  bpc [\d.]+",
                     result.stderr)
    assert f"stopped: --steps 6 reached at step 6; sample from it with: seqkit sample {run}" in result.stderr
    # The shared corpus's 52 characters but "\n" (lines are the unit: </s> <s> stand for it), <unk>, <s> and </s>:
    assert re.search(r"\(54 tokens in the vocabulary, [\d,]+ parameters, seed 0\)", result.stderr)
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["hidden"] == 16 and config["seqkit_version"]


def test_progress_lines_when_stderr_is_not_a_terminal(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr("seqkit.cli.progress.LINE_EVERY", 0.0)
    result = invoke("train", corpus, "-o", tmp_path / "run", "--steps", 6, *SMALL)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if re.match(r"step \d+  \d+%", line)]
    assert len(lines) == 6
    assert all(re.fullmatch(rf"step {n}  {round(100 * n / 6)}%  loss \d+\.\d{{3}}  [\d,]+ tok/s  ETA 0:00:\d\d", line)
               for n, line in enumerate(lines, 1)), lines


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_run_files_follow_the_umask(corpus, tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        assert invoke("train", corpus, "-o", tmp_path / "run", "--steps", 2, *SMALL).exit_code == 0
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "run").iterdir() if not p.name.startswith(".")}
    assert modes == dict.fromkeys(["config.json", "vocab.json", "latest.npz", "best.npz", "metrics.jsonl"], mode)


def test_train_help_comes_in_groups_without_stray_bounds():
    result = invoke("train", "--help")
    assert result.exit_code == 0
    headings = [line[:-1] for line in result.stdout.splitlines() if line and not line[0].isspace() and line.endswith(":")]
    assert headings == ["Run", "Data", "Model", "Optimisation", "Learning-rate schedule", "Stopping and logging",
                        "Other options"]  # -h, --help
    assert "None" not in result.stdout


def test_train_refuses_to_overwrite_a_run(char_run, corpus):
    before = (char_run / "latest.npz").read_bytes()
    result = invoke("train", corpus, "-o", char_run, "--steps", "1")
    assert result.exit_code == 2
    assert f"{char_run} already holds a run: continue it with --resume {char_run}" in result.stderr
    assert (char_run / "latest.npz").read_bytes() == before


def test_train_refuses_a_run_directory_another_process_is_writing(char_run, tmp_path):
    """--resume on a run whose lock is held (as by a training process) exits with 1 and one
    line naming the directory, and touches none of its files."""
    from seqkit.runs.directory import lock_run_dir
    run = copied_run(char_run, tmp_path)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    lock = lock_run_dir(run)
    try:
        result = invoke("train", "--resume", run, "--steps", "9")
    finally:
        lock.close()
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {run} is in use by another seqkit train: wait for that one to finish, or train into "
        f"another directory (--out)"]
    assert "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


# --- stopping rules and --resume ------------------------------------------------------------------------
def test_steps_alone_trains_past_the_default_epochs_and_says_what_stopped(short_corpus, tmp_path):
    by_epochs = invoke("train", short_corpus, "-o", tmp_path / "a", *SMALL)
    assert by_epochs.exit_code == 0, by_epochs.output
    epoch_steps = records(tmp_path / "a", "train")[-1]["step"]
    assert f"stopped: --epochs 10 reached at step {epoch_steps}; " in by_epochs.stderr
    by_steps = invoke("train", short_corpus, "-o", tmp_path / "b", "--steps", epoch_steps + 7, *SMALL)
    assert by_steps.exit_code == 0, by_steps.output
    assert f"stopped: --steps {epoch_steps + 7} reached at step {epoch_steps + 7}; " in by_steps.stderr


def test_given_stopping_rules_replace_the_runs(short_corpus, tmp_path):
    run = tmp_path / "run"
    assert invoke("train", short_corpus, "-o", run, *SMALL).exit_code == 0  # stopped by --epochs 10
    epoch_steps = records(run, "train")[-1]["step"]
    result = invoke("train", "--resume", run, "--steps", epoch_steps + 3)
    assert result.exit_code == 0, result.output
    assert f"changed: --epochs 10 -> none, --steps none -> {epoch_steps + 3}" in result.stderr
    assert f"stopped: --steps {epoch_steps + 3} reached at step {epoch_steps + 3}; " in result.stderr


def test_stop_patience_stops_keeping_the_best_and_a_resume_knows_how_many_passed(corpus, tmp_path, monkeypatch):
    """Validation losses 2.0, 1.5 (the best, at step 2), then worse: stopped at step 4 by --steps with two
    evaluations gone by, the resumed run stops at the third."""
    losses = iter([2.0, 1.5, 1.6, 1.7, 1.6, 1.8])
    monkeypatch.setattr(Trainer, "evaluate", lambda self: summarize(next(losses), 1, "char"))
    run = tmp_path / "run"
    options = ["--hidden", "8", "--layers", "1", "--batch-size", "4", "--seq-len", "8", "--seed", "0",
               "--sample-length", "0", "--eval-every", "1", "--stop-patience", "3"]
    assert invoke("train", corpus, "-o", run, "--steps", "4", *options).exit_code == 0
    assert load_arrays(run / "best.npz")[1]["step"] == 2 and load_arrays(run / "latest.npz")[1]["stale_evaluations"] == 2
    result = invoke("train", "--resume", run, "--steps", "20")
    assert result.exit_code == 0, result.output
    assert ("stopped: no better validation loss in 3 evaluations, best 1.500 at step 2; sample the best "
            f"with: seqkit sample {run} --best\n") in result.stderr
    again = invoke("train", "--resume", run, "--steps", "30")
    assert again.stderr.endswith("nothing to do: the run stopped at step 5 with no better validation loss in 3 "
                                 "evaluations, best 1.500 at step 2; to train on, resume with a larger --stop-patience "
                                 "(or another stopping rule)\n")
    longer = invoke("train", "--resume", run, "--steps", "6", "--stop-patience", "5")
    assert longer.exit_code == 0 and "changed: --steps 20 -> 6, --stop-patience 3 -> 5" in longer.stderr, longer.output
    assert "stopped: --steps 6 reached at step 6" in longer.stderr


def test_resume_continues_to_more_steps(char_run, tmp_path):
    run = copied_run(char_run, tmp_path)
    result = invoke("train", "--resume", run, "--steps", RUN_STEPS + 2)
    assert result.exit_code == 0, result.output
    assert f"resuming {run} at step {RUN_STEPS}" in result.stderr
    assert f"stopped: --steps {RUN_STEPS + 2} reached at step {RUN_STEPS + 2}" in result.stderr


def test_a_resume_with_nothing_to_do_says_so_and_changes_nothing(corpus, tmp_path):
    """Without a new stopping rule, or with one the run has already passed: no step, no file
    changed, no change recorded."""
    run = tmp_path / "run"
    assert invoke("train", corpus, "-o", run, "--steps", 5, *SMALL).exit_code == 0
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    result = invoke("train", "--resume", run)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == ("nothing to do: the run reached --steps 5 at step 5; to train on, "
                                              "resume with a larger --steps (or another stopping rule)")
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    result = invoke("train", "--resume", run, "--steps", 3)
    assert result.exit_code == 0 and "nothing to do: the run reached --steps 3 at step 5" in result.stderr
    assert "changed:" not in result.stderr
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_resume_changes_what_steers_training_and_records_it(corpus, tmp_path):
    run = tmp_path / "run"
    started = invoke("train", corpus, "-o", run, "--steps", 5, "--lr-schedule", "constant", "--warmup", 0,
                     "--lr", 0.004, "--dropout", 0.2, *SMALL)
    assert started.exit_code == 0, started.output
    result = invoke("train", "--resume", run, "--steps", 9, "--lr", 0.001, "--dropout", 0, "--clip", 1,
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


def test_a_decay_interval_given_on_resume_picks_the_step_schedule(corpus, tmp_path):
    run = tmp_path / "run"
    assert invoke("train", corpus, "-o", run, "--steps", 2, *SMALL).exit_code == 0
    result = invoke("train", "--resume", run, "--steps", 6, "--lr-decay-every", 2, "--lr-decay", 0.5, "--warmup", 0)
    assert result.exit_code == 0, result.output
    assert "--lr-schedule cosine -> step" in result.stderr
    rates = {r["step"]: r["lr"] for r in records(run, "train")}
    # record n is the update that followed step n - 1: 4e-3 halved at steps 2 and 4
    assert [rates[step] for step in (3, 4, 5, 6)] == [2e-3, 2e-3, 1e-3, 1e-3]


def test_the_training_clock_goes_on_across_a_resume(corpus, tmp_path):
    run = tmp_path / "run"
    assert invoke("train", corpus, "-o", run, "--steps", 3, *SMALL).exit_code == 0
    assert invoke("train", "--resume", run, "--steps", 6).exit_code == 0
    seconds = [r["seconds"] for r in records(run, "train")]
    assert len(seconds) == 6 and seconds == sorted(seconds) and seconds[0] >= 0
    assert [r["seconds"] for r in records(run, "eval")][-1] >= seconds[-1]


def test_an_unchanged_resume_continues_exactly(corpus, tmp_path):
    """Changing only the stopping rule under a constant schedule: the same model as one run."""
    common = [*SMALL, "--lr-schedule", "constant"]
    assert invoke("train", corpus, "-o", tmp_path / "straight", "--steps", 8, *common).exit_code == 0
    assert invoke("train", corpus, "-o", tmp_path / "split", "--steps", 4, *common).exit_code == 0
    assert invoke("train", "--resume", tmp_path / "split", "--steps", 8).exit_code == 0
    straight, split = (load_arrays(tmp_path / name / "latest.npz")[0] for name in ("straight", "split"))
    assert straight.keys() == split.keys()
    assert all(np.array_equal(straight[k], split[k]) for k in straight)


def test_resume_follows_a_moved_corpus_only_to_the_same_text(text_file, tmp_path):
    corpus = text_file(len(shakespeare()))  # a corpus of its own, which the test moves
    run = tmp_path / "run"
    assert invoke("train", corpus, "-o", run, "--steps", 3, *SMALL).exit_code == 0
    moved = corpus.rename(tmp_path / "moved.txt")
    lost = invoke("train", "--resume", run, "--steps", 4)
    assert lost.exit_code == 1 and "Traceback" not in lost.output
    assert lost.stderr == (f"Error: the corpus of the run in {run}, {corpus}, is not there: if it moved, say "
                           f"where with --corpus\n")
    other = tmp_path / "other.txt"
    other.write_text(moved.read_text().upper())
    refused = invoke("train", "--resume", run, "--steps", 4, "--corpus", other)
    assert refused.exit_code == 1
    assert f"Error: {other} is not the text the run in {run} started on" in refused.stderr
    followed = invoke("train", "--resume", run, "--steps", 4, "--corpus", moved)
    assert followed.exit_code == 0, followed.output
    assert f"--corpus {corpus} -> {moved}" in followed.stderr
    assert json.loads((run / "config.json").read_text())["config"]["corpus"] == str(moved)
    assert load_arrays(run / "latest.npz")[1]["step"] == 4


def test_resume_refuses_what_it_cannot_change(char_run, corpus):
    result = invoke("train", "--resume", char_run, "--cell", "gru", "--hidden", 16)
    assert result.exit_code == 2
    assert ("Error: a resumed run keeps its model, tokenizer, data, batch and optimizer, so --cell, --hidden cannot "
            "change; it can change --epochs, --steps, --time, --lr,") in result.stderr
    assert invoke("train", "--resume", char_run, corpus).exit_code == 2
    alone = invoke("train", corpus, "--corpus", corpus)
    assert alone.exit_code == 2 and "--corpus points a resumed run at its moved corpus" in alone.stderr


# --- recipes: --config -----------------------------------------------------------------------------------
def test_a_runs_config_json_repeats_the_run_to_the_same_bytes(char_run, tmp_path):
    again = tmp_path / "again"
    result = invoke("train", "--config", char_run / "config.json", "-o", again)
    assert result.exit_code == 0, result.output
    assert (again / "latest.npz").read_bytes() == (char_run / "latest.npz").read_bytes()
    assert json.loads((again / "config.json").read_text())["config"] == json.loads(
        (char_run / "config.json").read_text())["config"]


@pytest.mark.parametrize("name, text", [
    ("recipe.toml", 'corpus = "tiny.txt"\nhidden = 8\nlayers = 1\nbatch_size = 4\nseq_len = 8\ntime = 5\n'
                    'steps = 3\nsample_length = 0\nseed = 0\nvariational = true\n'),
    ("recipe.json", '{"corpus": "tiny.txt", "hidden": 8, "layers": 1, "batch_size": 4, "seq_len": 8, "time": 5, '
                    '"steps": 3, "sample_length": 0, "seed": 0, "variational": true}'),
])
def test_a_recipe_file_gives_the_options_and_the_command_line_wins(corpus, tmp_path, name, text):
    (tmp_path / "tiny.txt").write_text(corpus.read_text())
    (tmp_path / name).write_text(text)
    run = tmp_path / "run"
    result = invoke("train", "--config", tmp_path / name, "-o", run, "--steps", "2")
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["corpus"] == str(tmp_path / "tiny.txt")  # relative to the file's folder
    assert (config["hidden"], config["minutes"], config["steps"], config["variational"]) == (8, 5, 2, True)


@pytest.mark.parametrize("text, line", [
    ("hiden = 8\n", "the key 'hiden' is not an option of seqkit train (keys are its options with underscores"),
    ('hidden = "big"\n', 'hidden = "big" is not valid: \'big\' is not a valid integer'),
    ("val_fraction = 2.0\n", "val_fraction = 2.0 is not valid: 2.0 is not in the range 0<x<1."),
    ("one_hot = 1\n", "one_hot = 1 is not valid: give true or false"),
    ("resume = \"runs/x\"\n", "the key 'resume' is given on the command line, not in a recipe"),
    ("hidden = \n", "is not valid TOML"),
])
def test_a_bad_recipe_is_one_line_naming_the_key_and_the_file(tmp_path, text, line):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(text)
    result = invoke("train", "--config", recipe, "-o", tmp_path / "run")
    refused(result, tmp_path / "run", 2, f"{recipe}", line)


def test_a_recipe_does_not_go_with_resume(char_run, tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text("hidden = 8\n")
    result = invoke("train", "--resume", char_run, "--config", recipe)
    assert result.exit_code == 2 and "--config gives a new run's recipe and --resume continues a run" in result.stderr


# --- fine-tuning: --init-from -----------------------------------------------------------------------------
@pytest.fixture
def new_corpus(tmp_path):
    path = tmp_path / "new.txt"
    path.write_text(FINE_TUNING_TEXT)
    return path


def test_fine_tuning_through_the_cli(word_run, new_corpus, tmp_path):
    source = word_run
    result = invoke("train", new_corpus, "--init-from", source, "--best", "-o", tmp_path / "ft", "--steps", 2,
                    "--batch-size", 2, "--seq-len", 8, "--sample-length", 0)
    assert result.exit_code == 0, result.output
    assert (f"fine-tuning from {source / 'best.npz'}: 60 tokens of the corpus are not in its vocabulary and "
            f"read as <unk>") in result.stderr
    saved = json.loads((tmp_path / "ft" / "config.json").read_text())
    recorded = json.loads((source / "config.json").read_text())
    assert saved["init_from"] == {"run": str(source.resolve()), "checkpoint": "best.npz",
                                  "vocab_size": recorded["vocab_size"]}
    assert saved["config"]["hidden"] == recorded["config"]["hidden"] == 16
    assert saved["config"]["embed"] == recorded["config"]["embed"]
    assert saved["config"]["text"]["level"] == "word" and saved["config"]["corpus"] == str(new_corpus)
    grown = invoke("train", new_corpus, "--init-from", source, "--extend-vocab", "-o", tmp_path / "grown",
                   "--steps", 2, "--batch-size", 2, "--seq-len", 8)
    assert grown.exit_code == 0, grown.output
    assert f"fine-tuning from {source / 'latest.npz'}: its vocabulary of {saved['vocab_size']} grows by 2 tokens" in grown.stderr
    assert invoke("train", "--resume", tmp_path / "grown", "--steps", 3).exit_code == 0


@pytest.mark.parametrize("args, message", [
    (["--hidden", "64"], "--init-from takes the architecture, tokenizer and vocabulary of {source}: leave out --hidden"),
    (["--level", "char", "--one-hot"], "leave out --level, --one-hot"),
])
def test_fine_tuning_refuses_a_new_architecture(word_run, new_corpus, args, message):
    result = invoke("train", new_corpus, "--init-from", word_run, *args)
    assert result.exit_code == 2 and message.format(source=word_run) in result.stderr


def test_the_fine_tuning_flags_need_init_from(new_corpus, word_run):
    assert "Error: --extend-vocab goes with --init-from RUN" in invoke("train", new_corpus, "--extend-vocab").stderr
    both = invoke("train", "--resume", word_run, "--init-from", word_run)
    assert both.exit_code == 2 and "--init-from starts a new run and --resume continues one" in both.stderr


# --- --plot and --workers ---------------------------------------------------------------------------------
def test_train_plot_redraws_the_curves_at_each_evaluation(corpus, tmp_path):
    result = invoke("train", corpus, "-o", tmp_path / "run", "--steps", 8, "--plot", *SMALL, "--eval-every", 4)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "curves.png").read_bytes().startswith(b"\x89PNG")


def test_train_plot_without_matplotlib_says_so(monkeypatch):
    for module in ("seqkit.cli.plotting", "seqkit.cli.main"):
        monkeypatch.setattr(f"{module}.has_matplotlib", lambda: False)
    refused = invoke("train", "--plot", "--steps", 1)
    assert refused.exit_code == 2 and "--plot needs matplotlib" in refused.stderr


def test_workers_without_the_extra_say_how_to_install_it(monkeypatch):
    from seqkit.cli import workers
    monkeypatch.setattr(workers.importlib.util, "find_spec", lambda name: None)
    result = invoke("train", "--workers", "2")
    assert result.exit_code == 1
    assert 'Error: --workers needs MPI: pip install "seqkit[mpi]"' in result.stderr


# --- options it cannot use --------------------------------------------------------------------------------
@pytest.mark.parametrize("options, exit_code, phrase", [
    (["--hidden", "0"], 2, "Invalid value for '--hidden': 0 is not in the range x>=1"),
    (["--layers", "-1"], 2, "Invalid value for '--layers': -1 is not in the range x>=1"),
    (["--seq-len", "0"], 2, "Invalid value for '--seq-len'"),
    (["--embed", "0"], 2, "Invalid value for '--embed'"),
    (["--dropout", "1"], 2, "Invalid value for '--dropout': 1.0 is not in the range 0<=x<1"),
    (["--dropout", "-0.1"], 2, "Invalid value for '--dropout'"),
    (["--val-fraction", "0"], 2, "Invalid value for '--val-fraction'"),
    (["--optimizer", "adamw"], 2, "Invalid value for '--optimizer': 'adamw' is not one of"),
    (["--cell", "transformer"], 2, "Invalid value for '--cell': 'transformer' is not one of"),
    (["--lr", "fast"], 2, "Invalid value for '--lr'"),
    (["--lr", "0"], 2, "Invalid value for '--lr'"),
    (["--lr", "inf"], 2, "Invalid value for '--lr': 'inf' is not a finite number"),
    (["--lr", "nan"], 2, "Invalid value for '--lr': 'nan' is not a finite number"),
    (["--forget-bias", "nan"], 2, "Invalid value for '--forget-bias': 'nan' is not a finite number"),
    (["--time", "nan"], 2, "Invalid value for '--time': 'nan' is not a finite number"),
    (["--embed", "8", "--one-hot"], 2, "--embed and --one-hot exclude each other"),
    (["--val-fraction", "0.0001"], 1, "too few to evaluate: raise --val-fraction or give a --val-file"),
    (["--batch-size", "100000", "--seq-len", "100"], 1,
     "--batch-size 100000 streams of --seq-len 100 need at least 10100000"),
])
def test_bad_options_are_refused_with_one_line(corpus, tmp_path, options, exit_code, phrase):
    run = tmp_path / "run"
    result = invoke("train", corpus, "-o", run, "--steps", "1", *options)
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and phrase in errors[0], result.stderr
    assert not (run / "config.json").exists()


TRAIN_INTEGERS = [p for p in main.commands["train"].params if p.type.name.startswith("integer")]


@pytest.mark.parametrize("option", TRAIN_INTEGERS, ids=lambda p: p.opts[-1])
def test_every_integer_option_of_train_ends_cleanly_at_any_value(option, corpus, tmp_path):
    """0, -1, 2**63 and 10**30: a run, or one line naming the option (or what to lower) — never
    a traceback or an allocation of that size."""
    flag = max(option.opts, key=len)
    for value in [0, -1, 2 ** 63, 10 ** 30]:
        result = invoke("train", corpus, "-o", tmp_path / str(value), "--time", "0.003", "--hidden", "8", "--layers", "1",
                        "--batch-size", "4", "--seq-len", "8", "--sample-length", "5", flag, value)
        assert isinstance(result.exception, (SystemExit, type(None))), (flag, value, result.output)
        assert result.exit_code in (0, 1, 2), (flag, value, result.output)
        if result.exit_code:
            errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
            assert len(errors) == 1 and (flag in errors[0] or "lower --" in errors[0]), (flag, value, result.stderr)


# --- corpora it cannot read: each names the file and the problem (a BOM and CRLF are no error) ---------
TINY = ["--hidden", "8", "--layers", "1", "--batch-size", "2", "--seq-len", "8", "--steps", "1",
        "--sample-length", "0", "--seed", "0"]
TEXT = shakespeare()


def train(tmp_path, corpus, *options):
    run = tmp_path / "run"
    return invoke("train", corpus, "-o", run, *TINY, *options), run


def test_a_missing_path_and_a_directory_without_text(tmp_path):
    result, run = train(tmp_path, tmp_path / "nowhere.txt")
    refused(result, run, 2, f"'{tmp_path / 'nowhere.txt'}' does not exist")
    (tmp_path / ".hidden.txt").write_text(TEXT)
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)))
    result, run = train(tmp_path, tmp_path)
    refused(result, run, 1, f"{tmp_path} holds no text file (2 skipped: hidden, not regular files or not text)")


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
    assert re.fullmatch(r"Error: the training text has \d+ tokens, but --batch-size 4 streams of --seq-len 50 "
                        r"need at least 204: use a longer corpus or lower those options\n", result.stderr)
    assert not run.exists()


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


def test_a_bom_and_crlf_line_endings_are_read_as_plain_text(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(b"\xef\xbb\xbf" + TEXT.replace("\n", "\r\n").encode())
    result, run = train(tmp_path, corpus)
    assert result.exit_code == 0, result.output
    tokens = json.loads((run / "vocab.json").read_text())["tokens"]
    assert "\ufeff" not in tokens and "\r" not in tokens


# --- faults while training: one line, the last good checkpoint intact and resumable --------------------
def disk_full(*args, **kwargs):
    raise OSError(28, "No space left on device")


def break_training(monkeypatch, fault):
    """Make every training step from now on meet `fault`: nan-loss, inf-gradient or full-disk."""
    forward, backward = Model.forward, Model.backward

    def nan_loss(self, *args, **kwargs):
        _, state, cache = forward(self, *args, **kwargs)
        return float("nan"), state, cache

    def inf_gradient(self, *args, **kwargs):
        grads, dstate = backward(self, *args, **kwargs)
        next(iter(grads.values())).flat[0] = np.inf
        return grads, dstate

    if fault == "full-disk":
        monkeypatch.setattr(np.lib.format, "write_array", disk_full)
    elif fault == "nan-loss":
        monkeypatch.setattr(Model, "forward", nan_loss)
    else:
        monkeypatch.setattr(Model, "backward", inf_gradient)


@pytest.mark.parametrize("fault, phrase", [
    ("nan-loss", f"the loss or gradient was not finite {MAX_BAD_STEPS} steps in a row"),
    ("inf-gradient", f"the loss or gradient was not finite {MAX_BAD_STEPS} steps in a row"),
    ("full-disk", "could not write"),
])
def test_a_fault_ends_seqkit_train_with_one_line_and_the_checkpoint_intact(corpus, tmp_path, monkeypatch, fault, phrase):
    run = tmp_path / "run"
    tiny = ["--hidden", "8", "--layers", "1", "--batch-size", "2", "--seq-len", "8", "--sample-length", "0"]
    started = invoke("train", corpus, "-o", run, "--steps", "2", *tiny)
    assert started.exit_code == 0, started.output
    before = (run / "latest.npz").read_bytes()
    break_training(monkeypatch, fault)
    result = invoke("train", "--resume", run, "--steps", "50")  # no evaluation, so no checkpoint, on the way
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and phrase in errors[0], result.stderr
    assert (run / "latest.npz").read_bytes() == before
    monkeypatch.undo()
    resumed = invoke("train", "--resume", run, "--steps", "3")
    assert resumed.exit_code == 0 and "stopped: --steps 3 reached at step 3" in resumed.stderr, resumed.output


def test_standard_input_and_a_fifo_are_read_once_into_the_run_which_resumes_on_them(tmp_path):
    """`seqkit train -` and a FIFO: the text read once (a writer closes the FIFO after one pass),
    kept as RUN/corpus.txt, on which the run trains and resumes; a stream that is not text
    leaves no run directory."""
    import threading
    options = ["--hidden", "16", "--layers", "1", "--batch-size", "4", "--seq-len", "16", "--sample-length", "0"]
    text = shakespeare(20_000)
    result = invoke("train", "-", "-o", tmp_path / "piped", "--steps", "2", *options, input=text.encode())
    assert result.exit_code == 0, result.output
    assert (tmp_path / "piped" / "corpus.txt").read_text() == text
    result = invoke("train", "--resume", tmp_path / "piped", "--steps", "3")
    assert result.exit_code == 0 and load_arrays(tmp_path / "piped" / "latest.npz")[1]["step"] == 3, result.output
    os.mkfifo(tmp_path / "fifo")
    writer = threading.Thread(target=lambda: (tmp_path / "fifo").write_text(text))
    writer.start()
    result = invoke("train", tmp_path / "fifo", "-o", tmp_path / "named", "--steps", "2", *options)
    writer.join()
    assert result.exit_code == 0 and (tmp_path / "named" / "corpus.txt").read_text() == text, result.output
    result = invoke("train", "-", "-o", tmp_path / "binary", "--steps", "2", *options, input=b"\x00\x01\x02")
    assert result.exit_code == 1 and "binary" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "binary").exists()
