"""Runs written by seqkit 0.1.0 (tests/fixtures/v0_1_0, made by make_v0_1_0.py there) keep
working: they load, evaluate to the same loss, sample the same text at temperature 0 and resume
to the same checkpoint bytes; and a new run with their configuration writes the very bytes 0.1.0
wrote. Bits depend on the BLAS kernel: the fixture was written on a 2-core Intel Xeon (OpenBLAS)."""
import hashlib
import json
import shutil
from pathlib import Path

import pytest

import seqkit
from seqkit.config import TrainConfig
from seqkit.rundir import LATEST
from seqkit.train import Trainer

FIXTURE = Path(__file__).parent / "fixtures" / "v0_1_0"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(params=sorted(EXPECTED))
def old_run(request, tmp_path):
    """(name, a copy of the 0.1.0 run whose config.json names the copied corpus)."""
    shutil.copy(FIXTURE / "corpus.txt", tmp_path / "corpus.txt")
    run = tmp_path / request.param
    shutil.copytree(FIXTURE / request.param, run)
    saved = json.loads((run / "config.json").read_text())
    saved["config"]["corpus"] = str(tmp_path / "corpus.txt")
    (run / "config.json").write_text(json.dumps(saved))
    return request.param, run


def test_an_old_run_evaluates_and_samples_as_before(old_run):
    name, run = old_run
    lm = seqkit.load(run)
    assert lm.evaluate((FIXTURE / "held_out.txt").read_text()) == EXPECTED[name]["held_out"]
    assert lm.sample(length=40, temperature=0, prime="The", seed=1)[0] == EXPECTED[name]["argmax_sample"]


def test_an_old_run_resumes_to_the_bytes_0_1_0_wrote(old_run):
    name, run = old_run
    assert digest(run / LATEST) == EXPECTED[name]["latest_sha256_at_6"]
    trainer = Trainer.resume(run, steps=9)
    assert trainer.step == 6
    assert trainer.run() == "done"
    assert digest(run / LATEST) == EXPECTED[name]["latest_sha256_at_9"]


def test_a_new_run_writes_the_bytes_0_1_0_wrote(old_run, tmp_path):
    """The same seed, corpus and options give the same checkpoint bytes as before the redesign."""
    name, run = old_run
    config = TrainConfig.from_dict(json.loads((run / "config.json").read_text())["config"])
    trainer = Trainer.start(config, tmp_path / "again")
    trainer.run()
    assert digest(tmp_path / "again" / LATEST) == EXPECTED[name]["latest_sha256_at_6"]
    old_log = [json.loads(line) for line in (FIXTURE / name / "metrics.jsonl").read_text().splitlines()]
    new_log = [json.loads(line) for line in (tmp_path / "again" / "metrics.jsonl").read_text().splitlines()]
    assert new_log == old_log  # the same loss curve, evaluations and samples
