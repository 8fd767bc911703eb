"""Ctrl-C (SIGINT) and SIGTERM during training: the step in flight finishes, a checkpoint is
saved, the process says how to resume and exits with 130, without a traceback."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqkit.runs.checkpoint import load_arrays
from seqkit.training.trainer import Trainer


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_and_exits_cleanly(corpus, tmp_path, signal_number):
    run = tmp_path / "run"
    command = [str(Path(sys.executable).parent / "seqkit"), "train", str(corpus), "-o", str(run),
               "--hidden", "16", "--layers", "1", "--batch-size", "2", "--seq-len", "8",
               "--epochs", "1000", "--eval-every", "100000", "--seed", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = run / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 5):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal_number)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and stdout == ""
    _, meta = load_arrays(run / "latest.npz")
    assert f"interrupted at step {meta['step']}: saved {run / 'latest.npz'}; continue with: " \
           f"seqkit train --resume {run}" in stderr
    assert meta["step"] >= 5
    assert Trainer.resume(run).step == meta["step"]
