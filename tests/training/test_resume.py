"""Trainer.resume: a run interrupted and resumed ends with the very checkpoint of one run going
straight through (weights, optimizer moments, generator state, schedule), whatever the cell, the
learning-rate schedule or the regularisation."""
import json

import numpy as np
import pytest
from shared import model_arrays, small_config

from seqkit.config import TrainConfig
from seqkit.runs.directory import METRICS
from seqkit.text.options import TextOptions
from seqkit.training.trainer import Trainer


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


@pytest.mark.parametrize("options", [dict(lr_schedule="cosine", warmup=4, lr_floor=0.05),
                                     dict(lr_schedule="epoch", lr_decay_after=1, lr_decay=0.5)])
def test_resume_is_bit_exact_with_the_newer_schedules(corpus, tmp_path, options):
    """Interrupted at step 7 and resumed (across an epoch boundary): the same checkpoint as one
    17-step run. (A cosine spans the run's stopping rule, so the part runs with steps=17 too.)"""
    config = small_config(corpus, batch_size=16, seq_len=16, **options)
    Trainer.start(config.replace(steps=17), tmp_path / "whole").run()
    part = Trainer.start(config.replace(steps=17), tmp_path / "part")
    assert part.run(stop_requested=lambda: part.step >= 7) == "interrupted"
    Trainer.resume(tmp_path / "part").run()
    (whole, whole_meta), (part, part_meta) = model_arrays(tmp_path / "whole"), model_arrays(tmp_path / "part")
    assert whole_meta["epoch"] == 1  # the shared corpus holds fewer than 17 chunks of 16 x 16
    for name in whole:
        np.testing.assert_array_equal(part[name], whole[name], err_msg=name)
    assert part_meta["schedule"] == whole_meta["schedule"] and part_meta["optimizer"] == whole_meta["optimizer"]


def test_a_regularised_word_model_trains_and_resumes_bit_for_bit(corpus, tmp_path):
    """Variational dropout, dropout on the embedded input, tied weights and an init scale at once,
    interrupted at step 7 and resumed: the same checkpoint as one run."""
    config = TrainConfig(corpus=str(corpus), text=TextOptions(level="word", max_vocab=300), hidden=16, layers=2,
                         batch_size=4, seq_len=10, steps=15, eval_every=5, sample_length=5, seed=2, lr=0.01,
                         dropout=0.3, input_dropout=0.2, variational=True, tie_weights=True, init_scale=0.1)
    whole = Trainer.start(config, tmp_path / "whole")
    first = whole.evaluate()["loss"]
    whole.run()
    assert whole.evaluate()["loss"] < first
    part = Trainer.start(config, tmp_path / "part")
    assert part.run(stop_requested=lambda: part.step >= 7) == "interrupted"
    Trainer.resume(tmp_path / "part").run()
    (a, meta_a), (b, meta_b) = model_arrays(tmp_path / "whole"), model_arrays(tmp_path / "part")
    assert "model.output.weight" not in a and a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert meta_a["rng"] == meta_b["rng"]
