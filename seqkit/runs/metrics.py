"""A run's log, metrics.jsonl: one JSON object a line, appended as training goes. Each has a
"kind": "train" (a step: its loss, learning rate, gradient norm), "eval" (validation metrics
and the evaluation's sample), "skipped" (a step whose loss or gradient was not finite) or
"resume" (what a --resume changed); and the "step" it was written at, with "seconds" of
training over every invocation of the run (runs of 0.1.0 recorded none)."""
import json
from pathlib import Path

from seqkit.runs.checkpoint import write_text
from seqkit.runs.directory import METRICS


def append_metrics(run_dir, record):
    """Add one JSON line to metrics.jsonl."""
    with open(Path(run_dir) / METRICS, "a", encoding="utf-8") as file:
        file.write(json.dumps(record) + "\n")


def read_metrics(run_dir):
    """The records of a run's metrics.jsonl, in order ([] when there is none)."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def trim_metrics(run_dir, step):
    """Drop metric lines written after `step` (by a run killed after its last checkpoint), so
    that a resumed run's log stays one curve. Returns the training seconds the kept lines
    reach (0 for runs that recorded none), from which a resumed run's clock goes on."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return 0.0
    lines = [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True) if line.strip()]
    kept = [(line, record) for line, record in zip(lines, map(json.loads, lines)) if record.get("step", 0) <= step]
    write_text(path, "".join(line for line, _ in kept))
    return max((record["seconds"] for _, record in kept if "seconds" in record), default=0.0)
