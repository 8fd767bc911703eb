"""Training end to end on small texts: exact resumption, reproducibility, every optimizer
learning, start and end tokens from the data to the samples."""
import json

import numpy as np
import pytest

from seqkit.config import TrainConfig
from seqkit.corpora import path as corpus_path
from seqkit.lm import load
from seqkit.optim.optimizers import OPTIMIZERS
from seqkit.runs.checkpoint import load_arrays
from seqkit.runs.directory import LATEST, METRICS
from seqkit.text.options import BOS, EOS, TextOptions
from seqkit.training.trainer import Trainer


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text(corpus_path().read_text()[:3000])
    return str(path)


def small_config(corpus, **changes):
    options = dict(corpus=corpus, hidden=24, layers=2, batch_size=4, seq_len=16, eval_every=5,
                   sample_length=10, seed=3, dropout=0.2, lr_schedule="plateau", patience=0, warmup=0)
    options.update(changes)
    return TrainConfig(**options)


def model_arrays(run_dir):
    arrays, meta = load_arrays(run_dir / LATEST)
    return {k: v for k, v in arrays.items() if not k.startswith("state.")}, meta


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_interrupted_and_resumed_run_ends_with_the_same_weights(corpus, tmp_path, cell):
    """Stopped at step 7 (between evaluations, mid-epoch, with dropout, hidden state carried
    and a plateau schedule), then resumed to 17: the same weights, optimizer moments and
    generator state as one run of 17 steps."""
    whole = Trainer.start(small_config(corpus, cell=cell, steps=17), tmp_path / "whole")
    assert whole.run() == "done"
    part = Trainer.start(small_config(corpus, cell=cell, steps=7), tmp_path / "part")
    part.run()
    assert part.position != 0 and part.state is not None
    resumed = Trainer.resume(tmp_path / "part", steps=17)
    assert resumed.step == 7
    resumed.run()
    (whole_arrays, whole_meta), (resumed_arrays, resumed_meta) = (
        model_arrays(tmp_path / "whole"), model_arrays(tmp_path / "part"))
    assert whole_arrays.keys() == resumed_arrays.keys()
    for name in whole_arrays:
        np.testing.assert_array_equal(resumed_arrays[name], whole_arrays[name], err_msg=name)
    for key in ("step", "epoch", "position", "rng", "optimizer", "schedule"):
        assert resumed_meta[key] == whole_meta[key], key
    steps = [json.loads(line)["step"] for line in (tmp_path / "part" / METRICS).read_text().splitlines()
             if json.loads(line)["kind"] == "train"]
    assert steps == list(range(1, 18))


def test_same_seed_gives_identical_checkpoint_bytes(corpus, tmp_path):
    for name in ("a", "b"):
        Trainer.start(small_config(corpus, steps=6), tmp_path / name).run()
    assert (tmp_path / "a" / LATEST).read_bytes() == (tmp_path / "b" / LATEST).read_bytes()
    curves = [[json.loads(line).get("loss") for line in (tmp_path / n / METRICS).read_text().splitlines()]
              for n in ("a", "b")]
    assert curves[0] == curves[1]
    Trainer.start(small_config(corpus, steps=6, seed=4), tmp_path / "c").run()
    assert (tmp_path / "c" / LATEST).read_bytes() != (tmp_path / "a" / LATEST).read_bytes()


@pytest.mark.parametrize("optimizer, lr", [("sgd", 1.0), ("momentum", 0.3), ("nesterov", 0.3),
                                           ("adagrad", 0.1), ("rmsprop", 3e-3), ("adam", 1e-2)])
def test_every_optimizer_reduces_the_loss(corpus, tmp_path, optimizer, lr):
    assert optimizer in OPTIMIZERS
    config = small_config(corpus, optimizer=optimizer, lr=lr, steps=40, eval_every=40, dropout=0.0,
                          lr_schedule="constant", layers=1)
    trainer = Trainer.start(config, tmp_path)
    first = trainer.evaluate()["loss"]
    trainer.run()
    assert trainer.evaluate()["loss"] < first - 0.5


def test_word_level_frames_lines_and_samples_stop_at_the_end_token(tmp_path):
    corpus = tmp_path / "lines.txt"
    corpus.write_text("the cat sat .\n" * 200)
    config = TrainConfig(corpus=str(corpus), text=TextOptions(level="word"), embed=8, hidden=16,
                         layers=1, batch_size=4, seq_len=10, steps=150, eval_every=150, lr=2e-2,
                         sample_length=0, seed=0, val_fraction=0.1)
    trainer = Trainer.start(config, tmp_path / "run")
    rows = trainer.train_streams
    assert {trainer.vocab.id_of(BOS), trainer.vocab.id_of(EOS)} <= set(np.unique(rows).tolist())
    trainer.run()
    lm = load(tmp_path / "run")
    assert lm.sample(length=50, temperature=0.5, count=5, seed=1, stop_at_end=True) == ["the cat sat."] * 5
    # Otherwise a sample runs on through </s> to its length: 50 tokens, ten lines of four words and </s>.
    assert lm.sample(length=50, temperature=0.5, count=5, seed=1) == ["the cat sat.\n" * 10] * 5


def test_a_second_trainer_on_a_locked_run_directory_is_refused(corpus, tmp_path):
    """While a trainer holds a run directory (from start or resume until run returns), another
    cannot start or resume there; the lock goes when run returns."""
    from seqkit.errors import TrainingError
    from seqkit.runs.directory import lock_run_dir
    first = Trainer.start(small_config(corpus, steps=2), tmp_path / "run")
    with pytest.raises(TrainingError, match="in use by another seqkit train"):
        Trainer.resume(tmp_path / "run")
    with pytest.raises(TrainingError, match="in use by another seqkit train"):
        Trainer.start(small_config(corpus, steps=2), tmp_path / "run")
    first.run()
    resumed = Trainer.resume(tmp_path / "run", steps=4)
    with pytest.raises(TrainingError, match="in use"):
        lock_run_dir(tmp_path / "run")
    resumed.run()
    lock_run_dir(tmp_path / "run").close()  # free again
