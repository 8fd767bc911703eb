"""No option value, however large, ends in an out-of-memory kill: what a run needs is estimated
before anything is allocated, and a refusal names the option to lower. (Every integer option of
seqkit train at the edges: tests/cli/test_train.py.)"""
import re

import numpy as np
import pytest

from seqkit.cli.common import message
from seqkit.config import TrainConfig
from seqkit.errors import TrainingError
from seqkit.optim.optimizers import make_optimizer
from seqkit.text.options import TextOptions
from seqkit.training.memory import check_training_fits, training_bytes
from seqkit.training.trainer import Trainer


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
    from seqkit import _memory
    unbounded = _memory.available_bytes()
    monkeypatch.setattr(_memory, "_cgroup_room", lambda: 10**9)
    assert _memory.available_bytes() == min(unbounded, 10**9)


def test_a_10_gb_corpus_mapped_from_its_token_file_counts_nothing_against_memory(tmp_path, monkeypatch):
    """A corpus mapped from disk trains in the memory of its model however large it is: a 10 GB
    token file (sparse here: made at once, taking no disk) builds a trainer that takes a step
    with 1 GB of memory available, while ids held in memory count in full."""
    from seqkit.text.tokens import Tokens
    from seqkit.text.vocab import Vocab
    path = tmp_path / "big.tokens"
    with open(path, "wb") as file:
        file.truncate(10 * 10**9)
    ids = np.memmap(path, np.uint8, "r")
    vocab = Vocab(["<unk>", "<s>", "</s>", "a"], TextOptions())
    monkeypatch.setattr("seqkit.training.memory.available_bytes", lambda: 10**9)
    config = TrainConfig(hidden=16, layers=1, batch_size=4, seq_len=8, steps=1, seed=0)
    trainer = Trainer(config, tmp_path / "run", vocab, Tokens(vocab, ids, [(0, len(ids))], [], path=str(path)))
    trainer._train_step()
    assert trainer.step == 1 and len(trainer.train_streams) == int(10 * 10**9 * 0.95) // 4
    with pytest.raises(TrainingError) as refused:
        check_training_fits(config, 4, corpus_bytes=2 * 10**9, available=10**9)
    assert message(refused.value).endswith("lower the corpus's size")
