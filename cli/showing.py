"""`seqkit show`: one self-contained HTML page that shows what a trained model makes of a text."""
import os

import click

from seqkit.cli.common import POSITIVE, RUNTIME_ERRORS, Encoding, fail, read_whole_text
from seqkit.config import ENCODING_ERRORS
from seqkit.generation.show import MAX_TOKENS, page
from seqkit.lm import load
from seqkit.runs.checkpoint import atomic_write

DEFAULT_OUTPUT = "show.html"


@click.command("show")
@click.argument("run", type=click.Path(exists=True))
@click.argument("text_file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=DEFAULT_OUTPUT,
              help=f"Write the page here, replaced only once it is whole. [default: {DEFAULT_OUTPUT} in the "
                   f"current directory]")
@click.option("--best", is_flag=True, help="Use the checkpoint with the best validation loss.")
@click.option("--max-tokens", type=POSITIVE, default=MAX_TOKENS, show_default=True,
              help="Show at most this many tokens of TEXT_FILE: a longer text is cut, which keeps the page fast.")
@click.option("--encoding", type=Encoding(), help="Text encoding of TEXT_FILE. [default: the run's]")
@click.option("--encoding-errors", type=click.Choice(ENCODING_ERRORS), help="As for train. [default: the run's]")
def show(run, text_file, output, best, max_tokens, encoding, encoding_errors):
    """Write one HTML page (no network, nothing to build: open it in a browser) that shows
    TEXT_FILE as the model in RUN (a run directory, checkpoint or .safetensors file) reads it,
    each token coloured by

    \b
      unit      the activation of a hidden unit or LSTM cell state (pick layer, state, unit);
      surprise  the model's loss at the token in bits (hover: its top five predictions);
      features  units whose activations best track features of the text (inside quotes or
                brackets, position in the line, start of a word, a line break coming),
                ranked by correlation; click one to see it.

    Open a view directly with page.html#unit, #unit=LAYER,h|c,UNIT, #surprise or #features."""
    directory = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(directory):
        raise click.BadParameter(f"the directory {os.path.dirname(output) or '.'} does not exist",
                                 param_hint="'-o' / '--output'")
    try:
        lm = load(run, best=best)
        text = read_whole_text(text_file, encoding or lm.config.encoding, encoding_errors or lm.config.encoding_errors,
                               "show")
        if not text:
            raise ValueError(f"{text_file} is empty: there is nothing to show")
        document, result = page(lm, text, title=f"seqkit show: {os.path.basename(text_file)}", max_tokens=max_tokens)
        if result["cut"]:
            click.echo(f"cut {text_file} to its first {result['shown']:,} of {result['cut']:,} tokens "
                       f"(--max-tokens {max_tokens:,})", err=True)
        atomic_write(output, lambda file: file.write(document.encode("utf-8")))
    except RUNTIME_ERRORS as error:
        fail(error)
    click.echo(f"wrote {output}", err=True)
