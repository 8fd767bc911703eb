"""seqkit plot and train --plot: the curves read from metrics.jsonl, an image written whole,
and the terminal drawing."""
import json

import pytest
from click.testing import CliRunner

from seqkit.cli.main import main
from seqkit.corpora import path as corpus_path
from seqkit.runs.curves import SMOOTHING, read_curves

SMALL = ["--hidden", "8", "--layers", "1", "--batch-size", "4", "--seq-len", "8", "--seed", "0",
         "--sample-length", "0", "--eval-every", "4"]


def seqkit(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("plot")
    corpus = root / "corpus.txt"
    corpus.write_text(corpus_path().read_text()[:3000])
    for name, cell, level in (("lstm", "lstm", "char"), ("gru", "gru", "char"), ("words", "lstm", "word")):
        result = seqkit("train", corpus, "-o", root / name, "--steps", 12, "--cell", cell, "--level", level, *SMALL)
        assert result.exit_code == 0, result.output
    return root


def test_the_curves_are_the_runs_records(runs):
    curves = read_curves(runs / "lstm")
    records = [json.loads(line) for line in (runs / "lstm" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    assert curves.label == "lstm (lstm 1x8, char, lr 0.004)"
    assert curves.steps == list(range(1, 13)) and curves.lr == [r["lr"] for r in train]
    assert curves.loss[0] == train[0]["loss"]
    assert curves.loss[1] == pytest.approx(SMOOTHING * train[0]["loss"] + (1 - SMOOTHING) * train[1]["loss"])
    assert curves.seconds == [r["seconds"] for r in train] and curves.timed_loss == curves.loss
    assert curves.val_steps == [4, 8, 12] and curves.val_loss == [r["val_loss"] for r in evals]
    assert curves.val_loss[curves.best] == min(r["val_loss"] for r in evals)


@pytest.mark.parametrize("suffix, magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_an_image_of_several_runs(runs, tmp_path, suffix, magic):
    out = tmp_path / f"curves.{suffix}"
    result = seqkit("plot", runs / "lstm", runs / "gru", runs / "words", "-o", out)
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(magic) and len(data) > 10_000
    if suffix == "svg":  # the legend names both runs with their options
        assert "lstm (lstm 1x8, char, lr 0.004)" in data.decode() and "gru (gru 1x8, char, lr 0.004)" in data.decode()
        assert "words (lstm 1x8, word, lr 0.004)" in data.decode()


def test_the_terminal_plot_draws_both_panels_and_names_the_runs(runs):
    result = CliRunner().invoke(main, ["plot", str(runs / "lstm"), str(runs / "gru")],
                                env={"COLUMNS": "160", "LINES": "40"})  # room for the legend
    assert result.exit_code == 0, result.output
    assert "loss by step" in result.stdout and "loss by seconds of training" in result.stdout
    assert "lstm (lstm 1x8" in result.stdout and "gru (gru 1x8" in result.stdout
    assert "\x1b[" not in result.stdout  # not a terminal: no colour codes
    assert "*" in result.stdout  # the validation points


def test_bad_plots_are_one_line_errors(runs, tmp_path, monkeypatch):
    result = seqkit("plot", runs / "lstm", "-o", tmp_path / "curves.jpg")
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {tmp_path / 'curves.jpg'}: the image format comes from its extension, one of "
                             f".png, .svg, .pdf\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert seqkit("plot", empty).stderr == f"Error: {empty} has no metrics.jsonl: name a run directory that seqkit train wrote\n"
    for module in ("seqkit.cli.plotting", "seqkit.cli.main"):
        monkeypatch.setattr(f"{module}.has_matplotlib", lambda: False)
    missing = seqkit("plot", runs / "lstm", "-o", tmp_path / "c.png")
    assert missing.exit_code == 1 and 'pip install "seqkit[plot]"' in missing.stderr and not (tmp_path / "c.png").exists()
    refused = seqkit("train", "--plot", "--steps", 1)
    assert refused.exit_code == 2 and "--plot needs matplotlib" in refused.stderr


def test_train_plot_redraws_the_curves_at_each_evaluation(runs, tmp_path):
    corpus = runs / "corpus.txt"
    result = seqkit("train", corpus, "-o", tmp_path / "run", "--steps", 8, "--plot", *SMALL)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "curves.png").read_bytes().startswith(b"\x89PNG")
