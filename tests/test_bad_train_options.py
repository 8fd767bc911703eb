"""Options `seqkit train` cannot use: one error line naming the option and what it accepts (click's
own checks exit with 2, those that need the corpus with 1), no traceback, no run started."""
import pytest
from click.testing import CliRunner

from seqkit.cli.main import main
from seqkit.corpora import path as corpus_path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("options") / "c.txt"
    path.write_text(corpus_path().read_text()[:8000])
    return path


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
    result = CliRunner().invoke(main, ["train", str(corpus), "-o", str(run), "--steps", "1", *options])
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and phrase in errors[0], result.stderr
    assert not (run / "config.json").exists()
