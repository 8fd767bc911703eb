"""Fine-tuning through the Trainer (init_from, seqkit train --init-from): a new run from a trained
run's weights, architecture and vocabulary, on another corpus, the vocabulary extended or not.
(The command's options and messages: tests/cli/test_train.py.)"""

import numpy as np
import pytest
from shared import FINE_TUNING_TEXT, invoke

from seqkit.runs.directory import load_run_files
from seqkit.training.finetune import Source
from seqkit.training.trainer import Trainer

SMALL = ["--layers", "1", "--batch-size", "4", "--seq-len", "8", "--seed", "0", "--sample-length", "0"]


@pytest.fixture(scope="module")
def source(corpus, tmp_path_factory):
    """A word-level run with one-hot input (the shared word run embeds its input), so that both
    the output rows and weight_ih_l0's columns follow the vocabulary."""
    run = tmp_path_factory.mktemp("source") / "run"
    result = invoke("train", corpus, "-o", run, "--level", "word", "--one-hot", "--hidden", 12, "--steps", 3, *SMALL)
    assert result.exit_code == 0, result.output
    return run


@pytest.fixture
def new_corpus(tmp_path):
    path = tmp_path / "new.txt"
    path.write_text(FINE_TUNING_TEXT)
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
