"""seqkit export / import: a model as one .safetensors file under PyTorch's word_language_model
names. Export then import gives the same parameters bit for bit (float32 and float64) and the
same samples; a file written by hand under PyTorch's names, with a vocabulary, imports and
samples; every wrong shape, dtype or option is one line naming the tensor and what was expected."""
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors import safe_open
from safetensors.numpy import save_file

import seqkit
from seqkit.cli.interop import export, import_
from seqkit.cli.main import main
from seqkit.config import TrainConfig
from seqkit.corpora import path as corpus_path
from seqkit.runs import checkpoint, interop
from seqkit.text.options import TextOptions
from seqkit.training.trainer import Trainer

SMALL = dict(batch_size=2, seq_len=8, steps=2, eval_every=2, seed=0, sample_length=0)
VARIANTS = {
    "lstm32": dict(cell="lstm", layers=2, hidden=16, embed=8, dtype="float32"),
    "lstm64": dict(cell="lstm", layers=2, hidden=16, embed=8, dtype="float64"),
    "gru_one_hot": dict(cell="gru", layers=2, hidden=12, embed=None, dtype="float32"),
    "rnn_relu64": dict(cell="rnn", nonlinearity="relu", layers=1, hidden=10, embed=6, dtype="float64"),
    "word_tied": dict(cell="lstm", layers=1, hidden=16, embed=16, tie_weights=True, dtype="float32",
                      text=TextOptions(level="word")),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A run of each variant, trained two steps on a tiny corpus: {name: run directory}."""
    root = tmp_path_factory.mktemp("interop")
    corpus = root / "tiny.txt"
    corpus.write_text(corpus_path().read_text()[:3000])
    made = {}
    for name, options in VARIANTS.items():
        Trainer.start(TrainConfig(corpus=str(corpus), **SMALL, **options), root / name).run()
        made[name] = root / name
    return made


def run_cli(command, *args):
    result = CliRunner().invoke(command, [str(a) for a in args])
    assert isinstance(result.exception, (SystemExit, type(None))), result.exception  # no traceback
    return result


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def hand_written(lm, path, **metadata):
    """lm's weights under PyTorch's names as a user's numpy/safetensors script writes them."""
    save_file({name: array.copy() for name, array in lm.model.state_dict().items()}, str(path),
              metadata=metadata or None)


# --- the round trip ---------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_export_then_import_gives_the_same_bits_and_samples(runs, tmp_path, variant):
    original = seqkit.load(runs[variant])
    file = tmp_path / "model.safetensors"
    result = run_cli(export, runs[variant], file)
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
    recorded = json.loads((runs[variant] / "config.json").read_text())
    assert saved["corpus_sha256"] == recorded["corpus_sha256"] and saved["imported_from"]["seqkit_metadata"]


def test_the_file_holds_pytorch_names_and_seqkit_metadata(runs, tmp_path):
    file = tmp_path / "m.safetensors"
    seqkit.load(runs["lstm32"]).export(file)
    with safe_open(str(file), framework="np") as opened:
        names, metadata = set(opened.keys()), opened.metadata()
        shapes = {name: opened.get_tensor(name).shape for name in names}
    assert names == {"encoder.weight", "decoder.weight", "decoder.bias"} | {
        f"rnn.{kind}_{gate}_l{k}" for kind in ("weight", "bias") for gate in ("ih", "hh") for k in (0, 1)}
    V = len(seqkit.load(runs["lstm32"]).vocab)
    assert shapes["encoder.weight"] == (V, 8) and shapes["rnn.weight_ih_l0"] == (64, 8)
    assert shapes["rnn.weight_ih_l1"] == shapes["rnn.weight_hh_l1"] == (64, 16) and shapes["decoder.weight"] == (V, 16)
    assert metadata["format"] == "pt" and metadata["seqkit_format"] == "1"
    assert metadata["seqkit_version"] == seqkit.__version__
    assert TrainConfig.from_dict(json.loads(metadata["seqkit_config"])) == seqkit.load(runs["lstm32"]).config
    assert json.loads(metadata["seqkit_vocab"])["tokens"][:3] == ["<unk>", "<s>", "</s>"]


def test_one_hot_input_has_no_encoder_and_a_vocabulary_wide_first_weight(runs, tmp_path):
    file = tmp_path / "m.safetensors"
    seqkit.load(runs["gru_one_hot"]).export(file)
    with safe_open(str(file), framework="np") as opened:
        assert "encoder.weight" not in opened.keys()
        V = len(seqkit.load(runs["gru_one_hot"]).vocab)
        assert opened.get_slice("rnn.weight_ih_l0").get_shape() == [3 * 12, V]


def test_tied_weights_are_written_twice_and_checked_equal(runs, tmp_path):
    file = tmp_path / "m.safetensors"
    seqkit.load(runs["word_tied"]).export(file)
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
def test_a_hand_written_pytorch_file_imports_with_its_vocabulary_and_samples(runs, tmp_path, variant):
    original = seqkit.load(runs[variant])
    file = tmp_path / "torch.safetensors"
    hand_written(original, file)
    extra = ["--nonlinearity", "relu"] if variant == "rnn_relu64" else []
    result = run_cli(import_, file, "-o", tmp_path / "run", "--vocab", runs[variant] / "vocab.json", *extra)
    assert result.exit_code == 0, result.output
    imported = seqkit.load(tmp_path / "run")
    for name, array in original.model.parameters.items():
        assert same_bits(imported.model.parameters[name], array), name
    assert imported.sample(length=50, seed=1) == original.sample(length=50, seed=1)
    for field in ("cell", "layers", "hidden", "embed", "tie_weights", "dtype", "nonlinearity", "text"):
        assert getattr(imported.config, field) == getattr(original.config, field), field
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["corpus_sha256"] is None and saved["imported_from"]["seqkit_metadata"] is False
    sampled = run_cli(main, "sample", tmp_path / "run", "--length", "40", "--seed", "3")
    assert sampled.exit_code == 0 and sampled.stdout == original.sample(length=40, seed=3)[0] + "\n"


def test_a_token_list_vocabulary_with_its_level(runs, tmp_path):
    original = seqkit.load(runs["lstm32"])
    hand_written(original, tmp_path / "torch.safetensors")
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("".join(("\\n" if t == "\n" else t) + "\n" for t in original.vocab.tokens), encoding="utf-8")
    assert "\n" in original.vocab.tokens  # the escape is exercised
    lm = seqkit.load(tmp_path / "torch.safetensors", vocab=tokens, level="char")
    assert lm.vocab.tokens == original.vocab.tokens
    assert lm.sample(length=50, seed=1) == original.sample(length=50, seed=1)
    (tmp_path / "tokens.json").write_text(json.dumps(original.vocab.tokens))
    lm = seqkit.load(tmp_path / "torch.safetensors", vocab=tmp_path / "tokens.json", level="char")
    assert lm.sample(length=50, seed=1) == original.sample(length=50, seed=1)
    result = run_cli(import_, tmp_path / "torch.safetensors", "-o", tmp_path / "run", "--vocab", tokens)
    assert result.exit_code == 2
    assert result.output.endswith(f"Error: {tokens} lists the tokens but not how text is split into them: "
                                  f"give --level char or word\n")


def test_a_tied_model_saved_by_safetensors_torch_save_model_imports_tied(runs, tmp_path):
    """save_model keeps one of two shared tensors and names the other in the metadata."""
    original = seqkit.load(runs["word_tied"])
    tensors = {name: array.copy() for name, array in original.model.state_dict().items()}
    del tensors["encoder.weight"]
    save_file(tensors, str(tmp_path / "torch.safetensors"), metadata={"encoder.weight": "decoder.weight"})
    lm = seqkit.load(tmp_path / "torch.safetensors", vocab=runs["word_tied"] / "vocab.json")
    assert lm.config.tie_weights and lm.model.tied
    assert lm.sample(length=30, seed=1) == original.sample(length=30, seed=1)


# --- errors -----------------------------------------------------------------------------------------
def test_wrong_shapes_are_one_line_naming_the_tensor(runs, tmp_path):
    original = seqkit.load(runs["lstm32"])
    vocab = runs["lstm32"] / "vocab.json"
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


def test_missing_and_unexpected_tensors_and_a_foreign_vocabulary(runs, tmp_path):
    original = seqkit.load(runs["lstm32"])
    tensors = {k: v.copy() for k, v in original.model.state_dict().items()}
    del tensors["rnn.bias_hh_l1"]
    tensors["rnn.weight_hr_l0"] = np.zeros((4, 4), np.float32)
    file = tmp_path / "m.safetensors"
    save_file(tensors, str(file))
    result = run_cli(import_, file, "-o", tmp_path / "run", "--vocab", runs["lstm32"] / "vocab.json")
    assert (result.exit_code, result.output) == (1, f"Error: {file} does not hold a 2-layer lstm word_language_model: "
                                                    f"missing rnn.bias_hh_l1; unexpected rnn.weight_hr_l0\n")
    hand_written(original, file)
    result = run_cli(import_, file, "-o", tmp_path / "run", "--vocab", runs["word_tied"] / "vocab.json")
    words = len(seqkit.load(runs["word_tied"]).vocab)
    assert (result.exit_code, result.output) == (
        1, f"Error: the vocabulary has {words} tokens, but {file}'s decoder has {len(original.vocab)} rows "
           f"(one per token): give the vocabulary the model was trained with\n")
    save_file({"weight": np.zeros(3, np.float32)}, str(file))
    result = run_cli(import_, file, "-o", tmp_path / "run", "--vocab", runs["lstm32"] / "vocab.json")
    assert (result.exit_code, result.output) == (
        1, f"Error: {file} has no rnn.weight_hh_l0: it is not a word_language_model state dict (encoder.weight, "
           f"rnn.weight_ih_l0 ... rnn.bias_hh_l{{L-1}}, decoder.weight, decoder.bias); it holds weight\n")


def test_dtypes_other_than_float32_and_float64_and_mixed_ones_are_refused(runs, tmp_path):
    original = seqkit.load(runs["lstm32"])
    vocab = runs["lstm32"] / "vocab.json"
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


def test_options_and_files_the_command_refuses(runs, tmp_path):
    file = tmp_path / "m.safetensors"
    seqkit.load(runs["lstm32"]).export(file)
    result = run_cli(import_, file, "-o", tmp_path / "run", "--level", "char")
    assert result.exit_code == 2 and result.output.endswith(
        f"Error: {file} carries its own configuration and vocabulary (seqkit metadata): drop --level\n")
    hand_written(seqkit.load(runs["lstm32"]), tmp_path / "torch.safetensors")
    result = run_cli(import_, tmp_path / "torch.safetensors", "-o", tmp_path / "run")
    assert result.exit_code == 2 and result.output.endswith(
        f"Error: {tmp_path / 'torch.safetensors'} has no seqkit metadata, so its vocabulary is needed: give --vocab "
        f"(a vocab.json as seqkit writes it, or a text file of the tokens, one a line in id order)\n")
    result = run_cli(import_, tmp_path / "torch.safetensors", "-o", tmp_path / "run", "--vocab",
                     runs["lstm32"] / "vocab.json", "--cell", "gru")
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
    result = run_cli(import_, file, "-o", runs["lstm32"])
    assert (result.exit_code, result.output) == (
        1, f"Error: {runs['lstm32']} already holds a run: import into a new directory\n")
    (tmp_path / "empty").mkdir()
    assert run_cli(import_, file, "-o", tmp_path / "empty").exit_code == 0  # an empty directory is taken
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ValueError, match="best=True picks"):
        seqkit.load(file, best=True)
    with pytest.raises(TypeError, match="vocab: options for a .safetensors file"):
        seqkit.load(runs["lstm32"], vocab="x")


def test_export_refuses_to_overwrite_unless_forced_and_writes_atomically(runs, tmp_path, monkeypatch):
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"precious")
    result = run_cli(export, runs["lstm32"], out)
    assert (result.exit_code, result.output) == (
        1, f"Error: {out} exists: give another name, or --force to replace it\n")
    assert out.read_bytes() == b"precious"
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        seqkit.load(runs["lstm32"]).export(out)
    result = run_cli(export, runs["lstm32"], tmp_path / "m.npz")
    assert result.exit_code == 2 and result.output.endswith(
        f"Error: Invalid value for OUT: '{tmp_path / 'm.npz'}' does not end in .safetensors\n")

    def full_disk(file):
        file.write(b"half")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(interop, "atomic_write", lambda path, write: checkpoint.atomic_write(path, full_disk))
    result = run_cli(export, runs["lstm32"], out, "--force")
    assert (result.exit_code, result.output) == (
        1, f"Error: could not write {out} (No space left on device); the file there is as it was\n")
    assert out.read_bytes() == b"precious" and sorted(os.listdir(tmp_path)) == ["m.safetensors"]
    monkeypatch.undo()
    assert run_cli(export, runs["lstm32"], out, "--force").exit_code == 0
    assert seqkit.load(out).sample(length=20, seed=1) == seqkit.load(runs["lstm32"]).sample(length=20, seed=1)


# --- an imported run trains on -----------------------------------------------------------------------
def test_an_imported_run_resumes_from_fresh_optimizer_state_where_its_corpus_is_known(runs, tmp_path):
    file = tmp_path / "m.safetensors"
    seqkit.load(runs["lstm32"]).export(file)
    interop.import_run(file, tmp_path / "run")
    result = run_cli(main, "train", "--resume", tmp_path / "run", "--steps", "2")
    assert result.exit_code == 0, result.output
    assert "stopped: --steps 2 reached at step 2" in result.stderr
    hand_written(seqkit.load(runs["lstm32"]), tmp_path / "torch.safetensors")
    interop.import_run(tmp_path / "torch.safetensors", tmp_path / "foreign", vocab=runs["lstm32"] / "vocab.json")
    result = run_cli(main, "train", "--resume", tmp_path / "foreign", "--steps", "2")
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "without its training corpus, so it cannot resume: fine-tune it on a corpus with --init-from" in result.output
    corpus = seqkit.load(runs["lstm32"]).config.corpus
    result = run_cli(main, "train", corpus, "--init-from", tmp_path / "foreign", "-o", tmp_path / "tuned",
                     "--steps", "2", "--batch-size", "2", "--seq-len", "8", "--sample-length", "0")
    assert result.exit_code == 0, result.output


def test_a_dtype_other_than_the_configuration_s_is_refused(runs, tmp_path):
    file = tmp_path / "m.safetensors"
    seqkit.load(runs["lstm32"]).export(file)
    with safe_open(str(file), framework="np") as opened:
        tensors = {name: opened.get_tensor(name).astype(np.float64) for name in opened.keys()}
        metadata = opened.metadata()
    save_file(tensors, str(file), metadata=metadata)
    with pytest.raises(checkpoint.CheckpointError, match=r"m.safetensors: the tensors are float64, but its seqkit "
                                                         r"configuration says float32$"):
        seqkit.load(file)


def test_an_import_that_fails_leaves_no_directory(runs, tmp_path, monkeypatch):
    file = tmp_path / "m.safetensors"
    seqkit.load(runs["lstm32"]).export(file)
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
    hand_written(seqkit.load(runs["lstm32"]), tmp_path / "torch.safetensors")
    with pytest.raises(interop.OptionError, match=r"has no seqkit metadata, so its vocabulary is needed: give vocab= "):
        interop.import_run(tmp_path / "torch.safetensors", tmp_path / "run")
