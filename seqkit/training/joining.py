"""How the processes of a group (seqkit.training.group) start or resume one training run together.
Rank 0 starts or resumes the run as one process would; the others build their trainers from
what it sends, after checking that they run the same seqkit on the same files, and all take
its latest checkpoint."""
import os

import numpy as np

from seqkit import _version
from seqkit.config import TrainConfig
from seqkit.errors import TrainingError
from seqkit.runs.checkpoint import load_arrays
from seqkit.runs.directory import LATEST
from seqkit.text.vocab import Vocab
from seqkit.training.group import StopEverywhere, share_json
from seqkit.training.streams import file_sha256, files_of, load_tokens, val_tokens
from seqkit.training.trainer import Trainer


def join(group, begin):
    """This process's Trainer in a group of processes that train one model. Rank 0 calls
    begin() (a Trainer.start or Trainer.resume with the group), which checks the options and
    takes the run directory; the others build their trainers from its configuration and
    vocabulary and their own copy of the corpus, which must be the same files: on one machine
    they map the token file rank 0 wrote (seqkit.runs.tokenfile), elsewhere they tokenize
    their own copy (into their own cache, for a large corpus). Every process
    then takes rank 0's latest checkpoint: the parameters, the optimizer's state, the
    position, the dropout generator and its block of the carried state. If begin() fails,
    rank 0 raises its error and the others StopEverywhere; if a process fails after that,
    every process raises StopEverywhere, said by the one that failed."""
    if group.size == 1:
        return begin()
    if group.rank == 0:
        try:
            trainer = begin()
        except BaseException:
            share_json(group, None)
            raise
        share_json(group, {"run_dir": str(trainer.run_dir), "config": trainer.config.to_dict(),
                           "vocab": trainer.vocab.to_dict(), "seqkit_version": _version.__version__,
                           "files": trainer.tokens.files + corpus_extras(trainer.config)})
    else:
        run = share_json(group, None)
        if run is None:
            raise StopEverywhere("rank 0 could not start the run")
    failure, arrays, meta = None, None, None
    try:
        if group.rank == 0:
            arrays, meta = load_arrays(trainer.run_dir / LATEST)
        else:
            trainer = follower(run, group)
    except (TrainingError, ValueError, OSError) as error:
        failure = error
    failed = np.zeros(group.size)
    failed[group.rank] = failure is not None
    group.sum(failed)  # every process learns whether all could join, and nobody waits forever
    if failed.any():
        raise StopEverywhere(str(failure or f"rank {int(np.flatnonzero(failed)[0])} could not join the run"),
                             said_by=group.rank if failure else int(np.flatnonzero(failed)[0]))
    arrays, meta = broadcast_checkpoint(group, arrays, meta)
    trainer.restore(arrays, meta)
    return trainer


def follower(run, group):
    """A process other than rank 0: its trainer from rank 0's description of the run."""
    if run["seqkit_version"] != _version.__version__:
        raise TrainingError(f"rank {group.rank} runs seqkit {_version.__version__} but rank 0 runs "
                            f"{run['seqkit_version']}: install the same seqkit for every process")
    config, vocab = TrainConfig.from_dict(run["config"]), Vocab.from_dict(run["vocab"])
    for record in run["files"]:
        path = record["path"]
        if not os.path.isfile(path) or file_sha256(path) != record["sha256"]:
            problem = "has another file at" if os.path.isfile(path) else "cannot find"
            raise TrainingError(f"rank {group.rank} {problem} {path}, which rank 0 reads: give every machine "
                                f"the same corpus at the same path")
    corpus = [r for r in run["files"] if not r.get("validation")]
    tokens = load_tokens(config, files_of(corpus), vocab)
    return Trainer(config, run["run_dir"], vocab, tokens, group, val_tokens(config, vocab))


def corpus_extras(config):
    """The records of the other files training reads: the validation file, if one is given."""
    if not config.val_file:
        return []
    return [{"path": os.path.abspath(config.val_file), "sha256": file_sha256(config.val_file), "validation": True}]


def broadcast_checkpoint(group, arrays, meta):
    """Rank 0's checkpoint (arrays, meta) on every process: meta and the arrays' names, shapes
    and dtypes as JSON, then each array's bytes."""
    layout = share_json(group, None if group.rank else
                        {"meta": meta, "arrays": [[name, a.shape, a.dtype.str] for name, a in arrays.items()]})
    if group.rank:
        arrays = {name: np.empty(shape, dtype) for name, shape, dtype in layout["arrays"]}
    for array in arrays.values():
        group.broadcast(array)
    return arrays, layout["meta"]
