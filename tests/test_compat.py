"""Runs written by seqkit 0.1.0 (tests/fixtures/v0_1_0, made by make_v0_1_0.py there) keep
working: they load, evaluate to the same loss, sample the same text and resume to the same
checkpoint bytes; and a new run with their configuration writes the very bytes 0.1.0 wrote.
Runs written by 0.2.0 (tests/fixtures/v0_2_0, make_v0_2_0.py: lines and start states, a
labelled directory corpus) load, evaluate, sample and resume as they did, the same way.

Bits depend on the BLAS kernel the CPU gets: on the CPU model that wrote the fixture, checkpoints
must be byte for byte 0.1.0's; on another, their arrays must equal 0.1.0's to float32 rounding
(the fixture keeps the resumed checkpoint for that) and the losses to 1e-6. The float64 run
compares to rounding everywhere: the softmax now sums a row in eight running totals (faster),
which rounds float64 differently from 0.1.0's one (float32 rows are summed in float64 either
way, so their bits did not change)."""
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import seqkit
from seqkit.config import TrainConfig
from seqkit.runs.directory import LATEST
from seqkit.text.words import detokenize
from seqkit.training.trainer import Trainer

FIXTURE = Path(__file__).parent / "fixtures" / "v0_1_0"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())
WRITTEN_ON = EXPECTED.pop("written_on")


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


SAME_CPU = cpu_model() == WRITTEN_ON["cpu"]


def as_decoded_now(name, text):
    """0.1.0 joined a word-level sample's tokens by spaces; decode now joins them as text."""
    if json.loads((FIXTURE / name / "config.json").read_text())["config"]["text"]["level"] != "word":
        return text
    return "\n".join(detokenize(line.split(" ")) if line else line for line in text.split("\n"))


def bitwise(name):
    """Whether run `name` must reproduce 0.1.0's bits here: a float32 run on the fixture's CPU."""
    config = json.loads((FIXTURE / name / "config.json").read_text())["config"]
    return SAME_CPU and config["dtype"] == "float32"


def same_checkpoint(path, name, step):
    """path holds what 0.1.0 wrote for run `name` at `step`: its bytes on the fixture's CPU,
    its arrays to float32 rounding elsewhere (only step 9's file is kept)."""
    if bitwise(name):
        return digest(path) == EXPECTED[name][f"latest_sha256_at_{step}"]
    reference = FIXTURE / (f"{name}/latest.npz" if step == 6 else f"{name}_at_9.npz")
    with np.load(path) as ours, np.load(reference) as theirs:
        return ours.files == theirs.files and all(
            np.allclose(ours[k], theirs[k], rtol=1e-4, atol=1e-6) for k in ours.files if k != "__meta__")


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
    metrics, expected = lm.evaluate((FIXTURE / "held_out.txt").read_text()), EXPECTED[name]["held_out"]
    if bitwise(name):
        assert metrics == expected
    else:
        assert {k for k, v in metrics.items() if v is None} == {k for k, v in expected.items() if v is None}
        assert {k: v for k, v in metrics.items() if v is not None} == pytest.approx(
            {k: v for k, v in expected.items() if v is not None}, rel=1e-6)
    for seed, temperature, key in ((1, 0, "argmax_sample"), (3, 1.0, "sample_t1")):
        # 0.1.0 ended a sample at its first </s>; now one runs on to the length asked for.
        old = as_decoded_now(name, EXPECTED[name][key])
        assert lm.sample(length=40, temperature=temperature, prime="The", seed=seed, stop_at_end=True)[0] == old
        assert lm.sample(length=40, temperature=temperature, prime="The", seed=seed)[0].startswith(old)


def test_an_old_run_resumes_to_the_bytes_0_1_0_wrote(old_run):
    name, run = old_run
    assert digest(run / LATEST) == EXPECTED[name]["latest_sha256_at_6"]
    trainer = Trainer.resume(run, steps=9)
    assert trainer.step == 6
    assert trainer.run() == "done"
    assert same_checkpoint(run / LATEST, name, 9)


def test_a_new_run_writes_the_bytes_0_1_0_wrote(old_run, tmp_path):
    """The same seed, corpus and options give the same checkpoint bytes as before the redesign."""
    name, run = old_run
    config = TrainConfig.from_dict(json.loads((run / "config.json").read_text())["config"])
    trainer = Trainer.start(config, tmp_path / "again")
    trainer.run()
    assert same_checkpoint(tmp_path / "again" / LATEST, name, 6)
    old_log = [json.loads(line) for line in (FIXTURE / name / "metrics.jsonl").read_text().splitlines()]
    new_log = [json.loads(line) for line in (tmp_path / "again" / "metrics.jsonl").read_text().splitlines()]
    for record in new_log:
        assert record.pop("seconds") >= 0  # the wall clock, new since 0.1.0
    for old, new in zip(old_log, new_log):
        if "sample" in old:  # 0.1.0's samples ended at their first </s>; now they run on to --sample-length
            old_sample, new_sample = as_decoded_now(name, old.pop("sample")), new.pop("sample")
            assert new_sample.startswith(old_sample)
    if bitwise(name):
        assert new_log == old_log  # the same loss curve, evaluations and samples
    else:
        assert [r.get("loss", r.get("val_loss")) for r in new_log] == pytest.approx(
            [r.get("loss", r.get("val_loss")) for r in old_log], rel=1e-5)


FIXTURE_0_2 = Path(__file__).parent / "fixtures" / "v0_2_0"
EXPECTED_0_2 = json.loads((FIXTURE_0_2 / "expected.json").read_text())
SAME_CPU_0_2 = cpu_model() == EXPECTED_0_2.pop("written_on")["cpu"]


@pytest.fixture(params=sorted(EXPECTED_0_2))
def run_0_2(request, tmp_path):
    """(name, a copy of the 0.2.0 run whose config.json names the copied corpus and its files)."""
    shutil.copy(FIXTURE_0_2 / "corpus.txt", tmp_path / "corpus.txt")
    shutil.copytree(FIXTURE_0_2 / "library", tmp_path / "library")
    run = tmp_path / request.param
    shutil.copytree(FIXTURE_0_2 / request.param, run)
    saved = json.loads((run / "config.json").read_text())
    saved["config"]["corpus"] = str(tmp_path / saved["config"]["corpus"])
    for record in saved["corpus_files"]:
        record["path"] = str(tmp_path / record["path"])
    (run / "config.json").write_text(json.dumps(saved))
    return request.param, run


def test_a_0_2_0_run_evaluates_samples_and_resumes_as_it_did(run_0_2):
    name, run = run_0_2
    expected = EXPECTED_0_2[name]
    # Bits as 0.2.0 wrote them: on its CPU, with the threads it had (pytest -n 2 gives each worker one).
    bits = (SAME_CPU_0_2 and "SEQKIT_THREADS" not in os.environ
            and json.loads((run / "config.json").read_text())["config"]["dtype"] == "float32")
    lm = seqkit.load(run)
    assert lm.model.start_state is not None  # 0.2.0's runs record where samples start
    metrics = lm.evaluate((FIXTURE_0_2 / "held_out.txt").read_text())
    if bits:
        assert metrics == expected["held_out"]
    else:
        assert {k: v for k, v in metrics.items() if v is not None} == pytest.approx(
            {k: v for k, v in expected["held_out"].items() if v is not None}, rel=1e-6)
    assert lm.sample(length=40, temperature=0, prime="The", seed=1)[0] == expected["argmax_sample"]
    assert lm.sample(length=40, temperature=1.0, seed=3)[0] == expected["sample_t1"]
    if "labelled_sample" in expected:
        assert lm.sample(length=40, temperature=1.0, seed=3, label="poems")[0] == expected["labelled_sample"]
    assert digest(run / LATEST) == expected["latest_sha256_at_6"]
    trainer = Trainer.resume(run, steps=9)
    assert trainer.step == 6 and trainer.run() == "done"
    if bits:
        assert digest(run / LATEST) == expected["latest_sha256_at_9"]
    else:
        with np.load(run / LATEST) as ours, np.load(FIXTURE_0_2 / f"{name}_at_9.npz") as theirs:
            assert ours.files == theirs.files
            for k in (k for k in ours.files if k != "__meta__"):
                np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-4, atol=1e-6, err_msg=k)
