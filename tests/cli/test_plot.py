"""`seqkit plot RUN...` through the command line: an image of several runs, written whole, the
terminal drawing, and one-line errors, on the shared runs and a GRU of conftest's architecture_runs. (The curves it reads:
tests/runs/test_curves.py; train --plot: tests/cli/test_train.py.)"""
import pytest
from shared import invoke


@pytest.mark.parametrize("suffix, magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_an_image_of_several_runs(char_run, word_run, architecture_runs, tmp_path, suffix, magic):
    out = tmp_path / f"curves.{suffix}"
    result = invoke("plot", char_run, architecture_runs["gru_one_hot"], word_run, "-o", out)
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(magic) and len(data) > 10_000
    if suffix == "svg":  # the legend names each run with its options
        assert "char (lstm 1x16, char, lr 0.004)" in data.decode() and "gru_one_hot (gru 2x12, char, lr 0.004)" in data.decode()
        assert "word (lstm 1x16, word, lr 0.004)" in data.decode()


def test_the_terminal_plot_draws_both_panels_and_names_the_runs(char_run, architecture_runs):
    result = invoke("plot", char_run, architecture_runs["gru_one_hot"],
                    env={"COLUMNS": "160", "LINES": "40"})  # room for the legend
    assert result.exit_code == 0, result.output
    assert "loss by step" in result.stdout and "loss by seconds of training" in result.stdout
    assert "char (lstm 1x16" in result.stdout and "gru_one_hot (gru 2x12" in result.stdout
    assert "\x1b[" not in result.stdout  # not a terminal: no colour codes
    assert "*" in result.stdout  # the validation points


def test_bad_plots_are_one_line_errors(char_run, tmp_path, monkeypatch):
    result = invoke("plot", char_run, "-o", tmp_path / "curves.jpg")
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {tmp_path / 'curves.jpg'}: the image format comes from its extension, one of "
                             f".png, .svg, .pdf\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke("plot", empty).stderr == f"Error: {empty} has no metrics.jsonl: name a run directory that seqkit train wrote\n"
    for module in ("seqkit.cli.plotting", "seqkit.cli.main"):
        monkeypatch.setattr(f"{module}.has_matplotlib", lambda: False)
    missing = invoke("plot", char_run, "-o", tmp_path / "c.png")
    assert missing.exit_code == 1 and 'pip install "seqkit[plot]"' in missing.stderr and not (tmp_path / "c.png").exists()
