"""Fine-tuning (seqkit train --init-from): a new run from a trained run's weights, architecture
and vocabulary, on another corpus."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from seqkit.cli.main import main
from seqkit.corpora import path as corpus_path
from seqkit.runs.directory import load_run_files
from seqkit.training.finetune import Source
from seqkit.training.trainer import Trainer

SMALL = ["--layers", "1", "--batch-size", "4", "--seq-len", "8", "--seed", "0", "--sample-length", "0"]


def seqkit(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A word-level run with one-hot input, so that both the output rows and weight_ih_l0's
    columns follow the vocabulary."""
    root = tmp_path_factory.mktemp("source")
    corpus = root / "corpus.txt"
    corpus.write_text(corpus_path().read_text()[:3000])
    result = seqkit("train", corpus, "-o", root / "run", "--level", "word", "--one-hot", "--hidden", 12,
                    "--steps", 3, *SMALL)
    assert result.exit_code == 0, result.output
    return root / "run"


@pytest.fixture
def new_corpus(tmp_path):
    path = tmp_path / "new.txt"
    path.write_text("First Citizen : zebras and quaggas speak .\n" * 30)
    return path


def test_the_new_run_starts_from_the_source_weights(source, new_corpus, tmp_path):
    origin = Source.load(source)
    config, _ = load_run_files(source)
    trainer = Trainer.start(origin.config_for(config.replace(corpus=str(new_corpus), seed=7)), tmp_path / "ft",
                            init_from=origin)
    trainer.release()
    assert trainer.vocab.tokens == origin.vocab.tokens
    assert trainer.unknown_tokens == 60  # zebras and quaggas, 30 lines each
    for name, array in origin.model.parameters.items():
        assert np.array_equal(trainer.model.parameters[name], array), name


def test_extend_vocab_adds_rows_drawn_as_a_fresh_model_draws_them(source, new_corpus, tmp_path):
    origin = Source.load(source, extend_vocab=True)
    config, _ = load_run_files(source)
    trainer = Trainer.start(origin.config_for(config.replace(corpus=str(new_corpus), seed=7)), tmp_path / "ft",
                            init_from=origin)
    trainer.release()
    old = len(origin.vocab)
    assert trainer.vocab.tokens == origin.vocab.tokens + ["zebras", "quaggas"]
    assert trainer.unknown_tokens == 0
    params, before = trainer.model.parameters, origin.model.parameters
    assert params["output.weight"].shape == (old + 2, 12) and params["rnn.weight_ih_l0"].shape == (48, old + 2)
    assert np.array_equal(params["output.weight"][:old], before["output.weight"])
    assert np.array_equal(params["rnn.weight_ih_l0"][:, :old], before["rnn.weight_ih_l0"])
    bound = 1 / np.sqrt(12)  # PyTorch's default init, as the rest were drawn
    for new_rows in (params["output.weight"][old:], params["output.bias"][old:], params["rnn.weight_ih_l0"][:, old:]):
        assert np.all(np.abs(new_rows) <= bound) and np.all(new_rows != 0)


def test_fine_tuning_through_the_cli(source, new_corpus, tmp_path):
    result = seqkit("train", new_corpus, "--init-from", source, "--best", "-o", tmp_path / "ft", "--steps", 2,
                    "--batch-size", 2, "--seq-len", 8, "--sample-length", 0)
    assert result.exit_code == 0, result.output
    assert (f"fine-tuning from {source / 'best.npz'}: 60 tokens of the corpus are not in its vocabulary and "
            f"read as <unk>") in result.stderr
    saved = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert saved["init_from"] == {"run": str(source.resolve()), "checkpoint": "best.npz",
                                  "vocab_size": json.loads((source / "config.json").read_text())["vocab_size"]}
    assert saved["config"]["hidden"] == 12 and saved["config"]["embed"] is None
    assert saved["config"]["text"]["level"] == "word" and saved["config"]["corpus"] == str(new_corpus)
    grown = seqkit("train", new_corpus, "--init-from", source, "--extend-vocab", "-o", tmp_path / "grown",
                   "--steps", 2, "--batch-size", 2, "--seq-len", 8)
    assert grown.exit_code == 0, grown.output
    assert f"fine-tuning from {source / 'latest.npz'}: its vocabulary of {saved['vocab_size']} grows by 2 tokens" in grown.stderr
    assert seqkit("train", "--resume", tmp_path / "grown", "--steps", 3).exit_code == 0


@pytest.mark.parametrize("args, message", [
    (["--hidden", "64"], "--init-from takes the architecture, tokenizer and vocabulary of {source}: leave out --hidden"),
    (["--level", "char", "--one-hot"], "leave out --level, --one-hot"),
])
def test_fine_tuning_refuses_a_new_architecture(source, new_corpus, args, message):
    result = seqkit("train", new_corpus, "--init-from", source, *args)
    assert result.exit_code == 2 and message.format(source=source) in result.stderr


def test_the_fine_tuning_flags_need_init_from(new_corpus, source):
    assert "Error: --extend-vocab goes with --init-from RUN" in seqkit("train", new_corpus, "--extend-vocab").stderr
    both = seqkit("train", "--resume", source, "--init-from", source)
    assert both.exit_code == 2 and "--init-from starts a new run and --resume continues one" in both.stderr
