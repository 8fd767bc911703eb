"""Training end to end on small texts through the Trainer: reproducibility, every optimizer
learning, the learning-rate schedule over the run's length, start and end tokens from the data to
the samples. (Resuming: test_resume.py.)"""
import json
import math
import time

import numpy as np
import pytest
from shared import small_config

from seqkit.config import TrainConfig
from seqkit.lm import load
from seqkit.optim.optimizers import OPTIMIZERS
from seqkit.runs.directory import LATEST, METRICS
from seqkit.text.options import BOS, EOS, TextOptions
from seqkit.training.trainer import Trainer


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


def test_a_cosine_run_spans_its_steps_after_warming_up(corpus, tmp_path):
    """The rate each step used (metrics.jsonl) is the formula at progress step / steps."""
    config = small_config(corpus, steps=20, eval_every=10, lr=0.01, lr_schedule="cosine", lr_floor=0.2, warmup=3)
    Trainer.start(config, tmp_path / "run").run()
    logged = [json.loads(line) for line in (tmp_path / "run" / METRICS).read_text().splitlines()]
    rates = [r["lr"] for r in logged if r["kind"] == "train"]
    expected = [0.01 * (0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * s / 20))) for s in range(20)]
    expected[:3] = [e * (s + 1) / 3 for s, e in enumerate(expected[:3])]
    assert rates == pytest.approx(expected, rel=1e-12)


def test_progress_is_the_stopping_rule_nearest_to_its_end(corpus, tmp_path):
    """With --time the cosine follows the wall clock; with several rules, the nearest counts."""
    trainer = Trainer.start(small_config(corpus, steps=100, minutes=2.0, lr_schedule="cosine"), tmp_path / "a")
    trainer.step, trainer._began = 10, time.monotonic() - 30
    assert trainer.progress() == pytest.approx(0.25, abs=0.01)  # 30 s of 2 min, ahead of 10 of 100 steps
    trainer.step = 80
    assert trainer.progress() == 0.8
    trainer.release()
    epochs = Trainer.start(small_config(corpus, epochs=2, lr_schedule="cosine"), tmp_path / "b")
    epochs.epoch, epochs.position = 1, (len(epochs.train_streams) - 1) // 2
    assert epochs.progress() == pytest.approx(0.75, abs=0.01)
    epochs.release()
    clock = Trainer.start(small_config(corpus, minutes=2.0, lr_schedule="cosine"), tmp_path / "c")
    clock.epoch, clock._began = 50, time.monotonic() - 60  # --time alone: no epoch limit
    assert clock.config.epochs is None and clock.progress() == pytest.approx(0.5, abs=0.01)
    clock.release()
