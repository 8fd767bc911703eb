"""`seqkit show RUN TEXT` through the command line: a page cut to --max-tokens and said, show.html
here by default, and one-line errors, for each of show's runs (conftest's show_runs)."""
import re

import pytest
from click.testing import CliRunner
from shared import page_data

from seqkit.cli.showing import show


def invoke(command, *args):
    return CliRunner().invoke(command, [str(a) for a in args])


@pytest.fixture(params=["char", "word", "char-lstm-2"])
def run(request, show_runs):
    return show_runs(request.param)


def test_a_long_text_is_cut_and_said(run, show_corpus, tmp_path):
    output = tmp_path / "page.html"
    result = invoke(show, run, show_corpus, "-o", output, "--max-tokens", 50)
    assert result.exit_code == 0, result.output
    assert re.search(r"cut .*text.txt to its first 50 of [\d,]+ tokens", result.stderr)
    data = page_data(output.read_text())
    assert data["shown"] == 50 and data["cut"] > 50
    assert "Cut to the first 50 of" in output.read_text()


def test_errors_are_one_line(run, show_corpus, tmp_path):
    missing_dir = invoke(show, run, show_corpus, "-o", tmp_path / "nowhere" / "page.html")
    assert missing_dir.exit_code == 2 and "Error:" in missing_dir.output and "nowhere" in missing_dir.output
    not_a_run = tmp_path / "empty_run"
    not_a_run.mkdir()
    bad = invoke(show, not_a_run, show_corpus, "-o", tmp_path / "p.html")
    assert bad.exit_code == 1 and bad.output.startswith("Error:") and "Traceback" not in bad.output
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    nothing = invoke(show, run, empty, "-o", tmp_path / "p.html")
    assert nothing.exit_code == 1 and "empty" in nothing.output and "Traceback" not in nothing.output
    no_text = invoke(show, run, tmp_path / "absent.txt")
    assert no_text.exit_code == 2 and "absent.txt" in no_text.output
    assert not (tmp_path / "p.html").exists()


def test_the_page_goes_to_show_html_here_by_default(run, show_corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(show, run, show_corpus)
    assert result.exit_code == 0, result.output
    assert result.stderr.strip().splitlines()[-1] == "wrote show.html"
    assert page_data((tmp_path / "show.html").read_text())["shown"] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["show.html"]  # no temporary file left
