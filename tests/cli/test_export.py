"""seqkit export RUN OUT.safetensors and seqkit import FILE -o RUN through the command line: a
model as one .safetensors file under PyTorch's word_language_model names. Export then import
gives the same parameters bit for bit (float32 and float64) and the same samples; a file written
by hand under PyTorch's names, with a vocabulary, imports and samples; every wrong shape, dtype or
option is one line naming the tensor and what was expected. Each architecture is a run of
conftest's architecture_runs. (The file itself, from Python: tests/runs/test_interop.py.)"""
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors import safe_open
from safetensors.numpy import save_file
from shared import ARCHITECTURES, hand_written

import seqkit
from seqkit.cli.interop import export, import_
from seqkit.cli.main import main
from seqkit.runs import checkpoint, interop


def run_cli(command, *args):
    result = CliRunner().invoke(command, [str(a) for a in args])
    assert isinstance(result.exception, (SystemExit, type(None))), result.exception  # no traceback
    return result


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# --- the round trip ---------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", list(ARCHITECTURES))
def test_export_then_import_gives_the_same_bits_and_samples(architecture_runs, tmp_path, variant):
    original = seqkit.load(architecture_runs[variant])
    file = tmp_path / "model.safetensors"
    result = run_cli(export, architecture_runs[variant], file)
    assert result.exit_code == 0, result.output
    assert result.stderr == f"wrote {file}\n" and result.stdout == ""
    result = run_cli(import_, file, "-o", tmp_path / "run")
    assert result.exit_code == 0, result.output
    for copy in (seqkit.load(file), seqkit.load(tmp_path / "run"), seqkit.load(tmp_path / "run", best=True)):
        assert set(copy.model.parameters) == set(original.model.parameters)
        for name, array in original.model.parameters.items():
            assert same_bits(copy.model.parameters[name], array), name
        assert copy.config == original.config and copy.vocab.to_dict() == original.vocab.to_dict()
        assert copy.sample(length=50, seed=1) == original.sample(length=50, seed=1)
    assert sorted(os.listdir(tmp_path / "run")) == ["best.npz", "config.json", "latest.npz", "vocab.json"]
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    recorded = json.loads((architecture_runs[variant] / "config.json").read_text())
    assert saved["corpus_sha256"] == recorded["corpus_sha256"] and saved["imported_from"]["seqkit_metadata"]


def test_tied_weights_are_written_twice_and_checked_equal(architecture_runs, tmp_path):
    file = tmp_path / "m.safetensors"
    seqkit.load(architecture_runs["word_tied"]).export(file)
    with safe_open(str(file), framework="np") as opened:
        assert np.array_equal(opened.get_tensor("encoder.weight"), opened.get_tensor("decoder.weight"))
        tensors, metadata = {name: opened.get_tensor(name) for name in opened.keys()}, opened.metadata()
    tensors["decoder.weight"] = tensors["decoder.weight"] + 1
    save_file(tensors, str(tmp_path / "untied.safetensors"), metadata=metadata)
    result = run_cli(import_, tmp_path / "untied.safetensors", "-o", tmp_path / "run")
    assert result.exit_code == 1
    assert result.output == (f"Error: {tmp_path / 'untied.safetensors'}: decoder.weight differs from encoder.weight, "
                             f"but the model ties them (tie_weights): save the one weight under both names\n")
    assert not (tmp_path / "run").exists()


# --- files written outside seqkit -------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["lstm32", "gru_one_hot", "rnn_relu64", "word_tied"])
def test_a_hand_written_pytorch_file_imports_with_its_vocabulary_and_samples(architecture_runs, tmp_path, variant):
    original = seqkit.load(architecture_runs[variant])
    file = tmp_path / "torch.safetensors"
    hand_written(original, file)
    extra = ["--nonlinearity", "relu"] if variant == "rnn_relu64" else []
    result = run_cli(import_, file, "-o", tmp_path / "run", "--vocab", architecture_runs[variant] / "vocab.json", *extra)
    assert result.exit_code == 0, result.output
    imported = seqkit.load(tmp_path / "run")
    for name, array in original.model.parameters.items():
        assert same_bits(imported.model.parameters[name], array), name
    # A state dict holds the weights alone, not the state seqkit's samples start from (in its metadata).
    assert imported.model.start_state is None and original.model.start_state is not None
    original.model.start_state = None
    assert imported.sample(length=50, seed=1) == original.sample(length=50, seed=1)
    for field in ("cell", "layers", "hidden", "embed", "tie_weights", "dtype", "nonlinearity", "text"):
        assert getattr(imported.config, field) == getattr(original.config, field), field
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["corpus_sha256"] is None and saved["imported_from"]["seqkit_metadata"] is False
    sampled = run_cli(main, "sample", tmp_path / "run", "--length", "40", "--seed", "3")
    assert sampled.exit_code == 0 and sampled.stdout == original.sample(length=40, seed=3)[0] + "\n"


# --- errors -----------------------------------------------------------------------------------------
def test_a_token_list_vocabulary_needs_its_level(architecture_runs, tmp_path):
    original = seqkit.load(architecture_runs["lstm32"])
    hand_written(original, tmp_path / "torch.safetensors")
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("".join(("\\n" if t == "\n" else t) + "\n" for t in original.vocab.tokens), encoding="utf-8")
    result = run_cli(import_, tmp_path / "torch.safetensors", "-o", tmp_path / "run", "--vocab", tokens)
    assert result.exit_code == 2
    assert result.output.endswith(f"Error: {tokens} lists the tokens but not how text is split into them: "
                                  f"give --level char or word\n")


def test_wrong_shapes_are_one_line_naming_the_tensor(architecture_runs, tmp_path):
    original = seqkit.load(architecture_runs["lstm32"])
    vocab = architecture_runs["lstm32"] / "vocab.json"
    V = len(original.vocab)
    cases = {
        "rnn.weight_hh_l1": (np.zeros((64, 15), np.float32), "rnn.weight_hh_l1 has shape (64, 15), expected "
                                                             "(64, 16) = (4*H, H) with H = 16"),
        "rnn.weight_ih_l0": (np.zeros((64, 9), np.float32), "rnn.weight_ih_l0 has shape (64, 9), expected "
                                                            "(64, 8) = (4*H, E) with H = 16, E = 8"),
        "decoder.bias": (np.zeros((V, 1), np.float32), f"decoder.bias has shape ({V}, 1), expected ({V},) = "
                                                       f"(V,) with V = {V}"),
    }
    for name, (array, message) in cases.items():
        tensors = {k: v.copy() for k, v in original.model.state_dict().items()}
        tensors[name] = array
        file = tmp_path / f"{name}.safetensors"
        save_file(tensors, str(file))
        result = run_cli(import_, file, "-o", tmp_path / "run", "--vocab", vocab)
        assert (result.exit_code, result.output) == (1, f"Error: {file}: {message}\n")
    assert not (tmp_path / "run").exists()


def test_missing_and_unexpected_tensors_and_a_foreign_vocabulary(architecture_runs, tmp_path):
    original = seqkit.load(architecture_runs["lstm32"])
    tensors = {k: v.copy() for k, v in original.model.state_dict().items()}
    del tensors["rnn.bias_hh_l1"]
    tensors["rnn.weight_hr_l0"] = np.zeros((4, 4), np.float32)
    file = tmp_path / "m.safetensors"
    save_file(tensors, str(file))
    result = run_cli(import_, file, "-o", tmp_path / "run", "--vocab", architecture_runs["lstm32"] / "vocab.json")
    assert (result.exit_code, result.output) == (1, f"Error: {file} does not hold a 2-layer lstm word_language_model: "
                                                    f"missing rnn.bias_hh_l1; unexpected rnn.weight_hr_l0\n")
    hand_written(original, file)
    result = run_cli(import_, file, "-o", tmp_path / "run", "--vocab", architecture_runs["word_tied"] / "vocab.json")
    words = len(seqkit.load(architecture_runs["word_tied"]).vocab)
    assert (result.exit_code, result.output) == (
        1, f"Error: the vocabulary has {words} tokens, but {file}'s decoder has {len(original.vocab)} rows "
           f"(one per token): give the vocabulary the model was trained with\n")
    save_file({"weight": np.zeros(3, np.float32)}, str(file))
    result = run_cli(import_, file, "-o", tmp_path / "run", "--vocab", architecture_runs["lstm32"] / "vocab.json")
    assert (result.exit_code, result.output) == (
        1, f"Error: {file} has no rnn.weight_hh_l0: it is not a word_language_model state dict (encoder.weight, "
           f"rnn.weight_ih_l0 ... rnn.bias_hh_l{{L-1}}, decoder.weight, decoder.bias); it holds weight\n")


def test_dtypes_other_than_float32_and_float64_and_mixed_ones_are_refused(architecture_runs, tmp_path):
    original = seqkit.load(architecture_runs["lstm32"])
    vocab = architecture_runs["lstm32"] / "vocab.json"
    tensors = {k: v.copy() for k, v in original.model.state_dict().items()}
    tensors["decoder.bias"] = tensors["decoder.bias"].astype(np.float16)
    file = tmp_path / "m.safetensors"
    save_file(tensors, str(file))
    result = run_cli(import_, file, "-o", tmp_path / "run", "--vocab", vocab)
    assert (result.exit_code, result.output) == (
        1, f"Error: {file}: decoder.bias is F16; seqkit reads F32 (float32) and F64 (float64) tensors: save the "
           f"model as float32 (model.float() in PyTorch)\n")
    tensors["decoder.bias"] = tensors["decoder.bias"].astype(np.float32)
    tensors["encoder.weight"] = tensors["encoder.weight"].astype(np.float64)
    save_file(tensors, str(file))
    result = run_cli(import_, file, "-o", tmp_path / "run", "--vocab", vocab)
    assert (result.exit_code, result.output) == (
        1, f"Error: {file}: encoder.weight is F64 but decoder.bias is F32: every tensor needs the same dtype\n")
    assert not (tmp_path / "run").exists()


def test_options_and_files_the_command_refuses(architecture_runs, tmp_path):
    file = tmp_path / "m.safetensors"
    seqkit.load(architecture_runs["lstm32"]).export(file)
    result = run_cli(import_, file, "-o", tmp_path / "run", "--level", "char")
    assert result.exit_code == 2 and result.output.endswith(
        f"Error: {file} carries its own configuration and vocabulary (seqkit metadata): drop --level\n")
    hand_written(seqkit.load(architecture_runs["lstm32"]), tmp_path / "torch.safetensors")
    result = run_cli(import_, tmp_path / "torch.safetensors", "-o", tmp_path / "run")
    assert result.exit_code == 2 and result.output.endswith(
        f"Error: {tmp_path / 'torch.safetensors'} has no seqkit metadata, so its vocabulary is needed: give --vocab "
        f"(a vocab.json as seqkit writes it, or a text file of the tokens, one a line in id order)\n")
    result = run_cli(import_, tmp_path / "torch.safetensors", "-o", tmp_path / "run", "--vocab",
                     architecture_runs["lstm32"] / "vocab.json", "--cell", "gru")
    assert result.exit_code == 2 and result.output.endswith(
        "Error: the gru cell has 3 gates, but rnn.weight_hh_l0 has 4*H rows: drop --cell or name a cell of 4 gates\n")
    (tmp_path / "text.safetensors").write_text("not a safetensors file")
    result = run_cli(import_, tmp_path / "text.safetensors", "-o", tmp_path / "run")
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith(f"Error: {tmp_path / 'text.safetensors'} is not a readable safetensors file (")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    result = run_cli(import_, file, "-o", tmp_path / "full")
    assert (result.exit_code, result.output) == (
        1, f"Error: {tmp_path / 'full'} exists and is not an empty directory: import into a new directory\n")
    result = run_cli(import_, file, "-o", architecture_runs["lstm32"])
    assert (result.exit_code, result.output) == (
        1, f"Error: {architecture_runs['lstm32']} already holds a run: import into a new directory\n")
    (tmp_path / "empty").mkdir()
    assert run_cli(import_, file, "-o", tmp_path / "empty").exit_code == 0  # an empty directory is taken
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ValueError, match="best=True picks"):
        seqkit.load(file, best=True)
    with pytest.raises(TypeError, match="vocab: options for a .safetensors file"):
        seqkit.load(architecture_runs["lstm32"], vocab="x")


def test_export_refuses_to_overwrite_unless_forced_and_writes_atomically(architecture_runs, tmp_path, monkeypatch):
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"precious")
    result = run_cli(export, architecture_runs["lstm32"], out)
    assert (result.exit_code, result.output) == (
        1, f"Error: {out} exists: give another name, or --force to replace it\n")
    assert out.read_bytes() == b"precious"
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        seqkit.load(architecture_runs["lstm32"]).export(out)
    result = run_cli(export, architecture_runs["lstm32"], tmp_path / "m.npz")
    assert result.exit_code == 2 and result.output.endswith(
        f"Error: Invalid value for OUT: '{tmp_path / 'm.npz'}' does not end in .safetensors or .html, the formats "
        f"export writes\n")

    def full_disk(file):
        file.write(b"half")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(interop, "atomic_write", lambda path, write: checkpoint.atomic_write(path, full_disk))
    result = run_cli(export, architecture_runs["lstm32"], out, "--force")
    assert (result.exit_code, result.output) == (
        1, f"Error: could not write {out} (No space left on device); the file there is as it was\n")
    assert out.read_bytes() == b"precious" and sorted(os.listdir(tmp_path)) == ["m.safetensors"]
    monkeypatch.undo()
    assert run_cli(export, architecture_runs["lstm32"], out, "--force").exit_code == 0
    assert seqkit.load(out).sample(length=20, seed=1) == seqkit.load(architecture_runs["lstm32"]).sample(length=20, seed=1)


# --- an imported run trains on -----------------------------------------------------------------------
def test_an_imported_run_resumes_from_fresh_optimizer_state_where_its_corpus_is_known(architecture_runs, tmp_path):
    file = tmp_path / "m.safetensors"
    seqkit.load(architecture_runs["lstm32"]).export(file)
    interop.import_run(file, tmp_path / "run")
    result = run_cli(main, "train", "--resume", tmp_path / "run", "--steps", "2")
    assert result.exit_code == 0, result.output
    assert "stopped: --steps 2 reached at step 2" in result.stderr
    hand_written(seqkit.load(architecture_runs["lstm32"]), tmp_path / "torch.safetensors")
    interop.import_run(tmp_path / "torch.safetensors", tmp_path / "foreign", vocab=architecture_runs["lstm32"] / "vocab.json")
    result = run_cli(main, "train", "--resume", tmp_path / "foreign", "--steps", "2")
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "without its training corpus, so it cannot resume: fine-tune it on a corpus with --init-from" in result.output
    corpus = seqkit.load(architecture_runs["lstm32"]).config.corpus
    result = run_cli(main, "train", corpus, "--init-from", tmp_path / "foreign", "-o", tmp_path / "tuned",
                     "--steps", "2", "--batch-size", "2", "--seq-len", "8", "--sample-length", "0")
    assert result.exit_code == 0, result.output


def test_an_import_that_fails_leaves_no_directory(architecture_runs, tmp_path, monkeypatch):
    file = tmp_path / "m.safetensors"
    seqkit.load(architecture_runs["lstm32"]).export(file)
    real = checkpoint.save_arrays

    def full_disk(path, arrays, meta):
        if path.name == "best.npz":
            raise OSError(28, "No space left on device")
        real(path, arrays, meta)
    monkeypatch.setattr("seqkit.runs.saving.save_arrays", full_disk)  # where import writes its run
    result = run_cli(import_, file, "-o", tmp_path / "run")
    assert (result.exit_code, result.output) == (
        1, f"Error: could not write {tmp_path / 'run'} (No space left on device); nothing was written there\n")
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors"]
    hand_written(seqkit.load(architecture_runs["lstm32"]), tmp_path / "torch.safetensors")
    with pytest.raises(seqkit.OptionError, match=r"has no seqkit metadata, so its vocabulary is needed: give vocab "):
        interop.import_run(tmp_path / "torch.safetensors", tmp_path / "run")
