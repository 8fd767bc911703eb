"""Faults during training: a loss or gradient that stops being finite, a disk that fills up.
Training stops with one line saying what to do (exit 1, no traceback from seqkit train), and the
last good checkpoint stays as it was and resumes."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from seqkit.cli.main import main
from seqkit.config import TrainConfig
from seqkit.corpora import path as corpus_path
from seqkit.errors import TrainingError
from seqkit.nn.model import Model
from seqkit.text.options import TextOptions
from seqkit.training.trainer import MAX_BAD_STEPS, Trainer


def disk_full(*args, **kwargs):
    raise OSError(28, "No space left on device")


@pytest.fixture
def trainer(tmp_path):
    """A small run that has trained 2 steps and saved a checkpoint at step 2."""
    corpus = tmp_path / "c.txt"
    corpus.write_text(corpus_path().read_text()[:5000])
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


def break_training(monkeypatch, fault):
    """Make every training step from now on meet `fault`: nan-loss, inf-gradient or full-disk."""
    forward, backward = Model.forward, Model.backward

    def nan_loss(self, *args, **kwargs):
        _, state, cache = forward(self, *args, **kwargs)
        return float("nan"), state, cache

    def inf_gradient(self, *args, **kwargs):
        grads, dstate = backward(self, *args, **kwargs)
        next(iter(grads.values())).flat[0] = np.inf
        return grads, dstate

    if fault == "full-disk":
        monkeypatch.setattr(np.lib.format, "write_array", disk_full)
    elif fault == "nan-loss":
        monkeypatch.setattr(Model, "forward", nan_loss)
    else:
        monkeypatch.setattr(Model, "backward", inf_gradient)


@pytest.mark.parametrize("fault, phrase", [
    ("nan-loss", f"the loss or gradient was not finite {MAX_BAD_STEPS} steps in a row"),
    ("inf-gradient", f"the loss or gradient was not finite {MAX_BAD_STEPS} steps in a row"),
    ("full-disk", "could not write"),
])
def test_a_fault_ends_seqkit_train_with_one_line_and_the_checkpoint_intact(tmp_path, monkeypatch, fault, phrase):
    corpus, run = tmp_path / "c.txt", tmp_path / "run"
    corpus.write_text(corpus_path().read_text()[:5000])
    tiny = ["--hidden", "8", "--layers", "1", "--batch-size", "2", "--seq-len", "8", "--sample-length", "0"]
    started = CliRunner().invoke(main, ["train", str(corpus), "-o", str(run), "--steps", "2", *tiny])
    assert started.exit_code == 0, started.output
    before = (run / "latest.npz").read_bytes()
    break_training(monkeypatch, fault)
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--steps", "50"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and phrase in errors[0], result.stderr
    assert (run / "latest.npz").read_bytes() == before
    monkeypatch.undo()
    resumed = CliRunner().invoke(main, ["train", "--resume", str(run), "--steps", "3"])
    assert resumed.exit_code == 0 and "stopped: --steps 3 reached at step 3" in resumed.stderr, resumed.output
