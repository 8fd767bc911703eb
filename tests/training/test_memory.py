"""No option value, however large, ends in a traceback or an out-of-memory kill: what a run
needs is estimated before anything is allocated, and a refusal names the option to lower."""
import re

import numpy as np
import pytest
from click.testing import CliRunner

from seqkit.cli.common import message
from seqkit.cli.main import main
from seqkit.config import TrainConfig
from seqkit.corpora import path as corpus_path
from seqkit.errors import TrainingError
from seqkit.optim.optimizers import make_optimizer
from seqkit.text.options import TextOptions
from seqkit.training.memory import check_training_fits, training_bytes
from seqkit.training.trainer import Trainer

TRAIN_INTEGERS = [p for p in main.commands["train"].params if p.type.name.startswith("integer")]
VALUES = [0, -1, 2 ** 63, 10 ** 30]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("sizes") / "corpus.txt"
    path.write_text(corpus_path().read_text()[:3000])
    return path


@pytest.mark.parametrize("option", TRAIN_INTEGERS, ids=lambda p: p.opts[-1])
def test_every_integer_option_of_train_ends_cleanly_at_any_value(option, corpus, tmp_path):
    flag = max(option.opts, key=len)
    for value in VALUES:
        result = CliRunner().invoke(main, ["train", str(corpus), "-o", str(tmp_path / str(value)), "--time", "0.003",
                                           "--hidden", "8", "--layers", "1", "--batch-size", "4", "--seq-len", "8",
                                           "--sample-length", "5", flag, str(value)])
        assert isinstance(result.exception, (SystemExit, type(None))), (flag, value, result.output)
        assert result.exit_code in (0, 1, 2), (flag, value, result.output)
        if result.exit_code:
            errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
            assert len(errors) == 1 and (flag in errors[0] or "lower --" in errors[0]), (flag, value, result.stderr)


def test_the_weights_estimate_is_the_arrays_training_holds(tmp_path, corpus):
    config = TrainConfig(corpus=str(corpus), hidden=24, layers=2, embed=16, batch_size=4, seq_len=8, steps=1,
                         seed=0, sample_length=0, text=TextOptions(level="word"))
    trainer = Trainer.start(config, tmp_path / "run")
    trainer.run()
    needs = training_bytes(config, len(trainer.vocab))
    parameters = sum(p.nbytes for p in trainer.model.parameters.values())
    adam = make_optimizer("adam", trainer.model.parameters, 1e-3)
    state = sum(a.nbytes for slot in adam.state.values() for a in slot.values())
    assert needs["weights"] + needs["vocabulary"] == 2 * parameters + state


@pytest.mark.parametrize("changes, lower", [
    ({"hidden": 20_000}, "lower --hidden or --layers"),
    ({"batch_size": 100_000}, "lower --batch-size or --seq-len (or --hidden, --layers)"),
])
def test_a_run_too_big_for_memory_is_refused_naming_what_to_lower(changes, lower):
    config = TrainConfig(**changes)
    with pytest.raises(TrainingError) as refused:
        check_training_fits(config, 100, available=8e9)
    assert re.fullmatch(r"training this model needs about [\d.,]+ GB of memory, more than the 8\.0 GB available: "
                        + re.escape(lower), message(refused.value))
    assert str(refused.value).endswith(lower.replace("--", "").replace("-", "_"))  # from Python: the fields


def test_a_vocabulary_too_big_names_max_vocab():
    config = TrainConfig(text=TextOptions(level="word"), batch_size=1, seq_len=1)
    with pytest.raises(TrainingError) as refused:
        check_training_fits(config, 50_000_000, available=8e9)
    assert message(refused.value).endswith("lower --max-vocab (or --hidden, --embed)")
    check_training_fits(config, 10_000, available=8e9)
    assert np.isfinite(sum(training_bytes(config, 10_000).values()))


def test_a_containers_limit_bounds_the_memory_available(monkeypatch):
    from seqkit.training import memory
    unbounded = memory.available_bytes()
    monkeypatch.setattr(memory, "_cgroup_room", lambda: 10**9)
    assert memory.available_bytes() == min(unbounded, 10**9)
