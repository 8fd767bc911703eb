"""The `seqkit` command: a thin click layer over the seqkit library.

Generated text goes to stdout; progress, logs and evaluation samples to stderr. Usage errors
exit with 2, runtime errors with 1, an interrupted training run with 130 after saving.
"""
import dataclasses
import os
import signal
import sys
from pathlib import Path

import click
import cloup

from seqkit import _version, cells
from seqkit.cli.common import (
    POSITIVE,
    RUNTIME_ERRORS,
    Encoding,
    Finite,
    FiniteFloat,
    fail,
    flag,
    flag_setting,
    say_warnings,
    shown_as_possible,
)
from seqkit.cli.evaluating import evaluate
from seqkit.cli.interop import export, import_
from seqkit.cli.plotting import CURVES, has_matplotlib, plot, save_image
from seqkit.cli.progress import Reading, corpus_name, run_with_progress, say_corpus
from seqkit.cli.recipes import read_config
from seqkit.cli.repl import repl
from seqkit.cli.sampling import sample
from seqkit.cli.scoring import score
from seqkit.cli.serving import serve
from seqkit.cli.showing import show
from seqkit.cli.starting import fine_tuning_source, resume, say_changes, say_fine_tuning
from seqkit.cli.workers import PID_LINE, REPORT_PID, RUN_LINE, fail_in_group, launch_workers
from seqkit.config import AUTO, DTYPES, ENCODING_ERRORS, EPOCHS, MAX_EVAL_SAMPLE, TrainConfig
from seqkit.nn.init import SCHEMES
from seqkit.optim.optimizers import OPTIMIZERS
from seqkit.optim.schedules import SCHEDULES
from seqkit.runs.curves import read_curves
from seqkit.runs.directory import LATEST, STREAMED, holds_run, new_run_dir, remove_run_files
from seqkit.text.files import copy_stream, is_stream
from seqkit.text.options import LABEL_SOURCES, LEVELS, TOKENIZERS, UNITS, TextOptions
from seqkit.training.group import MPIMissing, current_group, launched_size
from seqkit.training.joining import join
from seqkit.training.trainer import Trainer


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(_version.__version__, "-V", "--version", prog_name="seqkit")
def main():
    """Recurrent language models (RNN, LSTM, GRU) compiled with Numba: train, sample, evaluate."""
    say_warnings()


DEFAULT = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
TEXT = {f.name: f.default for f in dataclasses.fields(TextOptions)}


@main.command(cls=cloup.Command)
@click.argument("corpus", nargs=-1, type=click.Path())
@cloup.option_group(
    "Run",
    click.option("--config", type=click.Path(exists=True, dir_okay=False), is_eager=True, expose_value=False,
                 callback=read_config,
                 help="Take options from this TOML or JSON file (keys: these options with underscores; a run's "
                      "config.json repeats its run); options given here win."),
    click.option("-o", "--out", type=click.Path(file_okay=False), help="Run directory. [default: runs/<corpus name>]"),
    click.option("--resume", "resume_dir", type=click.Path(exists=True, file_okay=False),
                  help="Continue the run in this directory where it stopped; options given change it "
                       "(the learning rate and schedule, clipping, dropout, evaluation, stopping rules)."),
    click.option("--corpus", "moved_corpus", type=click.Path(exists=True), multiple=True,
                  help="With --resume: where the run's corpus is now, if it moved (the same text; once for each "
                       "path it was given as)."),
    click.option("--init-from", type=click.Path(exists=True, file_okay=False),
                 help="Fine-tune: start from this run's weights, architecture and vocabulary."),
    click.option("--best", is_flag=True, help="With --init-from: its best checkpoint, not its latest."),
    click.option("--extend-vocab", is_flag=True,
                 help="With --init-from: give tokens its vocabulary lacks rows of their own, not <unk>."),
    click.option("--seed", type=click.IntRange(min=0), help="Seed for a reproducible run. [default: random, recorded]"),
    click.option("--workers", type=POSITIVE,
                  help="Train with this many processes on this machine (needs seqkit[mpi]). [default: 1]"),
)
@cloup.option_group(
    "Data",
    click.option("--level", type=click.Choice(LEVELS), default=TEXT["level"], show_default=True, help="Token level."),
    click.option("--graphemes", is_flag=True, help="Char level: one token per grapheme cluster (emoji, combining marks)."),
    click.option("--tokenize", type=click.Choice(TOKENIZERS), default=TEXT["tokenize"], show_default=True,
                  help="Word level: Unicode-aware regex, or split on whitespace only (pre-tokenized corpora)."),
    click.option("--lowercase", is_flag=True, help="Word level: lowercase the text first."),
    click.option("--unit", type=click.Choice(UNITS),
                 help="What <s> ... </s> frame: samples start as a unit does. [default: line]"),
    click.option("--max-vocab", type=POSITIVE, help="Keep only the most frequent tokens; the rest become <unk>."),
    click.option("--min-count", type=POSITIVE, default=TEXT["min_count"], show_default=True,
                  help="Drop tokens seen fewer times."),
    click.option("--encoding", type=Encoding(), default=DEFAULT["encoding"], show_default=True,
                 help="Text encoding of the corpus."),
    click.option("--encoding-errors", type=click.Choice(ENCODING_ERRORS), default=DEFAULT["encoding_errors"],
                  show_default=True,
                  help="Bytes not valid in --encoding: stop with an error, replace them (U+FFFD), or drop them."),
    click.option("--val-fraction", type=Finite(0, 1, min_open=True, max_open=True), default=DEFAULT["val_fraction"],
                  show_default=True, help="Fraction of the corpus held out for validation."),
    click.option("--val-blocks", type=click.IntRange(1), default=DEFAULT["val_blocks"], show_default=True,
                  help="Hold it out from the end of this many equal spans of the corpus (1: its tail)."),
    click.option("--val-file", type=click.Path(exists=True),
                 help="Validate on this text instead (with --label-from dir, a directory of label folders)."),
    click.option("--label-from", type=click.Choice(LABEL_SOURCES),
                 help="Start each unit with a label: dir, the file's folder under CORPUS; prefix, a label<TAB> "
                      "before each line's text."),
)
@cloup.option_group(
    "Model",
    click.option("--cell", type=click.Choice(cells.names()), default=DEFAULT["cell"], show_default=True,
                  help="Recurrent cell (plug-ins add more: see docs/cells.md)."),
    click.option("--nonlinearity", type=click.Choice(cells.option_choices("nonlinearity")),
                  default=DEFAULT["nonlinearity"], show_default=True, help="Activation of the rnn cell."),
    click.option("--layers", type=POSITIVE, default=DEFAULT["layers"], show_default=True, help="Stacked recurrent layers."),
    click.option("--hidden", type=POSITIVE, default=DEFAULT["hidden"], show_default=True, help="Hidden state size."),
    click.option("--embed", type=POSITIVE, help="Embedding size. [default: 64 for chars, --hidden for words]"),
    click.option("--one-hot", is_flag=True, help="One-hot input instead of an embedding."),
    click.option("--dropout", type=Finite(0, 1, max_open=True),
                  help="Dropout on each recurrent layer's output during training. [default: 0.1 for chars, 0.5 for words]"),
    click.option("--input-dropout", type=Finite(0, 1, max_open=True), default=DEFAULT["input_dropout"],
                  show_default=True, help="Dropout on the embedded input during training."),
    click.option("--variational", is_flag=True, help="One dropout mask per sequence, the same at every step."),
    click.option("--tie-weights", is_flag=True, help="Share the embedding and output weights (needs --embed = --hidden)."),
    click.option("--start-state/--no-start-state", default=DEFAULT["start_state"], show_default=True,
                 help="Record in each checkpoint the state after a unit's end, which unprimed samples start from "
                      "(--no-start-state: from zeros, as runs before 0.2.0)."),
    click.option("--init", type=click.Choice(SCHEMES), default=DEFAULT["init"], show_default=True,
                  help="uniform: PyTorch's U(+-1/sqrt(H)); xavier: Xavier input, orthogonal recurrent weights."),
    click.option("--init-scale", type=Finite(0, min_open=True),
                  help="Draw every parameter from U(-s, s) (Zaremba et al.: 0.1). [default: each layer's own]"),
    click.option("--forget-bias", type=FiniteFloat(), default=DEFAULT["forget_bias"],
                  help="LSTM forget-gate bias at start (Jozefowicz et al.: 1). [default: the init's]"),
    click.option("--dtype", type=click.Choice(DTYPES), default=DEFAULT["dtype"], show_default=True,
                  help="Floating-point type of the model."),
)
@cloup.option_group(
    "Optimisation",
    click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=DEFAULT["optimizer"], show_default=True,
                  help="Update rule."),
    click.option("--lr", type=Finite(0, min_open=True), default=DEFAULT["lr"], show_default=True, help="Learning rate."),
    click.option("--momentum", type=Finite(0, 1, max_open=True), default=DEFAULT["momentum"], show_default=True,
                  help="Momentum of momentum and nesterov."),
    click.option("--alpha", type=Finite(0, 1, max_open=True), default=DEFAULT["alpha"], show_default=True,
                  help="Smoothing constant of rmsprop."),
    click.option("--beta1", type=Finite(0, 1, max_open=True), default=DEFAULT["beta1"], show_default=True,
                  help="Adam's beta1."),
    click.option("--beta2", type=Finite(0, 1, max_open=True), default=DEFAULT["beta2"], show_default=True,
                  help="Adam's beta2."),
    click.option("--eps", type=Finite(0, min_open=True), default=DEFAULT["eps"], show_default=True,
                  help="Denominator term of adagrad, rmsprop and adam."),
    click.option("--weight-decay", type=Finite(0), default=DEFAULT["weight_decay"], show_default=True, help="L2 penalty."),
    click.option("--clip", type=Finite(0), default=DEFAULT["clip"], show_default=True,
                  help="Clip gradients to this global norm; 0 turns clipping off."),
    click.option("--clip-value", type=Finite(0, min_open=True), help="Also clamp each gradient element."),
    click.option("--batch-size", type=POSITIVE, default=DEFAULT["batch_size"], show_default=True, help="Parallel streams."),
    click.option("--seq-len", type=POSITIVE, default=DEFAULT["seq_len"], show_default=True,
                  help="Truncated BPTT length in tokens."),
)
@cloup.option_group(
    "Learning-rate schedule",
    click.option("--lr-schedule", type=click.Choice(SCHEDULES),
                  help="Learning-rate schedule; cosine spans the run to its first stopping rule (--steps, "
                       "--epochs or --time). [default: step with --lr-decay-every, epoch with --lr-decay-after, "
                       "else cosine]"),
    click.option("--lr-decay", type=Finite(0, 1, min_open=True), default=DEFAULT["lr_decay"], show_default=True,
                  help="Factor of each learning-rate decay (step and plateau schedules)."),
    click.option("--lr-decay-every", type=click.IntRange(min=0), default=DEFAULT["lr_decay_every"], show_default=True,
                  help="Step schedule: decay every N steps."),
    click.option("--patience", type=click.IntRange(min=0), default=DEFAULT["patience"], show_default=True,
                  help="Plateau schedule: evaluations without improvement before decaying."),
    click.option("--lr-decay-after", type=click.IntRange(min=0), default=DEFAULT["lr_decay_after"], show_default=True,
                  help="Epoch schedule: epochs at the full rate, then decay after each epoch."),
    click.option("--lr-floor", type=Finite(0, 1), default=DEFAULT["lr_floor"], show_default=True,
                  help="Cosine schedule: the final rate, as a fraction of --lr."),
    click.option("--warmup", type=click.IntRange(min=0), default=DEFAULT["warmup"], show_default=True,
                  help="Steps of linear learning-rate warm-up, for any schedule."),
)
@cloup.option_group(
    "Stopping and logging",
    click.option("--epochs", type=POSITIVE, default=DEFAULT["epochs"],
                  help=f"Stop after this many epochs. [default: {EPOCHS}, none with --steps or --time]"),
    click.option("--steps", type=POSITIVE, help="Stop after this many updates."),
    click.option("--time", "minutes", type=Finite(0, min_open=True), help="Stop after this many minutes."),
    click.option("--stop-patience", type=POSITIVE,
                 help="Stop after this many evaluations without a better validation loss (best.npz keeps the best)."),
    click.option("--eval-every", type=POSITIVE, default=DEFAULT["eval_every"], show_default=True,
                  help="Evaluate, show a sample and save a checkpoint every N steps."),
    click.option("--sample-length", type=click.IntRange(0, MAX_EVAL_SAMPLE), default=DEFAULT["sample_length"], show_default=True,
                  help="Tokens of the sample shown at each evaluation."),
    click.option("--plot", is_flag=True,
                 help="Draw the loss curves into RUN/curves.png at each evaluation (needs seqkit[plot])."),
)
@click.pass_context
def train(ctx, corpus, out, resume_dir, moved_corpus, init_from, best, extend_vocab, plot, workers, **options):
    """Train a language model on CORPUS (default: the shipped tiny-shakespeare): a text file,
    several, a directory of them or a pattern ("poems/*.txt"), each file a document.

    Under `mpiexec -n N`, the N processes train one model together."""
    corpus = corpus[0] if len(corpus) == 1 else corpus or None
    moved_corpus = moved_corpus[0] if len(moved_corpus) == 1 else moved_corpus or None
    if workers and workers > (os.cpu_count() or 1):
        raise click.UsageError(f"--workers {workers} is more than this machine's {os.cpu_count()} CPUs: start at "
                               f"most that many here, or more across machines with mpiexec (see docs/parallel.md)")
    if plot and not has_matplotlib():
        raise click.UsageError('--plot needs matplotlib: pip install "seqkit[plot]"')
    if (best or extend_vocab) and not init_from:
        raise click.UsageError(f"{'--best' if best else '--extend-vocab'} goes with --init-from RUN")
    if init_from and resume_dir:
        raise click.UsageError("--init-from starts a new run and --resume continues one: choose one")
    if resume_dir and ctx.default_map:
        raise click.UsageError("--config gives a new run's recipe and --resume continues a run: choose one")
    if moved_corpus and not resume_dir:
        raise click.UsageError("--corpus points a resumed run at its moved corpus: use it with --resume "
                               "(a new run takes its corpus as the argument)")
    launched = launched_size()
    if workers and workers > 1 and launched == 1:
        sys.exit(launch_workers(workers))
    if workers and launched > 1 and workers != launched:
        raise click.UsageError(f"--workers {workers}, but mpiexec started {launched} processes: "
                               f"leave --workers out under mpiexec")
    try:
        group = current_group()
    except MPIMissing as error:
        fail(error)
    if os.environ.get(REPORT_PID):
        click.echo(f"{PID_LINE} {group.rank} {os.getpid()}")
    began = False  # whether rank 0 started the run, after which an error must end every process

    def begin():
        nonlocal began
        if resume_dir:
            trainer = resume(ctx, resume_dir, corpus, out, moved_corpus, options, group)
        else:
            source = init_from and fine_tuning_source(ctx, init_from, best, extend_vocab, options)
            config = build_config(corpus, options)
            if source:
                config = source.config_for(config)
            run_dir = choose_run_dir(out, config)
            streamed = isinstance(corpus, str) and is_stream(corpus)
            try:
                if streamed:  # read once, into the run directory, where the run tokenizes and resumes on it
                    run_dir.mkdir(parents=True, exist_ok=True)
                    config = config.replace(corpus=str(copy_stream(corpus, run_dir / STREAMED).resolve()))
                with Reading() as progress:
                    trainer = Trainer.start(config, run_dir, group, init_from=source, progress=progress)
            except BaseException:
                if streamed and not holds_run(run_dir):
                    remove_run_files(run_dir, remove_directory=True)
                raise
            say_corpus(trainer)
            if source:
                say_fine_tuning(source, trainer)
            parameters = sum(p.size for p in trainer.model.parameters.values())
            click.echo(f"training on {corpus_name(trainer)} ({len(trainer.vocab):,} tokens in the vocabulary, "
                       f"{parameters:,} parameters, seed {config.seed}) into {run_dir}"
                       + (f" with {group.size} processes" if group.size > 1 else ""), err=True)
        began = True
        return trainer

    try:
        trainer = join(group, begin)
    except RUNTIME_ERRORS as error:
        if began or group.rank > 0:
            fail_in_group(group, error)
        fail(error)
    rule = trainer.reached() if resume_dir else None
    if rule:
        trainer.release()
        if trainer.writes:
            reached = (f"stopped at step {trainer.step:,} with {no_better(trainer)}" if rule == "stop_patience" else
                       f"reached {flag_setting(rule, getattr(trainer.config, rule))} at step {trainer.step:,}")
            click.echo(f"nothing to do: the run {reached}; to train on, resume with a larger {flag(rule)} (or another "
                       f"stopping rule)", err=True)
        sys.exit(0)
    if trainer.changed and trainer.writes:
        say_changes(ctx, trainer.changed)
    if os.environ.get(REPORT_PID) and trainer.writes:
        click.echo(f"{RUN_LINE} {trainer.run_dir}")
    run_training(trainer, plot)


def build_config(corpus, options):
    """TrainConfig from the command line's options; what the user left out, TrainConfig decides."""
    text = TextOptions(**{name: options.pop(name) for name in TEXT})
    if options.pop("one_hot"):
        if options["embed"] is not None:
            raise click.UsageError("--embed and --one-hot exclude each other: choose one input")
    elif options["embed"] is None:
        options["embed"] = AUTO
    return TrainConfig(corpus=corpus, text=text, **options)


def choose_run_dir(out, config):
    """-o as given, refusing one that already holds a run; else a new directory under runs/."""
    if out:
        if holds_run(out):
            raise click.UsageError(f"{out} already holds a run: continue it with --resume {out}, "
                                   f"or choose another directory with -o")
        return Path(out)
    return new_run_dir(config)


def run_training(trainer, plot=False):
    """The loop with a progress bar; SIGINT and SIGTERM stop it after the current step and save."""
    signals = []

    def on_signal(number, frame):
        if signals:  # a second signal: the user insists
            raise KeyboardInterrupt
        signals.append(number)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    if not trainer.writes:  # a process of a group other than rank 0: no progress, no messages
        try:
            outcome = trainer.run(stop_requested=lambda: bool(signals))
        except RUNTIME_ERRORS as error:
            fail_in_group(trainer.group, error)
        except KeyboardInterrupt:
            sys.exit(130)
        sys.exit(130 if outcome == "interrupted" else 0)
    try:
        outcome = run_with_progress(trainer, lambda t, metrics: report(metrics, t.run_dir if plot else None),
                                    lambda: bool(signals))
    except RUNTIME_ERRORS as error:
        fail_in_group(trainer.group, error)
    except KeyboardInterrupt:
        click.echo(f"stopped at once; the last checkpoint in {trainer.run_dir} is intact", err=True)
        sys.exit(130)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    where = trainer.run_dir
    if outcome == "interrupted":
        click.echo(f"interrupted at step {trainer.step}: saved {where / LATEST}; continue with: "
                   f"seqkit train --resume {where}", err=True)
        sys.exit(130)
    rule = trainer.reached()
    if rule == "stop_patience":
        click.echo(f"stopped: {no_better(trainer)}; sample the best with: seqkit sample {where} --best", err=True)
        return
    reached = f"{flag_setting(rule, getattr(trainer.config, rule))} reached" if rule else "done"
    click.echo(f"stopped: {reached} at step {trainer.step:,}; sample from it with: "
               f"seqkit sample {where}", err=True)


def no_better(trainer):
    """What --stop-patience stopped: 'no better validation loss in 3 evaluations, best 1.482 at step 4,200'."""
    best = f", best {trainer.best_val_loss:.3f}" if trainer.best_val_loss is not None else ""
    at = f" at step {trainer.best_step:,}" if trainer.best_step is not None else ""
    return f"no better validation loss in {trainer.stale_evaluations} evaluations{best}{at}"


def report(metrics, plot_dir=None):
    """One evaluation's line and sample, on stderr (after the progress bar's line on a terminal)."""
    line = f"step {metrics['step']}  epoch {metrics['epoch']}"
    if metrics["train_loss"] is not None:
        line += f"  train loss {metrics['train_loss']:.4f}"
    line += f"  val loss {metrics['val_loss']:.4f}  ppl {metrics['val_perplexity']:.2f}"
    if metrics["val_bits_per_char"] is not None:
        line += f"  bpc {metrics['val_bits_per_char']:.3f}"
    click.echo(("\n" if sys.stderr.isatty() else "") + line, err=True)
    if metrics["sample"]:
        shown_as_possible("  " + metrics["sample"].replace("\n", "\n  "))
    if plot_dir is not None:
        save_image([read_curves(plot_dir)], plot_dir / CURVES)


main.add_command(sample)
main.add_command(evaluate)
main.add_command(score)
main.add_command(plot)
main.add_command(show)
main.add_command(export)
main.add_command(import_)
main.add_command(serve)
main.add_command(repl)
