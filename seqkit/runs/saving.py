"""A model written as a run directory, as seqkit import and LanguageModel.save make one: the
run files and step-0 checkpoints with fresh optimizer state, so that it samples, evaluates,
fine-tunes and resumes like a run that seqkit train wrote."""
import os
import secrets
import shutil
from pathlib import Path

import numpy as np

from seqkit import _version
from seqkit.errors import CheckpointError
from seqkit.optim.optimizers import optimizer_for
from seqkit.optim.schedules import schedule_for
from seqkit.runs.checkpoint import save_arrays, write_json
from seqkit.runs.directory import BEST, CONFIG, LATEST, VOCAB, checkpoint_contents, holds_run


def save_run(run_dir, model, vocab, config, corpus_sha256=None, **record):
    """Write a model as the run directory `run_dir` (new, or an empty directory): config.json
    (with `record`'s keys), vocab.json, and latest.npz and best.npz at step 0 with fresh
    optimizer state. The directory appears whole or not at all."""
    run_dir = Path(run_dir)
    check_free(run_dir)
    saved = {"seqkit_version": _version.__version__, "config": config.to_dict(), "vocab_size": len(vocab),
             "corpus_sha256": corpus_sha256, **record}
    target = run_dir.resolve()  # "." has no name to put a staging directory beside
    staging = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        write_json(staging / CONFIG, saved)
        write_json(staging / VOCAB, vocab.to_dict())
        arrays, meta = fresh_checkpoint(model, config)
        save_arrays(staging / LATEST, arrays, meta)
        save_arrays(staging / BEST, arrays, meta)
        os.rename(staging, target)  # onto a missing or empty directory only
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise CheckpointError(f"could not write {run_dir} ({error.strerror or error}); nothing was written there") \
            from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_free(run_dir):
    if holds_run(run_dir):
        raise CheckpointError(f"{run_dir} already holds a run: import into a new directory")
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise CheckpointError(f"{run_dir} exists and is not an empty directory: import into a new directory")


def fresh_checkpoint(model, config):
    """(arrays, meta) of a checkpoint as the Trainer writes one at step 0: the model's parameters,
    a fresh optimizer and schedule, the dropout generator seeded as the trainer seeds it."""
    return checkpoint_contents(model, optimizer_for(config, model.parameters), schedule_for(config),
                               np.random.default_rng([config.seed, 1]))
