"""What `--resume` may change in a run, and the record it keeps of each change.

A resumed run keeps its architecture, vocabulary and tokenizer: the checkpoint's arrays and
the corpus's ids depend on them. What only steers training can change: the learning rate and
its schedule, clipping, dropout, evaluation cadence, sample length, the stopping rules and
the patience for a validation loss that does not improve;
and the corpus's path, when the file moved but its content did not. Each change is logged in
metrics.jsonl and in config.json's "history", and config.json then holds the new values.
"""
from pathlib import Path

from seqkit.runs.checkpoint import read_json, write_json
from seqkit.runs.directory import CONFIG
from seqkit.runs.metrics import append_metrics

STOPPING = ("epochs", "steps", "minutes")
CHANGEABLE = STOPPING + ("lr", "lr_schedule", "lr_decay", "lr_decay_every", "patience", "lr_decay_after",
                         "lr_floor", "warmup", "clip", "clip_value", "dropout", "input_dropout", "eval_every",
                         "sample_length", "stop_patience", "corpus")


def changed_config(config, changes):
    """(config with `changes`, {field: [old, new]} of what differs). Stopping rules given replace
    all of the run's (--steps alone trains until --steps, whatever --epochs was)."""
    fixed = sorted(set(changes) - set(CHANGEABLE))
    if fixed:
        raise ValueError(f"a resumed run keeps its architecture, vocabulary and tokenizer: "
                         f"{', '.join(fixed)} cannot change")
    if any(name in changes for name in STOPPING):
        changes = {**dict.fromkeys(STOPPING), **changes}
    if {"lr_decay_every", "lr_decay_after"} & set(changes) and "lr_schedule" not in changes:
        changes["lr_schedule"] = None  # chosen again from them, as for a new run (step, epoch)
    if changes.get("corpus") is not None:  # Trainer.resume checks that it holds the same text
        moved = changes["corpus"]
        moved = [moved] if isinstance(moved, (str, Path)) else list(moved)
        resolved = [str(Path(p).resolve()) for p in moved]
        changes["corpus"] = resolved[0] if len(resolved) == 1 else tuple(resolved)
    new = config.replace(**changes)
    changed = {name: [getattr(config, name), getattr(new, name)] for name in changes
               if getattr(config, name) != getattr(new, name)}
    return new, changed


def record_changes(run_dir, step, changed, config):
    """Write the new configuration into config.json, with the change appended to its history,
    and log the change in metrics.jsonl (Trainer.run does, once it trains)."""
    path = Path(run_dir) / CONFIG
    saved = read_json(path)
    saved["config"] = config.to_dict()
    saved["history"] = saved.get("history", []) + [{"step": step, "changed": changed}]
    write_json(path, saved)
    append_metrics(run_dir, {"kind": "resume", "step": step, "changed": changed})
