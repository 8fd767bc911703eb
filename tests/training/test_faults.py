"""Faults during training, through the Trainer: a loss that stops being finite, a disk that fills
up. Training stops with an error saying what to do, and the last good checkpoint stays as it was
and resumes. (seqkit train's one line for each: tests/cli/test_train.py.)"""
import json

import numpy as np
import pytest

from seqkit.config import TrainConfig
from seqkit.errors import TrainingError
from seqkit.text.options import TextOptions
from seqkit.training.trainer import MAX_BAD_STEPS, Trainer


def disk_full(*args, **kwargs):
    raise OSError(28, "No space left on device")


@pytest.fixture
def trainer(corpus, tmp_path):
    """A small run that has trained 2 steps and saved a checkpoint at step 2."""
    config = TrainConfig(corpus=str(corpus), text=TextOptions(), hidden=8, layers=1, batch_size=2,
                         seq_len=8, steps=2, eval_every=2, sample_length=0, seed=0)
    trainer = Trainer.start(config, tmp_path / "run")
    trainer.run()
    trainer.config = trainer.config.replace(steps=50, eval_every=100)
    return trainer


def test_a_loss_that_stays_nan_stops_training_and_keeps_the_checkpoint(trainer, monkeypatch):
    before = (trainer.run_dir / "latest.npz").read_bytes()
    weights = {name: p.copy() for name, p in trainer.model.parameters.items()}
    forward = trainer.model.forward

    def diverged(*args, **kwargs):  # as an exploding model would: the loss is NaN
        _, state, cache = forward(*args, **kwargs)
        return float("nan"), state, cache

    monkeypatch.setattr(trainer.model, "forward", diverged)
    with pytest.raises(TrainingError, match=f"not finite {MAX_BAD_STEPS} steps in a row at step 6: lower the "
                                            r"learning rate \(lr\) or clip harder \(clip\)"):
        trainer.run()
    assert (trainer.run_dir / "latest.npz").read_bytes() == before
    for name, p in trainer.model.parameters.items():  # no update from a non-finite step
        np.testing.assert_array_equal(p, weights[name])
    records = [json.loads(line) for line in (trainer.run_dir / "metrics.jsonl").read_text().splitlines()]
    skipped = [r for r in records if r["kind"] == "skipped"]
    assert len(skipped) == MAX_BAD_STEPS and all(r["loss"] == "nan" for r in skipped)


def test_a_full_disk_stops_training_and_keeps_the_checkpoint(trainer, monkeypatch):
    before = (trainer.run_dir / "latest.npz").read_bytes()
    monkeypatch.setattr(np.lib.format, "write_array", disk_full)
    with pytest.raises(TrainingError, match="could not write .*latest.npz .No space left on device.; the "
                                            "previous checkpoint is intact: make room, then go on with resume="):
        trainer.run()
    assert (trainer.run_dir / "latest.npz").read_bytes() == before
    assert not list(trainer.run_dir.glob(".*.tmp"))
    monkeypatch.undo()
    assert Trainer.resume(trainer.run_dir).step == 2
