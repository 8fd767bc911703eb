"""A run's log, metrics.jsonl: one JSON object a line, appended as training goes. Each has a
"kind": "train" (a step: its loss, learning rate, gradient norm), "eval" (validation metrics
and the evaluation's sample), "skipped" (a step whose loss or gradient was not finite) or
"resume" (what a --resume changed); and the "step" it was written at, with "seconds" of
training over every invocation of the run (runs of 0.1.0 recorded none)."""
import json
import warnings
from pathlib import Path

from seqkit._checks import check_regular_file
from seqkit.errors import CheckpointError, SeqkitWarning
from seqkit.runs.checkpoint import write_text
from seqkit.runs.directory import METRICS


def append_metrics(run_dir, record):
    """Add one JSON line to metrics.jsonl."""
    with open(Path(run_dir) / METRICS, "a", encoding="utf-8") as file:
        file.write(json.dumps(record) + "\n")


def read_metrics(run_dir):
    """The records of a run's metrics.jsonl, in order ([] when there is none). A last line that
    a kill or a full disk cut short (no newline after it, not JSON) is dropped with a warning
    (seqkit.errors.SeqkitWarning) naming the file; any other line that is not a JSON object is
    a CheckpointError naming the file and the line."""
    return [record for _, record in _lines(Path(run_dir) / METRICS)]


def _lines(path):
    """(line with its newline, record) of each whole record in the file at path."""
    if not path.exists():
        return []
    check_regular_file(path, CheckpointError, "metrics log")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} could not be read ({error}): it is not a seqkit metrics log", file=path) from None
    lines = text.splitlines(keepends=True)
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            if number == len(lines) and not line.endswith("\n"):
                warnings.warn(f"{path} ends in a line cut short ({len(line)} characters, no newline), left by a "
                              f"run stopped while it wrote: that line is dropped", SeqkitWarning, stacklevel=3)
                break
            raise CheckpointError(f"{path}, line {number}: not a JSON record ({error}); remove or repair that line",
                                  file=path) from None
        if not isinstance(record, dict):
            raise CheckpointError(f"{path}, line {number}: a JSON {type(record).__name__}, not a record; remove or "
                                  f"repair that line", file=path)
        records.append((line, record))
    return records


def trim_metrics(run_dir, step):
    """Drop metric lines written after `step` (by a run killed after its last checkpoint), and a
    last line cut short, so that a resumed run's log stays one curve. Returns the training
    seconds the kept lines reach (0 for runs that recorded none), from which a resumed run's
    clock goes on."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return 0.0
    kept = [(line, record) for line, record in _lines(path) if _step(record) <= step]
    write_text(path, "".join(line if line.endswith("\n") else line + "\n" for line, _ in kept))
    return max((float(record["seconds"]) for _, record in kept if _number(record.get("seconds"))), default=0.0)


def _step(record):
    step = record.get("step", 0)
    return step if _number(step) else 0


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)
