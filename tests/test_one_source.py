"""One source for defaults and choices: the CLI reads them from the library, and the library
applies the CLI's policy, so the same options give the same run from Python and the shell."""
import dataclasses

import pytest

from seqkit import cells
from seqkit.cli.main import build_config, train
from seqkit.config import TrainConfig
from seqkit.init import SCHEMES
from seqkit.vocab import TextOptions


def cli_config(*args):
    """The TrainConfig `seqkit train ARGS` would train, built as the command builds it."""
    params = dict(train.make_context("train", list(args)).params)
    corpus = params.pop("corpus")
    for name in ("out", "resume_dir"):
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
])
def test_the_cli_and_the_library_build_the_same_config(args, library):
    """Field by field, apart from the seed each draws: the defaults and the policy (an embedding
    of --hidden at word level, the step schedule when a decay interval is given) are the same."""
    assert without_seed(cli_config(*args)) == without_seed(TrainConfig(**library))


def test_the_policy_is_the_library_s():
    word = TrainConfig(text=TextOptions(level="word"), hidden=32)
    assert word.embed == 32 and TrainConfig().embed is None
    assert TrainConfig(lr_decay_every=10).lr_schedule == "step" and TrainConfig().lr_schedule == "constant"
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
