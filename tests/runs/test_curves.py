"""The loss curves of a run (seqkit.runs.curves), read from its metrics.jsonl: the training loss
smoothed, validation points and the best one, by step and by seconds of training."""
import json

import pytest
from shared import RUN_EVAL_EVERY, RUN_STEPS

from seqkit.runs.curves import SMOOTHING, read_curves


def test_the_curves_are_the_runs_records(char_run):
    curves = read_curves(char_run)
    records = [json.loads(line) for line in (char_run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    assert curves.label == "char (lstm 1x16, char, lr 0.004)"  # the run directory's name, then its options
    assert curves.steps == list(range(1, RUN_STEPS + 1)) and curves.lr == [r["lr"] for r in train]
    assert curves.loss[0] == train[0]["loss"]
    assert curves.loss[1] == pytest.approx(SMOOTHING * train[0]["loss"] + (1 - SMOOTHING) * train[1]["loss"])
    assert curves.seconds == [r["seconds"] for r in train] and curves.timed_loss == curves.loss
    assert curves.val_steps == list(range(RUN_EVAL_EVERY, RUN_STEPS + 1, RUN_EVAL_EVERY))
    assert curves.val_loss == [r["val_loss"] for r in evals]
    assert curves.val_loss[curves.best] == min(r["val_loss"] for r in evals)
