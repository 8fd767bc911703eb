"""What every command shares, through the command line: the version (-V, python -m seqkit), the
options' defaults and choices read from the library (so the same options give the same run from
Python and the shell), and damaged or foreign run files, which `seqkit sample` and `seqkit train
--resume` answer with one error line naming the file, exit 1, no traceback, and no file of the run
changed (nothing in a run directory is ever unpickled)."""
import dataclasses
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from shared import RUN_STEPS, copied_run, invoke

import seqkit
from seqkit import cells
from seqkit.cli.main import build_config, train
from seqkit.config import TrainConfig
from seqkit.nn.init import SCHEMES
from seqkit.runs.checkpoint import load_arrays, save_arrays
from seqkit.text.options import TextOptions


def test_python_dash_m_seqkit_and_dash_capital_v(tmp_path):
    # From tmp_path: in the repository root, ./seqkit (without cli/, which installing maps in) would be found first.
    result = subprocess.run([sys.executable, "-m", "seqkit", "-V"], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == f"seqkit, version {seqkit.__version__}\n"


# --- one source for defaults and choices: the library's ----------------------------------------------
def cli_config(*args):
    """The TrainConfig `seqkit train ARGS` would train, built as the command builds it."""
    params = dict(train.make_context("train", list(args)).params)
    corpus = params.pop("corpus")
    # Where and how it trains, not what:
    for name in ("out", "resume_dir", "moved_corpus", "init_from", "best", "extend_vocab", "plot", "workers"):
        params.pop(name)
    return build_config(corpus, params)


def without_seed(config):
    d = config.to_dict()
    assert isinstance(d.pop("seed"), int)  # drawn and recorded when not given
    return d


@pytest.mark.parametrize("args, library", [
    ((), {}),
    (("--level", "word"), {"text": TextOptions(level="word")}),
    (("--level", "word", "--one-hot", "--hidden", "64"), {"text": TextOptions(level="word"), "embed": None,
                                                          "hidden": 64}),
    (("--lr-decay-every", "100"), {"lr_decay_every": 100}),
    (("--level", "word", "--dropout", "0"), {"text": TextOptions(level="word"), "dropout": 0.0}),
])
def test_the_cli_and_the_library_build_the_same_config(args, library):
    """Field by field, apart from the seed each draws: the defaults and the policy (an embedding
    of --hidden at word level, the step schedule when a decay interval is given) are the same."""
    assert without_seed(cli_config(*args)) == without_seed(TrainConfig(**library))


def test_the_cli_offers_the_library_s_choices_and_defaults():
    options = {p.name: p for p in train.params}
    assert tuple(options["cell"].type.choices) == cells.names()
    assert tuple(options["nonlinearity"].type.choices) == cells.option_choices("nonlinearity")
    assert tuple(options["init"].type.choices) == SCHEMES
    defaults = {f.name: f.default for cls in (TrainConfig, TextOptions) for f in dataclasses.fields(cls)}
    shown = [name for name, param in options.items() if getattr(param, "show_default", False)]
    assert len(shown) >= 30
    for name in shown:
        assert options[name].default == defaults[name], name


def test_sample_s_defaults_are_the_library_s():
    import inspect

    from seqkit.cli.main import sample
    from seqkit.lm import LanguageModel
    library = inspect.signature(LanguageModel.sample).parameters
    options = {p.name: p for p in sample.params}
    for name in ("length", "temperature", "count"):
        assert options[name].default == library[name].default, name


# --- damaged or foreign run files ------------------------------------------------------------------------
@pytest.fixture
def run(char_run, tmp_path):
    """A copy of the shared char run, for the test to damage."""
    return copied_run(char_run, tmp_path / "copy")


def refused_everywhere(run, *phrases):
    """sample and train --resume (to more steps than the run has) both refuse with one line holding
    the phrases; no file changes."""
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    for command in (["sample", run, "--length", 5], ["train", "--resume", run, "--steps", RUN_STEPS + 2]):
        result = invoke(*command)
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


def test_an_unknown_encoding_is_a_usage_error_naming_the_option(char_run, corpus):
    for command in (["train", corpus], ["eval", char_run, corpus]):
        result = invoke(*command, "--encoding", "klingon")
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert ("Error: Invalid value for '--encoding': 'klingon' is not a text encoding Python knows: give one "
                "such as utf-8 or latin-1") in result.stderr
    with pytest.raises(seqkit.OptionError, match="encoding must be a text encoding Python knows"):
        TrainConfig(encoding="klingon")


def test_output_the_terminal_cannot_show_is_one_line_saying_so(text_file, tmp_path):
    """PYTHONIOENCODING=ascii: a sample with a character ASCII lacks is refused in one line that
    says what to do; training shows its evaluation samples with that character escaped."""
    corpus = text_file(2000, "Caf\u00e9 au lait, caf\u00e9 noir.\n" * 20)
    environment = {**os.environ, "PYTHONIOENCODING": "ascii"}
    seqkit_command = [sys.executable, "-m", "seqkit"]
    trained = subprocess.run(seqkit_command + ["train", str(corpus), "-o", str(tmp_path / "run"), "--hidden", "8",
                                               "--layers", "1", "--steps", "2", "--eval-every", "1", "--sample-length",
                                               "300", "--seed", "3"], capture_output=True, text=True, env=environment,
                             cwd=tmp_path, timeout=300)
    assert trained.returncode == 0 and "Traceback" not in trained.stderr, trained.stderr
    sampled = subprocess.run(seqkit_command + ["sample", str(tmp_path / "run"), "--prime", "Caf\u00e9", "--seed", "1",
                                               "--length", "5"], capture_output=True, env=environment, cwd=tmp_path,
                             timeout=300)
    assert sampled.returncode == 1 and b"Traceback" not in sampled.stderr
    assert sampled.stderr.decode("ascii").strip().splitlines()[-1] == (
        "Error: the output's encoding (ascii) cannot show the text ('\\xe9'): set PYTHONIOENCODING=utf-8, or write to "
        "a file with -o")


def test_an_operating_systems_error_names_the_file_and_what_to_do():
    """The translation of OSError, the one place Python's wording is turned into seqkit's."""
    import errno

    from seqkit.cli.common import message
    assert message(OSError(errno.ENOSPC, "No space left on device", "runs/x/config.json")) == \
        "runs/x/config.json: No space left on device; make room on that disk, then try again"
    assert message(OSError(errno.EACCES, "Permission denied", "/etc/out.txt")) == \
        "/etc/out.txt: Permission denied; check its permissions"
    assert message(OSError(errno.EEXIST, "File exists")) == "File exists; give another name, or remove it"
