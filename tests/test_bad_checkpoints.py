"""Damaged or foreign run files: `seqkit sample` and `seqkit train --resume` answer with one
error line naming the file, exit 1, no traceback, and change no file of the run. Nothing in a
run directory is ever unpickled."""
import io
import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from seqkit.cli.main import main
from seqkit.corpora import path as corpus_path
from seqkit.runs.checkpoint import load_arrays, save_arrays

TINY = ["--hidden", "8", "--layers", "1", "--batch-size", "2", "--seq-len", "8", "--steps", "2",
        "--eval-every", "2", "--sample-length", "0", "--seed", "0"]


@pytest.fixture
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    corpus = root / "c.txt"
    corpus.write_text(corpus_path().read_text()[:3000])
    result = CliRunner().invoke(main, ["train", str(corpus), "-o", str(root / "run"), *TINY])
    assert result.exit_code == 0, result.output
    return root / "run"


def refused_everywhere(run, *phrases):
    """sample and train --resume both refuse with one line holding the phrases; no file changes."""
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    for command in (["sample", str(run), "--length", "5"], ["train", "--resume", str(run), "--steps", "4"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
        for phrase in phrases:
            assert phrase in lines[0], lines[0]
        assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_a_truncated_checkpoint(run):
    data = (run / "latest.npz").read_bytes()
    (run / "latest.npz").write_bytes(data[:len(data) // 2])
    refused_everywhere(run, str(run / "latest.npz"), "is not a readable seqkit checkpoint")


def test_flipped_bytes_in_a_checkpoint(run):
    data = bytearray((run / "latest.npz").read_bytes())
    middle = len(data) // 2
    data[middle:middle + 8] = bytes(b ^ 0xFF for b in data[middle:middle + 8])
    (run / "latest.npz").write_bytes(bytes(data))
    refused_everywhere(run, str(run / "latest.npz"), "is not a readable seqkit checkpoint")


@pytest.mark.parametrize("change, phrase", [
    (lambda a: a[:-1], "model.output.weight is float32"),             # a row missing
    (lambda a: a.astype(np.float64), "model.output.weight is float64"),  # another dtype
])
def test_arrays_of_the_wrong_shape_or_dtype(run, change, phrase):
    arrays, meta = load_arrays(run / "latest.npz")
    arrays["model.output.weight"] = change(arrays["model.output.weight"])
    save_arrays(run / "latest.npz", arrays, meta)
    refused_everywhere(run, str(run / "latest.npz"), phrase)


def test_a_run_from_a_newer_seqkit(run):
    config = json.loads((run / "config.json").read_text())
    config["seqkit_version"] = "99.0.0"
    (run / "config.json").write_text(json.dumps(config))
    refused_everywhere(run, "was written by seqkit 99.0.0, newer than this seqkit", "upgrade seqkit")


def test_a_vocabulary_that_is_not_the_runs(run):
    vocab = json.loads((run / "vocab.json").read_text())
    vocab["tokens"] = vocab["tokens"] + ["\u2603"]
    (run / "vocab.json").write_text(json.dumps(vocab))
    refused_everywhere(run, str(run / "vocab.json"), "tokens but the run was trained with")


def test_a_pickled_object_planted_in_the_run_is_refused_and_never_run(run, tmp_path):
    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):
            return (exec, (f"import pathlib; pathlib.Path({str(marker)!r}).touch()",))

    buffer = io.BytesIO()
    np.save(buffer, np.array([Payload()], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(run / "latest.npz", "w") as archive:
        archive.writestr("model.output.weight.npy", buffer.getvalue())
        archive.writestr("__meta__.npy", buffer.getvalue())
    refused_everywhere(run, str(run / "latest.npz"), "is not a readable seqkit checkpoint")
    assert not marker.exists()
