"""One source for defaults and choices: the CLI reads them from the library, and the library
applies the CLI's policy, so the same options give the same run from Python and the shell."""
import dataclasses

import pytest

from seqkit import cells
from seqkit.cli.main import build_config, train
from seqkit.config import CHAR_DROPOUT, CHAR_EMBED, WORD_DROPOUT, TrainConfig
from seqkit.nn.init import SCHEMES
from seqkit.text.options import TextOptions


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


def test_replace_derives_the_policy_s_fields_again():
    """A copy made word level gets an embedding of its hidden size; one given a decay interval
    gets the step schedule; what the user set, or what a saved config recorded, stays."""
    word = TextOptions(level="word")
    assert TrainConfig().replace(text=word).embed == 256
    assert TrainConfig().replace(text=word).dropout == WORD_DROPOUT
    assert TrainConfig(dropout=0.2).replace(text=word).dropout == 0.2
    assert TrainConfig(text=word).replace(hidden=64).embed == 64
    assert TrainConfig().replace(lr_decay_every=100).lr_schedule == "step"
    assert TrainConfig(embed=None, text=word).replace(hidden=64).embed is None
    loaded = TrainConfig.from_dict(TrainConfig().to_dict())
    assert loaded.replace(text=word).embed == CHAR_EMBED and "_derived" not in loaded.to_dict()


def test_numpy_numbers_become_python_numbers():
    import json

    import numpy as np
    config = TrainConfig(hidden=np.int64(16), lr=np.float64(0.01), seed=np.int32(4))
    assert json.loads(json.dumps(config.to_dict()))["hidden"] == 16 and type(config.seed) is int


def test_the_policy_is_the_library_s():
    word = TrainConfig(text=TextOptions(level="word"), hidden=32)
    assert word.embed == 32 and TrainConfig().embed == CHAR_EMBED
    assert word.dropout == WORD_DROPOUT and TrainConfig().dropout == CHAR_DROPOUT != WORD_DROPOUT
    assert TrainConfig(dropout=0.0, text=TextOptions(level="word")).dropout == 0.0
    assert TrainConfig(lr_decay_every=10).lr_schedule == "step" and TrainConfig().lr_schedule == "cosine"
    assert TrainConfig(lr_decay_after=4).lr_schedule == "epoch"
    # Ten epochs unless another stopping rule is given: --time 10 trains ten minutes.
    assert TrainConfig().epochs == 10 and TrainConfig(minutes=3).epochs is None
    assert TrainConfig(steps=5).epochs is None and TrainConfig(minutes=3, epochs=2).epochs == 2
    assert TrainConfig().replace(minutes=5).epochs is None
    assert TrainConfig(seed=5).seed == 5
    assert TrainConfig(corpus="some.txt").corpus.endswith("/some.txt") and TrainConfig(corpus="x").corpus[0] == "/"
    assert TrainConfig.from_dict(word.to_dict()) == word  # what config.json records is resolved


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
