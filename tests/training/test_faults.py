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


@pytest.mark.parametrize("fails", ["write_array", "write_json"])
@pytest.mark.parametrize("existed", [False, True])
def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing_in_the_way(corpus, tmp_path, monkeypatch,
                                                                               fails, existed):
    """A disk that is full when a run starts (its first checkpoint, or its config.json, cannot
    be written): the run directory is removed if the run made it, emptied of the run's files if
    it was there before; the same command then trains."""
    config = TrainConfig(corpus=str(corpus), hidden=8, layers=1, batch_size=2, seq_len=8, steps=1, seed=0)
    run = tmp_path / "run"
    if existed:
        run.mkdir()
        (run / "notes.txt").write_text("mine")
    import seqkit.runs.directory
    target = (np.lib.format, "write_array") if fails == "write_array" else (seqkit.runs.directory, "write_json")
    monkeypatch.setattr(*target, disk_full)
    with pytest.raises((TrainingError, OSError)):
        Trainer.start(config, run)
    monkeypatch.undo()
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"] if existed else not run.exists()
    Trainer.start(config, run).run()
    assert (run / "latest.npz").exists()


def test_a_loss_that_is_not_finite_at_the_first_step_blames_the_weights_or_data(corpus, tmp_path, monkeypatch):
    trainer = Trainer.start(TrainConfig(corpus=str(corpus), hidden=8, layers=1, batch_size=2, seq_len=8, steps=5,
                                        seed=0), tmp_path / "run")
    forward = trainer.model.forward
    monkeypatch.setattr(trainer.model, "forward", lambda *a, **k: (float("nan"), *forward(*a, **k)[1:]))
    with pytest.raises(TrainingError, match=r"not finite at the first step \(nan, gradient norm .*\): the starting "
                                            r"weights or the data are at fault, not the learning rate"):
        trainer.run()
