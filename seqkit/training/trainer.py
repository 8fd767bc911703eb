"""Training: truncated backpropagation through time over parallel streams, evaluation,
checkpoints and exact resumption.

The token stream is cut into B parallel streams (seqkit.text.batching.batchify) and consumed in chunks
of T rows; the hidden state is carried from one chunk to the next (reset at each epoch start)
and gradients stop at chunk borders, as char-rnn and Zaremba et al. train. Everything a
resumed run needs to continue bit for bit (weights, optimizer moments, schedule, the dropout
generator, the hidden state and the position in the epoch) is saved in each checkpoint.

Several processes (seqkit.training.group) train one model as one process would: each takes a block
of the streams and all sum their gradients every step; only rank 0 writes the run directory.
"""
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from seqkit._checks import is_count
from seqkit.config import TrainConfig
from seqkit.errors import CheckpointError, SeqkitError, TrainingError, option, setting
from seqkit.generation.sampler import generate
from seqkit.nn.model import Model
from seqkit.nn.workspace import Workspace
from seqkit.optim.optimizers import clip_global_norm, clip_value, global_norm, optimizer_for
from seqkit.optim.schedules import schedule_for
from seqkit.runs.checkpoint import load_arrays
from seqkit.runs.directory import (
    BEST,
    LATEST,
    checkpoint_contents,
    corpus_changed,
    corpus_paths,
    holds_run,
    load_run_files,
    lock_run_dir,
    recorded_files,
    remove_run_files,
    restore_model,
    save_checkpoint,
    write_run_files,
)
from seqkit.runs.metrics import append_metrics, trim_metrics
from seqkit.text.batching import chunks
from seqkit.text.options import BOS, EOS, UNK_ID
from seqkit.text.tokens import Tokens
from seqkit.training.evaluation import evaluate_streams, start_state_sums, summarize
from seqkit.training.group import ALONE, StopEverywhere, block, check_split
from seqkit.training.memory import check_training_fits
from seqkit.training.resuming import changed_config, record_changes
from seqkit.training.streams import check_vocab_size, describe, files_of, find_corpus, load_tokens, run_streams, val_tokens

MAX_BAD_STEPS = 5  # non-finite losses or gradients in a row before training gives up
SUMMED_EXTRAS = 3  # after the gradients in the buffer processes sum: the loss, rank 0's clock, stop votes


class Trainer:
    """One training run in a run directory. Build it with Trainer.start or Trainer.resume, or in
    a group of processes with seqkit.training.joining.join."""

    def __init__(self, config, run_dir, vocab, ids, group=ALONE, val=None):
        """Prefer start, resume and seqkit.training.joining.join; `ids` is the training corpus, encoded by vocab
        (seqkit.text.tokens.Tokens, or an array of ids: one document), `val` the Tokens of config.val_file; group:
        the processes that train together (seqkit.training.group), this one alone by default."""
        self.config, self.run_dir, self.vocab, self.group = config, Path(run_dir), vocab, group
        self.tokens = ids if isinstance(ids, Tokens) else Tokens(vocab, ids, [(0, len(ids))], [])
        check_split(config.batch_size, group.size)
        if val is None and config.val_file:
            val = val_tokens(config, vocab)
        self.train_streams, self.val_streams = run_streams(config, self.tokens, val)
        held = [t for t in (self.tokens, val) if t is not None and not t.mapped]  # a map is paged in, not held
        check_training_fits(config, len(vocab), sum(t.ids.nbytes for t in held))
        self.streams = block(config.batch_size, group)  # this process's training streams
        if group.size > 1:
            self.val_streams = self.val_streams.columns(block(self.val_streams.shape[1], group))
        self.level = config.text.level
        self.bos, self.eos = vocab.id_of(BOS), vocab.id_of(EOS)
        self.model = Model(**config.model_options(len(vocab)), seed=config.seed)
        self.optimizer, self.schedule = optimizer_for(config, self.model.parameters), schedule_for(config)
        self.rng = np.random.default_rng([config.seed, 1])  # dropout masks
        self.workspace = Workspace()  # activations and gradients, reused from step to step
        self.summed = self.model.gradients_with_room(SUMMED_EXTRAS) if group.size > 1 else None
        self.step, self.epoch, self.position, self.state = 0, 0, 0, None
        self.best_val_loss = None
        self.best_step = None  # the step of best.npz
        self.stale_evaluations = 0  # evaluations on the cadence since the validation loss last improved
        self.bad_steps = 0
        self.trained_by = group.size  # processes that trained the checkpoint this run resumed from
        self.changed = {}  # what a resume changed, {field: [old, new]}, until run records it
        self.unknown_tokens = 0  # tokens of the corpus that read as <unk>, counted by start with init_from
        self._agreed_clock, self._stop_votes = 0.0, 0  # rank 0's share of --time, and stop requests
        self._began = time.monotonic()  # when run() began: --time and the cosine schedule count from it
        self._seconds_before = 0.0  # seconds a resumed run trained before (metrics.jsonl)
        self._lock = None  # the run directory's lock file while this trainer writes there
        self.skipped = 0  # files under the corpus's directories that were skipped (hidden, not text)

    # --- starting and resuming -----------------------------------------------------------------
    @classmethod
    def start(cls, config: TrainConfig, run_dir: str | os.PathLike, group: Any = ALONE,
              init_from: Any = None, progress: Callable[[str, int, int], Any] | None = None) -> "Trainer":
        """A fresh run: tokenizes the corpus, building the vocabulary in the same pass, and writes
        config.json and vocab.json. init_from: a seqkit.training.finetune.Source whose weights and
        vocabulary the run starts from (config must have its architecture: Source.config_for).
        progress(what, done, total): bytes of the corpus read so far, of how many, as it is read,
        what being "tokenizing", or "checking" for the digests that find a token file. With
        a group of processes, rank 0 calls it inside join."""
        run_dir = Path(run_dir)
        found = find_corpus(config)
        given = None if init_from is None else init_from.vocab
        tokens = load_tokens(config, found.files, given, init_from is not None and init_from.extend_vocab,
                             progress=progress)
        if init_from is None:
            check_vocab_size(tokens.vocab, describe(corpus_paths(config)))
        trainer = cls(config, run_dir, tokens.vocab, tokens, group)
        trainer.skipped = found.skipped
        if init_from is not None:
            init_from.initialize(trainer.model)
            trainer.unknown_tokens = tokens.count(UNK_ID)
        created = not run_dir.exists()
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TrainingError(f"could not make the run directory {run_dir} ({error.strerror or error})",
                                file=run_dir) from None
        trainer._lock = lock_run_dir(run_dir)
        if holds_run(run_dir):  # another process started a run here first
            trainer.release()
            raise TrainingError(f"{run_dir} already holds a run: continue it with {setting('resume', run_dir)}")
        try:
            write_run_files(run_dir, config, tokens.vocab, tokens.files, init_from and init_from.record())
            trainer._save_latest()  # from here on the run directory always loads and resumes
        except BaseException:  # a full disk, say: leave nothing that a re-run would refuse
            trainer.release()
            remove_run_files(run_dir, remove_directory=created)
            raise
        return trainer

    @classmethod
    def resume(cls, run_dir: str | os.PathLike, group: Any = ALONE, progress: Callable[[str, int, int], Any] | None = None,
               **changes: Any) -> "Trainer":
        """Continue the run in run_dir from its latest checkpoint, exactly where it stopped.
        `changes`: config fields seqkit.training.resuming allows to change (the learning rate, the
        stopping rules, ...), each recorded in the run; progress as for start. With a group of
        processes, rank 0 calls it inside seqkit.training.joining.join."""
        run_dir = Path(run_dir)
        lock = lock_run_dir(run_dir)
        try:
            trainer = cls._resumed(run_dir, changes, group, progress)
        except BaseException:
            lock.close()
            raise
        trainer._lock = lock
        return trainer

    @classmethod
    def _resumed(cls, run_dir, changes, group, progress=None):
        config, vocab = load_run_files(run_dir)
        before = config.corpus
        config, changed = changed_config(config, changes)
        check_split(config.batch_size, group.size, resuming=run_dir)
        records = recorded_files(run_dir, config, before if "corpus" in changed else None)
        files = files_of(records)
        tokens = load_tokens(config, files, vocab, expected=[r["sha256"] for r in records],
                             changed=lambda path: corpus_changed(run_dir, path), progress=progress)
        trainer = cls(config, run_dir, vocab, tokens, group)
        for leftover in run_dir.glob(".*.tmp"):  # from a write killed before its rename
            leftover.unlink()
        if (run_dir / LATEST).exists():
            trainer.restore(*load_arrays(run_dir / LATEST))
        trainer._trim_metrics()
        trainer.changed = changed
        if not (run_dir / LATEST).exists():  # stopped before its first checkpoint: begin again
            trainer._save_latest()
        return trainer

    def restore(self, arrays, meta):
        """Continue from a checkpoint (load_arrays's arrays and meta), taking the carried state
        of this process's block of streams (Trainer.resume and seqkit.training.joining.join call
        it). What the checkpoint holds is checked first: a CheckpointError names what does not fit."""
        source = self.run_dir / LATEST
        try:
            self._restore(arrays, meta, source)
        except SeqkitError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, OverflowError) as error:
            raise CheckpointError(f"{source} does not hold what seqkit writes in a checkpoint ({type(error).__name__}: "
                                  f"{error}): resume from another copy of the run, or start a new one",
                                  file=source) from None

    def _restore(self, arrays, meta, source):
        restore_model(self.model, arrays, source)
        self.optimizer.load_state_dict(
            {k[len("optim."):]: v for k, v in arrays.items() if k.startswith("optim.")}, meta["optimizer"])
        self.schedule.resume_from(meta["schedule"])
        self.rng.bit_generator.state = meta["rng"]
        step, epoch, position = meta["step"], meta["epoch"], meta["position"]
        if not (is_count(step, 0) and is_count(epoch, 0) and is_count(position, 0)
                and position < len(self.train_streams) - 1):
            raise ValueError(f"step {step!r}, epoch {epoch!r} and position {position!r} are not a place in the "
                             f"{len(self.train_streams):,} rows of this run's streams")
        best = meta["best_val_loss"]
        if best is not None and not isinstance(best, (int, float)):
            raise ValueError(f"best_val_loss is {best!r}")
        stale = meta.get("stale_evaluations", 0)
        if not is_count(stale, 0):
            raise ValueError(f"stale_evaluations is {stale!r}")
        count = meta["state_arrays"]  # arrays per layer's state; 0: the state was zero (epoch start)
        if count not in (0, self.model.layers[0].state_size):
            raise ValueError(f"state_arrays is {count!r}, not 0 or {self.model.layers[0].state_size}")
        shape = (self.config.batch_size, self.config.hidden)
        layers = [[arrays[f"state.{k}.{i}"] for i in range(count)] for k in range(self.config.layers)]
        for k, layer in enumerate(layers):
            for i, array in enumerate(layer):
                if array.shape != shape or array.dtype != self.model.dtype or not np.isfinite(array).all():
                    raise ValueError(f"state.{k}.{i} is {array.dtype} {array.shape}, expected finite "
                                     f"{self.model.dtype} {shape}")
        self.step, self.epoch, self.position, self.best_val_loss = step, epoch, position, best
        self.stale_evaluations = stale
        self.best_step = meta.get("best_step")
        if self.best_step is None and self.config.stop_patience is not None and self.writes:
            self.best_step = self._best_checkpoint_step()  # a run given stop_patience on this resume
        self.trained_by = meta.get("processes", 1)
        layers = [[array[self.streams] for array in layer] for layer in layers]
        self.state = self.model.pack_state(layers) if count else None

    # --- the loop --------------------------------------------------------------------------------
    def run(self, on_step: Callable[["Trainer", float, float], Any] | None = None,
            on_eval: Callable[["Trainer", dict], Any] | None = None,
            stop_requested: Callable[[], bool] = lambda: False) -> str:
        """Train until a stopping rule holds or stop_requested() says so (a signal arrived).
        Calls on_step(trainer, loss, tokens_per_s) after every update and on_eval(trainer, metrics)
        after every evaluation. Returns "done" or "interrupted"; the latest checkpoint is saved.
        The run directory stays locked against other trainers until run returns. In a group of
        processes every one calls run; only rank 0 writes, and should pass the callbacks."""
        if self._lock is None and self.writes:
            self._lock = lock_run_dir(self.run_dir)
        if self.changed and self.writes:  # a resume's changes, recorded once the run goes on
            record_changes(self.run_dir, self.step, self.changed, self.config)
            self.changed = {}
        try:
            return self._run(on_step, on_eval, stop_requested)
        finally:
            self.release()

    def release(self):
        """Let go of the run directory's lock (run does so when it returns)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _run(self, on_step, on_eval, stop_requested):
        config, began = self.config, time.monotonic()
        self._began = began
        tokens_since, clock = 0, time.monotonic()
        train_losses = []
        outcome = "done"
        while not self._should_stop(began):
            if self.group.size == 1 and stop_requested():
                outcome = "interrupted"
                break
            loss = self._train_step(stop_requested)
            train_losses.append(loss)
            tokens_since += self._last_chunk_tokens
            now = time.monotonic()
            if on_step:
                on_step(self, loss, tokens_since / max(now - clock, 1e-9))
            self._log({"kind": "train", "step": self.step, "epoch": self.epoch, "loss": loss,
                       "lr": self.optimizer.lr, "grad_norm": self._last_norm, "seconds": self._seconds()})
            if self.step % config.eval_every == 0:
                self._evaluate_and_save(train_losses, on_eval, on_cadence=True)
                train_losses, tokens_since, clock = [], 0, time.monotonic()
            if self._stop_votes:  # a process was asked to stop: all stop after the same step
                outcome = "interrupted"
                break
        if outcome == "interrupted" or self.step % config.eval_every != 0 or not self._has_latest():
            self._evaluate_and_save(train_losses, on_eval, on_cadence=False)
        return outcome

    def _should_stop(self, began):
        return self.progress(began) >= 1 or self._impatient()

    def _impatient(self):
        """Whether stop_patience evaluations have passed without a better validation loss."""
        return self.config.stop_patience is not None and self.stale_evaluations >= self.config.stop_patience

    def _best_checkpoint_step(self):
        """The step best.npz was saved at (for a checkpoint that does not say it), or None."""
        path = self.run_dir / BEST
        return load_arrays(path)[1]["step"] if path.exists() else None

    def progress(self, began=None):
        """How far the run is, from 0 to 1: the share of its stopping rule nearest to being
        reached (steps, epochs, or minutes since `began`, by default since run() began), so that
        a cosine schedule ends where the run ends."""
        return max(self._stopping_shares(began).values())

    def reached(self, began=None):
        """The stopping rule that holds, as the field that sets it ("steps"), or None; "stop_patience"
        when that many evaluations passed without a better validation loss (best_val_loss at best_step)."""
        rule = next((rule for rule, share in self._stopping_shares(began).items() if share >= 1), None)
        return rule or ("stop_patience" if self._impatient() else None)

    def _stopping_shares(self, began=None):
        c, shares = self.config, {}
        if c.epochs is not None:
            shares["epochs"] = (self.epoch + self.position / (len(self.train_streams) - 1)) / c.epochs
        if c.steps is not None:
            shares["steps"] = self.step / c.steps
        if c.minutes is not None:
            shares["minutes"] = self._agreed_clock if self.group.size > 1 else self._clock(began)
        return shares

    def _clock(self, began=None):
        """The share of --time gone since began (by default since run() began)."""
        return (time.monotonic() - (self._began if began is None else began)) / (self.config.minutes * 60)

    def _train_step(self, stop_requested=lambda: False):
        c, rows = self.config, self.train_streams
        _, inputs, targets = next(chunks(rows, c.seq_len, start=self.position))
        dropout_rng = self.rng if c.dropout > 0 else None
        self._last_chunk_tokens = inputs.size
        share = {}
        if self.group.size > 1:  # this process's block of the streams, and what it is a share of
            share = {"mean_over": max(int(np.count_nonzero(targets != self.bos)), 1),
                     "streams": (self.streams.start, self.streams.stop, c.batch_size)}
            inputs, targets = (np.ascontiguousarray(a[:, self.streams]) for a in (inputs, targets))
        loss, state, cache = self.model.forward(inputs, targets, self.state, dropout_rng, ignore_index=self.bos,
                                                workspace=self.workspace, **share)
        grads, _ = self.model.backward(cache)
        if self.group.size > 1:
            loss = self._sum_over_group(loss, stop_requested())
        if c.clip_value is not None:
            clip_value(grads, c.clip_value)
        norm = clip_global_norm(grads, c.clip) if c.clip > 0 else global_norm(grads)
        self._last_norm = norm
        if math.isfinite(loss) and math.isfinite(norm):
            self.bad_steps = 0
            self.optimizer.lr = self.schedule.lr_at(self.step, self.epoch, self.progress())
            self.optimizer.step(grads)
            self.state = state
        elif self.step == 0:  # nothing was learnt yet: the learning rate cannot be at fault
            raise StopEverywhere(f"the loss or gradient was not finite at the first step ({loss!r}, gradient norm "
                                 f"{norm!r}): the starting weights or the data are at fault, not the learning rate")
        else:  # skip the update, and do not carry a state that may hold NaN
            self.bad_steps += 1
            self.state = None
            self._log({"kind": "skipped", "step": self.step, "loss": repr(loss), "grad_norm": repr(norm)})
            if self.bad_steps >= MAX_BAD_STEPS:
                raise StopEverywhere(f"the loss or gradient was not finite {self.bad_steps} steps in a row "
                                     f"at step {self.step}: lower the learning rate ({option('lr')}) or clip harder "
                                     f"({option('clip')}); the last good checkpoint is in {self.run_dir}")
        self.step += 1
        self.position += len(targets)
        if self.position >= len(rows) - 1:
            self.epoch, self.position, self.state = self.epoch + 1, 0, None
        return loss

    def _sum_over_group(self, loss, stop):
        """Sum the gradients, the loss, rank 0's clock and the stop requests over the processes
        in one call (a single flat buffer); returns the batch's loss. Every process then holds
        the same gradient and takes the same decisions: the update, --time, stopping."""
        summed, n = self.summed, self.summed.size - SUMMED_EXTRAS
        summed[n:] = loss, self._clock() if self.group.rank == 0 and self.config.minutes else 0.0, stop
        self.group.sum(summed)
        self._agreed_clock, self._stop_votes = float(summed[n + 1]), int(summed[n + 2])
        return float(summed[n])

    # --- evaluation and checkpoints ---------------------------------------------------------------
    @property
    def writes(self):
        """Whether this process writes the run directory: rank 0 alone in a group."""
        return self.group.rank == 0

    def evaluate(self):
        """Validation metrics: summarize's dict (in a group, each process evaluates a block of
        the validation streams and the sums are added)."""
        totals = np.zeros(2)
        if self.val_streams.shape[1]:
            totals[:] = evaluate_streams(self.model, self.val_streams, self.config.seq_len, self.bos)
        self.group.sum(totals)
        return summarize(float(totals[0]), int(totals[1]), self.level)

    def _record_start_state(self):
        """Set the model's start state (the state samples start from, saved with the checkpoint):
        the mean state after </s> over the validation streams, summed over the processes of a
        group; left as it was where the validation text holds no </s> (a document unit)."""
        sums, count = (start_state_sums(self.model, self.val_streams, self.config.seq_len, self.eos)
                       if self.val_streams.shape[1] else
                       ([np.zeros((layer.state_size, layer.hidden_size)) for layer in self.model.layers], 0))
        totals = np.concatenate([s.ravel() for s in sums] + [[count]])
        self.group.sum(totals)
        count = int(totals[-1])
        if count:
            means, at = [], 0
            for s in sums:
                means.append((totals[at:at + s.size].reshape(s.shape) / count).astype(self.model.dtype))
                at += s.size
            self.model.start_state = means

    def _evaluate_and_save(self, train_losses, on_eval, on_cadence):
        metrics = {"kind": "eval", "step": self.step, "epoch": self.epoch, "seconds": self._seconds(), "lr": self.optimizer.lr,
                   "train_loss": float(np.mean(train_losses)) if train_losses else None}
        val = self.evaluate()
        metrics.update({f"val_{k}": v for k, v in val.items()})
        if on_cadence:  # an off-cadence evaluation must not change what a resumed run does
            self.schedule.observe_validation(val["loss"])
        improved = self.best_val_loss is None or val["loss"] < self.best_val_loss
        if improved:
            self.best_val_loss, self.best_step = val["loss"], self.step
        if on_cadence:  # as the schedule, only the cadence's evaluations count, so a resume goes on alike
            self.stale_evaluations = 0 if improved else self.stale_evaluations + 1
        if self.config.start_state:
            self._record_start_state()
        arrays, meta = self._checkpoint()
        self._save(LATEST, arrays, meta)
        if improved:
            self._save(BEST, arrays, meta)
        sample_rng = np.random.default_rng([self.config.seed, 2, self.step])
        metrics["sample"] = generate(self.model, self.vocab, self.config.sample_length, sample_rng,
                                     temperature=0.8)[0] if self.config.sample_length and self.writes else ""
        self._log(metrics)
        if on_eval:
            on_eval(self, metrics)

    def _save_latest(self):
        self._save(LATEST, *self._checkpoint())

    def _save(self, name, arrays, meta):
        if self.writes:
            save_checkpoint(self.run_dir, name, arrays, meta)

    def _checkpoint(self):
        """(arrays, meta) to save; the carried state of every process's streams is gathered to
        rank 0, so that any number of processes can resume from it."""
        layers = [] if self.state is None else [[self.group.gather_streams(a) for a in layer_arrays]
                                                for layer_arrays in self.model.state_arrays(self.state)]
        arrays, meta = checkpoint_contents(self.model, self.optimizer, self.schedule, self.rng, self.step, self.epoch,
                                           self.position, self.best_val_loss, layers)
        if self.group.size > 1:
            meta["processes"] = self.group.size
        if self.config.stop_patience is not None:  # (only then: other runs keep 0.1.0's checkpoint bytes)
            meta.update(stale_evaluations=self.stale_evaluations, best_step=self.best_step)
        return arrays, meta

    def _has_latest(self):
        """Whether the run has a latest checkpoint: a group's always has, join read it (and the
        other processes may not see rank 0's files)."""
        return self.group.size > 1 or (self.run_dir / LATEST).exists()

    def _log(self, record):
        if self.writes:
            append_metrics(self.run_dir, record)

    def _seconds(self):
        """Seconds of training, over every invocation of the run, for the wall-clock plot."""
        return round(self._seconds_before + time.monotonic() - self._began, 3)

    def _trim_metrics(self):
        if self.writes:
            self._seconds_before = trim_metrics(self.run_dir, self.step)
