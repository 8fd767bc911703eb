"""The one-call API: seqkit.train with the command's options as keywords, returning the model."""
import json

import numpy as np
import pytest

import seqkit
from seqkit.runs.checkpoint import load_arrays

SMALL = dict(hidden=8, layers=1, batch_size=4, seq_len=8, seed=0, sample_length=0)


def test_train_takes_the_commands_options_and_returns_the_model(corpus, tmp_path, capsys):
    lm = seqkit.train(corpus, out=tmp_path / "run", steps=5, time=10, progress=False, **SMALL)
    assert isinstance(lm, seqkit.LanguageModel) and capsys.readouterr().err == ""
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert saved["steps"] == 5 and saved["minutes"] == 10 and saved["hidden"] == 8 and saved["embed"] == 64
    assert load_arrays(tmp_path / "run" / "latest.npz")[1]["step"] == 5
    assert lm.checkpoint == tmp_path / "run" / "latest.npz"
    assert len(lm.sample(length=20, seed=1)[0]) > 0


def test_train_gives_what_the_command_gives(corpus, tmp_path):
    """The same options through the function and the command: the same checkpoint bytes."""
    from click.testing import CliRunner

    from seqkit.cli.main import main
    seqkit.train(corpus, out=tmp_path / "function", steps=3, level="word", one_hot=True, progress=False, **SMALL)
    result = CliRunner().invoke(main, ["train", str(corpus), "-o", str(tmp_path / "command"), "--steps", "3",
                                       "--level", "word", "--one-hot", "--hidden", "8", "--layers", "1",
                                       "--batch-size", "4", "--seq-len", "8", "--seed", "0", "--sample-length", "0"])
    assert result.exit_code == 0, result.output
    for name in ("latest.npz", "vocab.json"):
        assert (tmp_path / "function" / name).read_bytes() == (tmp_path / "command" / name).read_bytes()


def test_resume_and_fine_tune_through_the_function(corpus, tmp_path):
    seqkit.train(corpus, out=tmp_path / "run", steps=3, progress=False, **SMALL)
    lm = seqkit.train(resume=tmp_path / "run", steps=6, lr=1e-3, progress=False)
    assert load_arrays(lm.checkpoint)[1]["step"] == 6 and lm.config.lr == 1e-3
    tuned = seqkit.train(corpus, init_from=tmp_path / "run", out=tmp_path / "tuned", steps=2, progress=False)
    assert tuned.config.hidden == 8 and tuned.vocab.tokens == lm.vocab.tokens
    with pytest.raises(ValueError, match="init_from takes the architecture, tokenizer and vocabulary of .*: leave out hidden"):
        seqkit.train(corpus, init_from=tmp_path / "run", hidden=16, progress=False)


def test_progress_line_on_request(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("seqkit.api.PROGRESS_EVERY", 0.0)
    seqkit.train(corpus, out=tmp_path / "run", steps=4, progress=True, **SMALL)
    err = capsys.readouterr().err
    assert err.count("\rstep ") == 4 and "\rstep 4  100%  loss " in err and err.endswith("\n")


def test_generate_to_file_streams_samples_and_replaces_the_file_whole(corpus, tmp_path):
    lm = seqkit.train(corpus, out=tmp_path / "run", steps=2, progress=False, **SMALL)
    target = tmp_path / "samples.txt"
    target.write_text("old")
    lm.generate_to_file(target, count=3, separator="\n---\n", seed=5, length=30, temperature=0.8)
    assert target.read_text() == "\n---\n".join(lm.sample(length=30, temperature=0.8, count=3, seed=5))
    with pytest.raises(ValueError, match="temperature"):
        lm.generate_to_file(target, count=2, temperature=-1)
    assert target.read_text().count("\n---\n") == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".samples.txt")]  # no temporary file left


def test_save_writes_a_run_that_loads_samples_and_resumes(corpus, tmp_path):
    lm = seqkit.train(corpus, out=tmp_path / "run", steps=3, progress=False, **SMALL)
    lm.save(tmp_path / "copy")
    copy = seqkit.load(tmp_path / "copy")
    assert all(np.array_equal(copy.model.parameters[k], v) for k, v in lm.model.parameters.items())
    assert copy.sample(length=30, seed=2) == lm.sample(length=30, seed=2)
    assert json.loads((tmp_path / "copy" / "config.json").read_text())["saved_from"] == str(lm.checkpoint)
    resumed = seqkit.train(resume=tmp_path / "copy", steps=2, progress=False)
    assert load_arrays(resumed.checkpoint)[1]["step"] == 2
    with pytest.raises(Exception, match="already holds a run"):
        lm.save(tmp_path / "copy")
