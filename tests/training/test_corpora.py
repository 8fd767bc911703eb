"""Corpora as users have them: several files and directories, each file a document; the files
recorded in config.json and checked on --resume; a corpus mapped from its token file (the bound
lowered to 0 here, so small texts take that path) trains to the bytes memory gives, and a second
run maps the same file; and every fault on the way one line, with nothing left half-written."""
import hashlib
import json
import re

import numpy as np
import pytest
from shared import invoke, shakespeare

import seqkit
import seqkit.errors
import seqkit.runs.tokenfile
from seqkit.config import TrainConfig
from seqkit.text.options import BOS_ID, EOS_ID
from seqkit.training.trainer import Trainer

TINY = ["--hidden", "8", "--layers", "1", "--batch-size", "2", "--seq-len", "8", "--sample-length", "0",
        "--seed", "0", "--eval-every", "1000"]


@pytest.fixture
def library(tmp_path):
    """A directory of three texts in two folders, a hidden file and an image beside them."""
    root = tmp_path / "library"
    for folder, name, start in (("poems", "a.txt", 0), ("poems", "b.txt", 700), ("letters", "c.txt", 1400)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / name).write_text(shakespeare(start + 700)[start:])
    (root / ".notes.txt").write_text("hidden")
    (root / "letters" / "scan.png").write_bytes(bytes(range(256)) * 4)
    return root


@pytest.fixture
def mapped(monkeypatch, tmp_path):
    """Every corpus tokenized into a token file and mapped, however small, in a cache of the test's own."""
    monkeypatch.setattr("seqkit.training.streams.CACHE_FROM", 0)
    monkeypatch.setenv("SEQKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_directory_trains_each_file_as_a_document_recorded_in_config_json(library, tmp_path):
    run = tmp_path / "run"
    result = invoke("train", library, "-o", run, "--steps", "2", *TINY)
    assert result.exit_code == 0, result.output
    assert "skipped 2 files under the corpus's folders: hidden, not regular files or not text\n" in result.stderr
    assert f"training on 3 files in {library} (" in result.stderr
    saved = json.loads((run / "config.json").read_text())
    files = [library / "letters" / "c.txt", library / "poems" / "a.txt", library / "poems" / "b.txt"]
    assert [f["path"] for f in saved["corpus_files"]] == [str(f) for f in files]  # sorted paths
    assert [f["bytes"] for f in saved["corpus_files"]] == [f.stat().st_size for f in files]
    assert [f["sha256"] for f in saved["corpus_files"]] == [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    trainer = Trainer.resume(run)
    trainer.release()
    for start, stop in trainer.tokens.documents:  # framed within each file, never run into the next
        assert trainer.tokens.ids[start] == BOS_ID and trainer.tokens.ids[stop - 1] == EOS_ID
    assert len(trainer.tokens.documents) == 3


def test_files_and_patterns_name_the_same_corpus(library, tmp_path):
    listed = TrainConfig(corpus=(str(library / "poems" / "b.txt"), str(library / "poems" / "a.txt")), steps=1)
    pattern = TrainConfig(corpus=str(library / "poems" / "*.txt"), steps=1)
    ids = []
    for config, name in ((listed, "listed"), (pattern, "pattern")):
        trainer = Trainer.start(config.replace(hidden=8, layers=1, batch_size=2, seq_len=8), tmp_path / name)
        trainer.release()
        ids.append(np.asarray(trainer.tokens.ids))
    assert np.array_equal(*ids)


def test_validation_is_taken_from_every_file(library):
    from seqkit.text.batching import split_ranges
    trainer = Trainer.start(TrainConfig(corpus=str(library), hidden=8, layers=1, batch_size=2, seq_len=8, steps=1,
                                        val_blocks=1), library.parent / "run")
    trainer.release()
    _, held = split_ranges(trainer.tokens.documents, 0.05, 1)
    assert [stop for _, stop in held] == [stop for _, stop in trainer.tokens.documents]  # each file's tail


def test_resume_names_the_file_that_changed_or_is_missing(library, tmp_path):
    run = tmp_path / "run"
    assert invoke("train", library, "-o", run, "--steps", "1", *TINY).exit_code == 0
    changed = library / "poems" / "b.txt"
    changed.write_text(changed.read_text().upper())
    result = invoke("train", "--resume", run, "--steps", "2")
    assert result.exit_code == 1 and result.stderr == (
        f"Error: {changed} is not the text the run in {run} started on (it changed, or is another file), so the run "
        f"cannot continue on it; start a new run instead\n")
    changed.unlink()
    result = invoke("train", "--resume", run, "--steps", "2")
    assert result.stderr == (f"Error: the corpus of the run in {run}, {changed}, is not there: if it moved, say where "
                             f"with --corpus\n")


def test_a_moved_directory_is_followed(library, tmp_path):
    run = tmp_path / "run"
    assert invoke("train", library, "-o", run, "--steps", "1", *TINY).exit_code == 0
    moved = library.rename(tmp_path / "moved")
    result = invoke("train", "--resume", run, "--steps", "2", "--corpus", moved)
    assert result.exit_code == 0, result.output
    assert json.loads((run / "config.json").read_text())["config"]["corpus"] == str(moved)


def test_a_mapped_corpus_trains_to_the_bytes_memory_gives_and_is_mapped_again(corpus, tmp_path, monkeypatch):
    memory = invoke("train", corpus, "-o", tmp_path / "memory", "--steps", "4", *TINY)
    assert memory.exit_code == 0 and "tokens:" not in memory.stderr
    monkeypatch.setattr("seqkit.training.streams.CACHE_FROM", 0)
    monkeypatch.setenv("SEQKIT_CACHE_DIR", str(tmp_path / "cache"))  # a cache of its own: none there yet
    first = invoke("train", corpus, "-o", tmp_path / "mapped", "--steps", "4", *TINY)
    assert first.exit_code == 0, first.output
    assert f"mapped from {tmp_path / 'cache' / 'tokens'}" in first.stderr and "tokenized before" not in first.stderr
    assert (tmp_path / "mapped" / "latest.npz").read_bytes() == (tmp_path / "memory" / "latest.npz").read_bytes()
    second = invoke("train", corpus, "-o", tmp_path / "again", "--steps", "4", *TINY)
    assert ", tokenized before\n" in second.stderr
    resumed = invoke("train", "--resume", tmp_path / "memory", "--steps", "5")  # a run tokenized in memory maps
    assert resumed.exit_code == 0 and ", tokenized before\n" in resumed.stderr, resumed.output


def test_a_token_file_from_another_seqkit_is_said_and_replaced(corpus, tmp_path, mapped, monkeypatch):
    assert invoke("train", corpus, "-o", tmp_path / "first", "--steps", "1", *TINY).exit_code == 0
    monkeypatch.setattr(seqkit.runs.tokenfile._version, "__version__", "9.9.9")
    result = invoke("train", corpus, "-o", tmp_path / "second", "--steps", "1", *TINY)
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "is not usable (it was written by seqkit 0.1.0, whose tokenizer may differ): " \
                               "tokenizing again" in notes[0].replace(seqkit.__version__, "0.1.0")


def test_a_full_disk_while_the_token_file_is_written_leaves_nothing(corpus, tmp_path, mapped, monkeypatch):
    def full(self, table, dtype, **record):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(seqkit.runs.tokenfile.FileSink, "_retype", lambda self, dtype, table=None: full(0, 0, 0))
    run = tmp_path / "run"
    result = invoke("train", corpus, "-o", run, "--steps", "1", *TINY)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("Error: could not write the token file ") and result.stderr.count("\n") == 1
    assert "(No space left on device): make room in " in result.stderr and "nothing was left half-written" in result.stderr
    assert not list((mapped / "tokens").glob(".*.tmp")) and not run.exists()


def test_a_file_that_changes_while_it_is_tokenized_is_one_line(text_file, tmp_path, monkeypatch):
    path = text_file(3000, name="changing.txt")
    config = TrainConfig(corpus=str(path), hidden=8, layers=1, batch_size=2, seq_len=8, steps=1)
    monkeypatch.setattr("seqkit.text.corpus.PIECE", 1000)

    def append(what, done, total):
        if done == 1000:
            with open(path, "a") as file:
                file.write("more")
    with pytest.raises(seqkit.errors.InputError, match=f"{path} changed while it was read"):
        Trainer.start(config, tmp_path / "run", progress=append)
    assert not (tmp_path / "run").exists()


def test_a_device_as_the_corpus_is_one_line(tmp_path):
    """A device is refused (read, it would never end); a FIFO is read once:
    tests/cli/test_train.py::test_standard_input_and_a_fifo_are_read_once_into_the_run_which_resumes_on_them."""
    result = invoke("train", "/dev/zero", "-o", tmp_path / "run", *TINY)
    assert result.exit_code == 1 and result.stderr == ("Error: /dev/zero is a character device, not a regular file: "
                                                       "give a text file or a directory of them\n")


# --- labels ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cased(tmp_path_factory):
    """(corpus, run): lowercase poems and uppercase letters in label folders, and a model trained
    on them (300 steps, about 2 s) that has learnt which case each label writes in."""
    root = tmp_path_factory.mktemp("cased")
    corpus = root / "corpus"
    for k in range(3):
        for label, text in (("poem", shakespeare(3000 * (k + 1))[3000 * k:].lower()),
                            ("letter", shakespeare(3000 * (k + 4))[3000 * (k + 3):].upper())):
            (corpus / label).mkdir(parents=True, exist_ok=True)
            (corpus / label / f"{k}.txt").write_text(text)
    run = root / "run"
    result = invoke("train", corpus, "--label-from", "dir", "-o", run, "--steps", "300", "--hidden", "32", "--layers",
                    "1", "--eval-every", "300", "--sample-length", "0", "--seed", "1", "--batch-size", "8",
                    "--seq-len", "32", "--lr", "0.01", "--warmup", "0")
    assert result.exit_code == 0, result.output
    return corpus, run


def upper_share(text):
    letters = [c for c in text if c.isalpha()]
    return sum(c.isupper() for c in letters) / len(letters)


def test_a_label_is_a_token_each_unit_starts_with_and_samples_condition_on_it(cased):
    corpus, run = cased
    tokens = json.loads((run / "vocab.json").read_text())["tokens"]
    assert tokens[3:5] == ["<label letter>", "<label poem>"]
    lm = seqkit.load(run)
    assert upper_share(lm.sample(length=300, label="letter", seed=3, temperature=0.5)[0]) > 0.9
    assert upper_share(lm.sample(length=300, label="poem", seed=3, temperature=0.5)[0]) < 0.1
    result = invoke("sample", run, "--label", "letter", "--length", "200", "--seed", "3", "--temperature", "0.5")
    assert result.exit_code == 0 and upper_share(result.stdout) > 0.9 and "<label" not in result.stdout
    assert invoke("sample", run, "--label", "letter", "--length", "200", "--seed", "3", "--temperature", "0.5",
                  "--stop-at-end").stdout.count("\n") == 1  # one unit: one line


def test_a_labelled_sample_takes_the_controls_and_labels_every_unit_of_its_prime(cased):
    """Stop strings (one ending in a line break among them), bans and a prime of several lines
    whose every unit the label begins, as in training; beam search refuses a label for now."""
    _, run = cased
    lm = seqkit.load(run)
    text = lm.sample(length=300, label="letter", seed=3, temperature=0.5, stop="\n")[0]
    assert text.endswith("\n") and text.count("\n") == 1
    assert "E" not in lm.sample(length=300, label="letter", seed=3, temperature=0.5, ban="E")[0]
    two_lines = lm.sample(length=200, label="letter", seed=3, temperature=0.5, prime="dear sir,\n")[0]
    assert upper_share(two_lines[len("dear sir,\n"):]) > 0.9  # the unit the prime's "\n" begins has the label
    with pytest.raises(seqkit.errors.OptionError, match="label does not yet work with beam"):
        lm.sample(length=20, label="letter", beam=2)


def test_a_validation_directory_is_labelled_as_the_corpus_is(cased, tmp_path):
    """--val-file of a labelled run is read with its labels: the same directory as validation
    text gives the training loss's scale, where read unlabelled it would hold no label token."""
    corpus, _ = cased
    result = invoke("train", corpus, "--label-from", "dir", "--val-file", corpus, "-o", tmp_path / "run",
                    "--steps", "2", "--eval-every", "2", *TINY)
    assert result.exit_code == 0, result.output
    lm = seqkit.load(tmp_path / "run")
    result = invoke("eval", tmp_path / "run", corpus, "--json")
    assert result.exit_code == 0, result.output
    val = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()][-1]
    units = sum(text.count("\n") + 1 for text in (p.read_text() for p in corpus.rglob("*.txt")))
    # Unlabelled, validation would lack a label token per unit: hundreds fewer than eval counts.
    assert abs(val["val_tokens"] - json.loads(result.stdout)["tokens"]) <= 1 < units
    assert set(lm.vocab.labels) == {"letter", "poem"}


def test_an_unknown_label_is_one_line_listing_the_known_ones(cased, corpus, char_run):
    _, run = cased
    result = invoke("sample", run, "--label", "memo")
    assert result.exit_code == 2 and result.stderr.splitlines()[-1] == (
        "Error: unknown --label 'memo': the model's labels are letter, poem")
    result = invoke("sample", char_run, "--label", "memo")
    assert result.exit_code == 2 and result.stderr.splitlines()[-1] == (
        "Error: --label 'memo': this model was trained without labels (train with --label-from to condition on them)")


def test_eval_reports_each_label(cased, tmp_path):
    corpus, run = cased
    result = invoke("eval", run, corpus)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and lines[1].startswith("  letter: loss ") and lines[2].startswith("  poem: loss ")
    report = json.loads(invoke("eval", run, corpus, "--json").stdout)
    assert set(report["labels"]) == {"letter", "poem"}
    assert report["labels"]["letter"]["tokens"] + report["labels"]["poem"]["tokens"] == report["tokens"]


def test_labels_by_line_prefix_train_evaluate_and_refuse_a_line_without_one(tmp_path):
    text = "".join(f"{'shout' if k % 2 else 'whisper'}\t{line.upper() if k % 2 else line.lower()}\n"
                   for k, line in enumerate(shakespeare(3000).splitlines()) if line)
    corpus = tmp_path / "lines.txt"
    corpus.write_text(text)
    run = tmp_path / "run"
    result = invoke("train", corpus, "--label-from", "prefix", "-o", run, "--steps", "2", *TINY)
    assert result.exit_code == 0, result.output
    assert seqkit.load(run).vocab.labels == {"shout": 3, "whisper": 4}
    assert [line.split(":")[0] for line in invoke("eval", run, corpus).stdout.splitlines()[1:]] == ["  shout",
                                                                                                     "  whisper"]
    corpus.write_text(text + "a line without its label\n")
    result = invoke("train", corpus, "--label-from", "prefix", "-o", tmp_path / "other", "--steps", "2", *TINY)
    line = text.count("\n") + 1
    assert result.exit_code == 1 and result.stderr == (f"Error: {corpus} line {line} has no tab: with --label-from "
                                                       f"prefix each line is label<TAB>text\n")


def test_tokenizing_shows_its_progress_in_mb_a_second(corpus, tmp_path, mapped, monkeypatch):
    monkeypatch.setattr("seqkit.cli.progress.SHOW_FROM", 0)
    monkeypatch.setattr("seqkit.cli.progress.LINE_EVERY", 0.0)
    monkeypatch.setattr("seqkit.text.corpus.PIECE", 1000)
    result = invoke("train", corpus, "-o", tmp_path / "run", "--steps", "1", *TINY)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith(("checking", "tokenizing"))]
    assert lines[0].startswith("checking ") and lines[-1].startswith("tokenizing ") and len(lines) == 4
    assert all(re.fullmatch(r"(checking|tokenizing) [\d,]+/[\d,]+ MB  \d+%  [\d,]+ MB/s", line) for line in lines)
    assert lines[-1].split()[3] == "100%"
