"""A model as one .safetensors file under PyTorch's word_language_model names, from Python
(seqkit.runs.interop through LanguageModel.export and seqkit.load): the names, shapes and
seqkit's metadata written, one-hot input and tied weights, and files written outside seqkit read
back. Each architecture is a run of conftest's architecture_runs. (The commands: tests/cli/test_export.py.)"""
import json
import shutil

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file
from shared import hand_written

import seqkit
from seqkit.config import TrainConfig
from seqkit.runs import checkpoint
from seqkit.text.options import TextOptions
from seqkit.training.trainer import Trainer


def test_the_file_holds_pytorch_names_and_seqkit_metadata(architecture_runs, tmp_path):
    file = tmp_path / "m.safetensors"
    seqkit.load(architecture_runs["lstm32"]).export(file)
    with safe_open(str(file), framework="np") as opened:
        names, metadata = set(opened.keys()), opened.metadata()
        shapes = {name: opened.get_tensor(name).shape for name in names}
    assert names == {"encoder.weight", "decoder.weight", "decoder.bias"} | {
        f"rnn.{kind}_{gate}_l{k}" for kind in ("weight", "bias") for gate in ("ih", "hh") for k in (0, 1)}
    V = len(seqkit.load(architecture_runs["lstm32"]).vocab)
    assert shapes["encoder.weight"] == (V, 8) and shapes["rnn.weight_ih_l0"] == (64, 8)
    assert shapes["rnn.weight_ih_l1"] == shapes["rnn.weight_hh_l1"] == (64, 16) and shapes["decoder.weight"] == (V, 16)
    assert metadata["format"] == "pt" and metadata["seqkit_format"] == "1"
    assert metadata["seqkit_version"] == seqkit.__version__
    assert TrainConfig.from_dict(json.loads(metadata["seqkit_config"])) == seqkit.load(architecture_runs["lstm32"]).config
    assert json.loads(metadata["seqkit_vocab"])["tokens"][:3] == ["<unk>", "<s>", "</s>"]


def test_one_hot_input_has_no_encoder_and_a_vocabulary_wide_first_weight(architecture_runs, tmp_path):
    file = tmp_path / "m.safetensors"
    seqkit.load(architecture_runs["gru_one_hot"]).export(file)
    with safe_open(str(file), framework="np") as opened:
        assert "encoder.weight" not in opened.keys()
        V = len(seqkit.load(architecture_runs["gru_one_hot"]).vocab)
        assert opened.get_slice("rnn.weight_ih_l0").get_shape() == [3 * 12, V]


def test_a_token_list_vocabulary_with_its_level(corpus, tmp_path):
    """A text file of the tokens, one a line (a newline token escaped), or a JSON list, with the
    level they were cut at. (Without the level: tests/cli/test_export.py.) The run frames the
    document, so that "\\n" is one of its tokens."""
    config = TrainConfig(corpus=str(corpus), batch_size=2, seq_len=8, steps=1, eval_every=1, seed=0, sample_length=0,
                         layers=1, hidden=8, embed=8, text=TextOptions(unit="document"))
    Trainer.start(config, tmp_path / "run").run()
    original = seqkit.load(tmp_path / "run")
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


def test_a_tied_model_saved_by_safetensors_torch_save_model_imports_tied(architecture_runs, tmp_path):
    """save_model keeps one of two shared tensors and names the other in the metadata."""
    original = seqkit.load(architecture_runs["word_tied"])
    tensors = {name: array.copy() for name, array in original.model.state_dict().items()}
    del tensors["encoder.weight"]
    save_file(tensors, str(tmp_path / "torch.safetensors"), metadata={"encoder.weight": "decoder.weight"})
    lm = seqkit.load(tmp_path / "torch.safetensors", vocab=architecture_runs["word_tied"] / "vocab.json")
    assert lm.config.tie_weights and lm.model.tied
    original.model.start_state = None  # a state dict without seqkit's metadata has none
    assert lm.sample(length=30, seed=1) == original.sample(length=30, seed=1)


def test_a_dtype_other_than_the_configuration_s_is_refused(architecture_runs, tmp_path):
    file = tmp_path / "m.safetensors"
    seqkit.load(architecture_runs["lstm32"]).export(file)
    with safe_open(str(file), framework="np") as opened:
        tensors = {name: opened.get_tensor(name).astype(np.float64) for name in opened.keys()}
        metadata = opened.metadata()
    save_file(tensors, str(file), metadata=metadata)
    with pytest.raises(checkpoint.CheckpointError, match=r"m.safetensors: the tensors are float64, but its seqkit "
                                                         r"configuration says float32$"):
        seqkit.load(file)


def test_weights_that_are_not_finite_are_refused_naming_the_tensor(char_run, tmp_path):
    """An imported file with a NaN would sample noise and evaluate to nan; a checkpoint with one
    would fine-tune on nan: each is refused, naming the file and the tensor."""
    lm = seqkit.load(char_run)
    lm.model.state_dict()["rnn.weight_hh_l0"][0, 0] = np.nan
    hand_written(lm, tmp_path / "nan.safetensors")
    with pytest.raises(seqkit.CheckpointError, match=r"nan.safetensors: rnn.weight_hh_l0 holds 1 values that are "
                                                     r"not finite \(NaN or infinite\)"):
        seqkit.load(tmp_path / "nan.safetensors", vocab=char_run / "vocab.json")
    arrays, meta = checkpoint.load_arrays(char_run / "latest.npz")
    arrays["model.output.bias"][:2] = np.inf
    run = tmp_path / "run"
    shutil.copytree(char_run, run)
    checkpoint.save_arrays(run / "latest.npz", arrays, meta)
    with pytest.raises(seqkit.CheckpointError, match=r"latest.npz: model.output.bias holds 2 values that are not finite"):
        seqkit.load(run)
    from seqkit.training.finetune import Source
    with pytest.raises(seqkit.CheckpointError, match="not finite"):
        Source.load(run)
