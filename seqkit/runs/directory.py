"""The run directory: what `seqkit train` writes and `sample`, `eval`, `--resume` and
seqkit.load read.

    config.json    {"seqkit_version", "config": TrainConfig.to_dict(), "vocab_size", "corpus_sha256",
                    "corpus_files" ([{"path", "bytes", "sha256", "label"}] of every file read, in order;
                    0.1.0's runs have none), "init_from" (a fine-tuned run's source), "history" (what
                    each --resume changed)}
    vocab.json     Vocab.to_dict()
    latest.npz     the latest checkpoint (seqkit.runs.checkpoint): model.<parameter>, optim.<slot>.<parameter>,
                   state.<layer>.<array>, start.<layer> (the state samples start from, since
                   0.2.0), and the meta the trainer needs to resume
    best.npz       the checkpoint with the lowest validation loss so far
    metrics.jsonl  one JSON object per step and per evaluation (seqkit.runs.metrics)
    corpus.txt     a corpus read from standard input or a FIFO (read once, kept here to resume on)

Every file but metrics.jsonl is replaced atomically; a trainer holds a lock on the directory
itself while it writes there. Errors name the file and what to do.
"""
import hashlib
import itertools
import json
import os
from pathlib import Path

import numpy as np

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from seqkit import _version
from seqkit._checks import check_finite, copy_into
from seqkit.config import TrainConfig
from seqkit.errors import CheckpointError, TrainingError, option, setting
from seqkit.nn.model import Model
from seqkit.runs.checkpoint import FORMAT_VERSION, load_arrays, read_json, save_arrays, write_json
from seqkit.text.vocab import Vocab

CONFIG, VOCAB, LATEST, BEST, METRICS = "config.json", "vocab.json", "latest.npz", "best.npz", "metrics.jsonl"
STREAMED = "corpus.txt"  # a corpus read from standard input or a FIFO, kept for the run to resume on


def shipped_corpus():
    """The path of the tiny-shakespeare corpus installed with seqkit."""
    from seqkit.corpora import path
    return Path(str(path()))


def corpus_paths(config):
    """The paths a configuration's corpus was given as (files, directories, patterns), or the
    shipped corpus."""
    if not config.corpus:
        return [shipped_corpus()]
    return [Path(p) for p in ([config.corpus] if isinstance(config.corpus, str) else config.corpus)]


def corpus_path(config):
    """The first of corpus_paths: the training text of a configuration given one file."""
    return corpus_paths(config)[0]


def corpus_digest(records):
    """The digest config.json's corpus_sha256 records: a single file's sha256, else the sha256 of
    the files' digests and labels, in order."""
    if len(records) == 1 and not records[0].get("label"):
        return records[0]["sha256"]
    listed = json.dumps([[r["sha256"], r.get("label")] for r in records])
    return hashlib.sha256(listed.encode()).hexdigest()


def file_digest(path):
    """sha256 of a file's bytes, to notice a corpus that changed under a run."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lock_run_dir(run_dir):
    """Hold an exclusive lock on the run directory itself, so that a second `seqkit train` on the
    same run refuses to start instead of writing beside the first: a lock on the directory's
    inode, which no file inside it can take away (deleting or replacing a lock file would).
    Returns a DirectoryLock: closing it, or the process ending in any way (SIGKILL
    included), releases the lock, so a crashed run never leaves a stale one. Without fcntl
    (Windows) there is no lock."""
    try:
        descriptor = os.open(run_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as error:
        raise TrainingError(f"could not open the run directory {run_dir} ({error.strerror or error})",
                            file=run_dir) from None
    held = DirectoryLock(descriptor)
    if fcntl is None:
        return held
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        held.close()
        raise TrainingError(f"{run_dir} is in use by another seqkit train: wait for that one to finish, or train "
                            f"into another directory ({option('out')})", file=run_dir) from None
    return held


class DirectoryLock:
    """An open descriptor of a run directory, whose flock closing releases."""

    def __init__(self, descriptor):
        self.descriptor = descriptor

    def close(self):
        if self.descriptor is not None:
            os.close(self.descriptor)
            self.descriptor = None


def remove_run_files(run_dir, remove_directory=False):
    """Remove what a new run writes (the run files, the checkpoints, the log, a temporary file
    of an interrupted write), and the directory itself if remove_directory and it is empty: a
    run that failed before its first checkpoint leaves nothing a re-run would refuse."""
    run_dir = Path(run_dir)
    written = [run_dir / name for name in (CONFIG, VOCAB, LATEST, BEST, METRICS, STREAMED)]
    for path in written + list(run_dir.glob(".*.tmp")):
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    if remove_directory:
        try:
            run_dir.rmdir()
        except OSError:
            pass  # it holds something else: leave it


def holds_run(run_dir):
    """Whether run_dir already holds a run (its config.json)."""
    return (Path(run_dir) / CONFIG).exists()


def new_run_dir(config, root="runs"):
    """root/<corpus name>, numbered <name>-2, -3 ... when taken, so no earlier run is overwritten."""
    stem = corpus_path(config).stem
    base = Path(root) / ("stdin" if stem == "-" else stem)
    candidate, n = base, 1
    while holds_run(candidate):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def write_run_files(run_dir, config, vocab, files, init_from=None):
    """config.json and vocab.json of a new run, the corpus's files (their records, as
    seqkit.text.tokens gives them) and digest recorded for --resume, and init_from
    (seqkit.training.finetune.Source.record) for a run that started from another."""
    run_dir = Path(run_dir)
    saved = {"seqkit_version": _version.__version__, "config": config.to_dict(), "vocab_size": len(vocab),
             "corpus_sha256": corpus_digest(files), "corpus_files": files}
    if init_from:
        saved["init_from"] = init_from
    write_json(run_dir / CONFIG, saved)
    write_json(run_dir / VOCAB, vocab.to_dict())


def load_run_files(run_dir):
    """(TrainConfig, Vocab) of a run directory, with errors that name the file."""
    run_dir = Path(run_dir)
    if not holds_run(run_dir):
        raise CheckpointError(f"{run_dir} is not a seqkit run directory (it has no {CONFIG})")
    saved = read_json(run_dir / CONFIG)
    written_by = str(saved.get("seqkit_version", "0")) if isinstance(saved, dict) else "0"
    if version_tuple(written_by) > version_tuple(_version.__version__):
        raise CheckpointError(f"{run_dir} was written by seqkit {written_by}, newer than this seqkit "
                              f"{_version.__version__}: upgrade seqkit to read it")
    try:
        config = TrainConfig.from_dict(saved["config"])
        vocab = Vocab.from_dict(read_json(run_dir / VOCAB))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{run_dir}: the configuration or vocabulary is not usable ({error})") from None
    if saved.get("vocab_size", len(vocab)) != len(vocab):
        raise CheckpointError(f"{run_dir / VOCAB} has {len(vocab)} tokens but the run was trained with "
                              f"{saved['vocab_size']}: it is not this run's vocabulary")
    return config, vocab


def recorded_files(run_dir, config, moved_from=None):
    """The records ({"path", "bytes", "sha256", "label"}) of the files the run in run_dir was
    started on, each where it is now: under config's corpus if the corpus moved from the paths
    `moved_from` (the configuration's corpus before). Refuses a run that records none to check
    (one imported without its corpus), and one whose files are not there."""
    saved = read_json(Path(run_dir) / CONFIG)
    if saved.get("corpus_sha256") is None and "imported_from" in saved:
        raise TrainingError(f"the run in {run_dir} was imported from {saved['imported_from']['file']} without its "
                            f"training corpus, so it cannot resume: fine-tune it on a corpus with "
                            f"{setting('init_from', run_dir)}")
    now = corpus_paths(config)
    if "corpus_files" in saved:
        records = saved["corpus_files"]
        if not (isinstance(records, list) and records and all(_is_file_record(r) for r in records)):
            raise CheckpointError(f"{Path(run_dir) / CONFIG}: corpus_files is not a list of the corpus's files "
                                  f"(path, sha256, label): put back the run's own config.json")
        records = [dict(r) for r in records]
    else:  # seqkit 0.1.0's runs, and runs saved from a model: one file and its digest
        records = [{"path": str(now[0]), "sha256": saved.get("corpus_sha256"), "label": None}]
        moved_from = None
    if moved_from is not None:
        before = [Path(p) for p in ([moved_from] if isinstance(moved_from, str) else moved_from)] or [shipped_corpus()]
        for record in records:
            record["path"] = str(_moved(Path(record["path"]), before, now))
    for record in records:
        if not Path(record["path"]).is_file():
            where = corpus_path(config) if len(records) == 1 else record["path"]
            raise TrainingError(f"the corpus of the run in {run_dir}, {where}, is not there: "
                                f"if it moved, say where with {option('corpus')}")
    return records


def _is_file_record(record):
    return (isinstance(record, dict) and isinstance(record.get("path"), str) and isinstance(record.get("sha256"), str)
            and isinstance(record.get("label"), (str, type(None))))


def _moved(path, before, now):
    """Where `path`, under one of the paths `before` (or one of them), is under `now`'s."""
    for old, new in zip(before, now):
        if path == old:
            return new
        if old in path.parents:
            return new / path.relative_to(old)
    return path


def corpus_changed(run_dir, path):
    """The error for a file of a run's corpus that is not the text the run started on."""
    return TrainingError(f"{path} is not the text the run in {run_dir} started on (it changed, or is another file), "
                         f"so the run cannot continue on it; start a new run instead")


def version_tuple(version):
    """(0, 1, 0) for "0.1.0": the leading numbers of a version, for ordering."""
    numbers = []
    for part in version.split("."):
        digits = "".join(itertools.takewhile(str.isdigit, part))
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


def latest_run(root="runs"):
    """The run directory under root whose latest checkpoint was written last, or None."""
    checkpoints = list(Path(root).glob(f"*/{LATEST}"))
    return max(checkpoints, key=lambda p: p.stat().st_mtime).parent if checkpoints else None


# --- checkpoints ------------------------------------------------------------------------------------
def model_arrays(model):
    """A model's parameters under their checkpoint names, model.<name>."""
    return {f"model.{name}": array for name, array in model.parameters.items()}


def checkpoint_contents(model, optimizer, schedule, rng, step=0, epoch=0, position=0, best_val_loss=None,
                        state_layers=()):
    """(arrays, meta) of a checkpoint: the parameters, the optimizer's state, each layer's carried
    state arrays (state_layers, a list per layer; none at an epoch's start), and what resuming
    needs: the position, the dropout generator `rng`, the schedule, the best validation loss."""
    arrays = model_arrays(model)
    optim_arrays, optim_scalars = optimizer.state_dict()
    arrays.update({f"optim.{name}": a for name, a in optim_arrays.items()})
    for k, layer_arrays in enumerate(state_layers):
        arrays.update({f"state.{k}.{i}": a for i, a in enumerate(layer_arrays)})
    arrays.update(start_arrays(model))
    meta = {"format": FORMAT_VERSION, "seqkit_version": _version.__version__, "step": step, "epoch": epoch,
            "position": position, "state_arrays": len(state_layers[0]) if len(state_layers) else 0,
            "rng": rng.bit_generator.state, "optimizer": optim_scalars, "schedule": schedule.state_dict(),
            "best_val_loss": best_val_loss}
    return arrays, meta


def start_arrays(model):
    """The state units start from (Model.start_state) under its checkpoint names, start.<layer>
    (S, H); none where the model has none (runs written before 0.2.0 sample from zeros)."""
    return {} if model.start_state is None else {f"start.{k}": s for k, s in enumerate(model.start_state)}


def restore_model(model, arrays, source):
    """Copy the `model.*` arrays into the model, refusing any mismatch of names, shapes or dtypes,
    and weights that are not finite; take its start state (start.*) where the checkpoint has one."""
    parameters = {k: v for k, v in arrays.items() if k.startswith("model.")}
    copy_into(model_arrays(model), parameters, f"the parameters in {source}")
    check_finite(parameters, str(source), CheckpointError)
    found = {k: v for k, v in arrays.items() if k.startswith("start.")}
    if not found:
        model.start_state = None
        return
    expected = {f"start.{k}": np.zeros((layer.state_size, layer.hidden_size), model.dtype)
                for k, layer in enumerate(model.layers)}
    copy_into(expected, found, f"the start state in {source}")
    check_finite(found, str(source), CheckpointError)
    model.start_state = [expected[f"start.{k}"] for k in range(len(model.layers))]


def save_checkpoint(run_dir, name, arrays, meta):
    """save_arrays, whose failure (a full disk, say) leaves the previous file as it was."""
    path = Path(run_dir) / name
    try:
        save_arrays(path, arrays, meta)
    except OSError as error:
        raise TrainingError(f"could not write {path} ({error.strerror or error}); the previous checkpoint "
                            f"is intact: make room, then go on with {setting('resume', run_dir)}") from None


def load_model(run, best=False):
    """(Model, Vocab, TrainConfig, checkpoint path) of a run: a run directory's latest checkpoint,
    or with best=True the one with the lowest validation loss; or a checkpoint file in a run
    directory (best.npz, latest.npz), read with its directory's configuration and vocabulary."""
    run = Path(run)
    if run.is_file():
        if run.suffix != ".npz":
            raise CheckpointError(f"{run} is not a checkpoint: give a run directory, or its {BEST} or {LATEST}")
        if best:
            raise ValueError(f"best=True picks a run directory's {BEST}, but {run} is a checkpoint file: "
                             f"drop best, or give its directory")
        if not holds_run(run.parent):
            raise CheckpointError(f"{run} is not in a seqkit run directory ({run.parent} has no {CONFIG}): "
                                  f"give a checkpoint file where seqkit train wrote it")
        run_dir, path = run.parent, run
    else:
        run_dir, path = run, run / (BEST if best else LATEST)
    config, vocab = load_run_files(run_dir)
    if not path.exists():
        raise CheckpointError(f"{run_dir} holds no checkpoint ({path.name} is missing)")
    arrays, _ = load_arrays(path)
    model = Model(**config.model_options(len(vocab)), seed=0)
    restore_model(model, arrays, path)
    return model, vocab, config, path
