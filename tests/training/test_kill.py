"""SIGKILL at random moments, checkpoint writes included: after every kill the run directory
loads, and --resume continues from its latest checkpoint."""
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import seqkit
from seqkit.runs.checkpoint import load_arrays
from seqkit.training.trainer import Trainer

SEQKIT = str(Path(sys.executable).parent / "seqkit")
KILLS = 5


def metric_lines(run):
    path = run / "metrics.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_sigkill_at_random_moments_never_loses_the_run(corpus, tmp_path):
    run = tmp_path / "run"
    # A checkpoint at every step: most of a step's time is spent writing one, so kills land there.
    start = [SEQKIT, "train", str(corpus), "-o", str(run), "--hidden", "32", "--layers", "1",
             "--batch-size", "4", "--seq-len", "16", "--eval-every", "1", "--sample-length", "0",
             "--epochs", "1000", "--seed", "0"]
    resume = [SEQKIT, "train", "--resume", str(run)]
    rng = random.Random(0)
    steps = []
    for kill in range(KILLS):
        process = subprocess.Popen(start if kill == 0 else resume, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        logged = metric_lines(run)
        while metric_lines(run) == logged:  # startup is over once a step is logged
            assert process.poll() is None, process.communicate()[1].decode()
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.5))  # a step and its checkpoint take ~25 ms: kills land anywhere in them
        process.send_signal(signal.SIGKILL)
        process.wait()
        lm = seqkit.load(run)  # loads, whatever moment the kill hit
        arrays, meta = load_arrays(run / "latest.npz")
        np.testing.assert_array_equal(lm.model.parameters["output.weight"], arrays["model.output.weight"])
        steps.append(meta["step"])
        resumed = Trainer.resume(run)  # and resumes from exactly there
        assert resumed.step == meta["step"]
        resumed.release()
    assert not list(run.glob(".*.tmp"))  # resume clears what killed writes left behind
    assert steps == sorted(steps) and steps[-1] > steps[0]  # no kill lost earlier progress
