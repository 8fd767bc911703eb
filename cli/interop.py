"""`seqkit export` and `seqkit import`: a model as one .safetensors file, for PyTorch and Hugging
Face (seqkit.runs.interop)."""
import os

import click

from seqkit import cells
from seqkit.cli.common import RUNTIME_ERRORS, fail, resolve_run
from seqkit.generation.page import SUFFIXES as PAGE_SUFFIXES
from seqkit.lm import load
from seqkit.text.options import LEVELS

SUFFIX = ".safetensors"
FORMATS = (SUFFIX, *PAGE_SUFFIXES)


@click.command(name="export")
@click.argument("paths", nargs=-1, metavar="[RUN] OUT")
@click.option("--best", is_flag=True, help="Export the checkpoint with the best validation loss.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def export(paths, best, force):
    """Write the model in RUN (a run directory or a checkpoint file in one; default: the latest
    run under ./runs) to OUT, its format chosen by its suffix. A .safetensors file: the weights
    under PyTorch's word_language_model names (encoder.weight, rnn.weight_ih_l0 ...,
    decoder.weight, decoder.bias), the configuration and vocabulary in its metadata. A .html
    file: one self-contained page that samples from the model in the browser, nothing fetched
    (lstm, gru and rnn cells; at most 50 MB), whose URL fragment can start a sample:
    page.html#prime=ROMEO:&temperature=0&length=200."""

    if len(paths) not in (1, 2):
        raise click.UsageError(f"expected [RUN] OUT, got {len(paths)} arguments")
    *run, out = paths
    if run and not os.path.exists(run[0]):
        raise click.BadParameter(f"{run[0]!r} does not exist", param_hint="RUN")
    if not out.lower().endswith(FORMATS):
        raise click.BadParameter(f"{out!r} does not end in {SUFFIX} or .html, the formats export writes",
                                 param_hint="OUT")
    if os.path.isdir(out):
        raise click.BadParameter(f"{out!r} is a directory", param_hint="OUT")
    if os.path.lexists(out) and not force:
        fail(f"{out} exists: give another name, or --force to replace it")
    try:
        load(resolve_run(run[0] if run else None), best=best).export(out, overwrite=True)
    except RUNTIME_ERRORS as error:
        fail(error)
    click.echo(f"wrote {out}", err=True)


@click.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(),
              help="The run directory to create (a new or empty directory).")
@click.option("--vocab", type=click.Path(exists=True, dir_okay=False),
              help="For a file without seqkit metadata: its vocabulary, a vocab.json as seqkit writes it or "
                   "the tokens in id order, one a line (<unk>, <s>, </s> first; a line \\n is the newline).")
@click.option("--level", type=click.Choice(LEVELS),
              help="For a file without seqkit metadata whose --vocab lists only tokens: char or word tokens.")
@click.option("--cell", type=click.Choice(cells.names()),
              help="For a file without seqkit metadata: its cell. [default: by the gate count, 4 lstm, 3 gru, 1 rnn]")
@click.option("--nonlinearity", type=click.Choice(cells.option_choices("nonlinearity")),
              help="For a file without seqkit metadata holding an rnn: its activation. [default: tanh]")
def import_(file, out, vocab, level, cell, nonlinearity):
    """Build the run directory OUT from FILE, a .safetensors file that seqkit export wrote or a
    PyTorch word_language_model's state dict (encoder, rnn, decoder) saved with safetensors, so
    that seqkit sample, eval and train --init-from take it."""
    from seqkit.runs import interop

    try:
        imported = interop.import_run(file, out, vocab=vocab, level=level, cell=cell, nonlinearity=nonlinearity)
    except RUNTIME_ERRORS as error:
        fail(error)
    config = imported.config
    layout = "one-hot" if config.embed is None else f"embedding {config.embed}"
    click.echo(f"wrote {out}: a {config.layers}x{config.hidden} {config.cell}, {layout}, "
               f"{len(imported.vocab):,} {config.text.level} tokens, {config.dtype}", err=True)
