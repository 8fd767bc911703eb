"""How `seqkit train` resumes a run or fine-tunes from one: the options given on the command
line checked against what the run keeps, and what changes said on stderr."""
import dataclasses

import click
from click.core import ParameterSource

from seqkit.cli.progress import Reading, say_corpus
from seqkit.text.options import TextOptions
from seqkit.training.finetune import ARCHITECTURE, Source
from seqkit.training.resuming import CHANGEABLE
from seqkit.training.trainer import Trainer

TEXT = {f.name for f in dataclasses.fields(TextOptions)}


def resume(ctx, resume_dir, corpus, out, moved_corpus, options, group):
    """Trainer.resume with the options given on the command line as changes, said on stderr."""
    given, flags = given_options(ctx, options), option_flags(ctx)
    if corpus or out:
        raise click.UsageError(f"--resume continues a run in its own directory on its own corpus: leave out "
                               f"{'CORPUS' if corpus else '-o'} (if the corpus moved, give its place with --corpus)")
    fixed = [flags[name] for name in given if name not in CHANGEABLE]
    if fixed:
        raise click.UsageError(f"a resumed run keeps its model, tokenizer, data, batch and optimizer, so "
                               f"{', '.join(fixed)} cannot change; it can change "
                               f"{', '.join(flags[name] for name in CHANGEABLE)}")
    changes = {name: options[name] for name in given}
    if moved_corpus:
        changes["corpus"] = moved_corpus
    with Reading() as progress:
        trainer = Trainer.resume(resume_dir, group, progress=progress, **changes)
    say_corpus(trainer)
    click.echo(f"resuming {resume_dir} at step {trainer.step:,}", err=True)
    if trainer.trained_by != group.size:
        click.echo(f"it was trained with {trainer.trained_by} processes and goes on with {group.size}: "
                   f"the {trainer.config.batch_size} streams are split anew", err=True)
    return trainer


def say_changes(ctx, changed):
    """The line that says what a resume changes, as options."""
    flags = option_flags(ctx)

    def shown(name, value):
        return value if value is not None else "the shipped corpus" if name == "corpus" else "none"
    click.echo("changed: " + ", ".join(f"{flags[name]} {shown(name, old)} -> {shown(name, new)}"
                                       for name, (old, new) in changed.items()), err=True)


def given_options(ctx, options):
    """The names of the options given on the command line, of those in `options`."""
    return [name for name in options if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE]


def option_flags(ctx):
    """{option's name: its long flag}, corpus included (--corpus, as --resume takes it)."""
    return {p.name: max(p.opts, key=len) for p in ctx.command.params} | {"corpus": "--corpus"}


def fine_tuning_source(ctx, init_from, best, extend_vocab, options):
    """The run --init-from names, refusing options that would change what the new run takes from it."""
    fixed = [name for name in given_options(ctx, options) if name in ARCHITECTURE or name in TEXT or name == "one_hot"]
    if fixed:
        flags = option_flags(ctx)
        raise click.UsageError(f"--init-from takes the architecture, tokenizer and vocabulary of {init_from}: "
                               f"leave out {', '.join(flags[name] for name in fixed)}")
    return Source.load(init_from, best, extend_vocab)


def say_fine_tuning(source, trainer):
    line = f"fine-tuning from {source.checkpoint}: "
    if len(trainer.vocab) > len(source.vocab):
        line += f"its vocabulary of {len(source.vocab):,} grows by {len(trainer.vocab) - len(source.vocab):,} tokens"
    else:
        line += f"{trainer.unknown_tokens:,} tokens of the corpus are not in its vocabulary and read as <unk>"
    click.echo(line, err=True)
