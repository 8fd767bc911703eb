"""`seqkit eval`: how well a trained model predicts a text."""
import json
import os

import click
import numpy as np

from seqkit.cli.common import RUNTIME_ERRORS, Encoding, fail, read_whole_text, resolve_run
from seqkit.config import ENCODING_ERRORS
from seqkit.lm import load
from seqkit.text.options import UNK_ID

SHOWN_UNKNOWN = 20  # unknown characters listed in the warning


@click.command(name="eval")
@click.argument("paths", nargs=-1, metavar="[RUN] TEXT_FILE")
@click.option("--best", is_flag=True, help="Use the checkpoint with the best validation loss.")
@click.option("--encoding", type=Encoding(), help="Text encoding of TEXT_FILE. [default: the run's]")
@click.option("--encoding-errors", type=click.Choice(ENCODING_ERRORS), help="As for train. [default: the run's]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a line.")
def evaluate(paths, best, encoding, encoding_errors, as_json):
    """Loss, perplexity and bits per character over TEXT_FILE of the model in RUN (a run
    directory; default: the latest run under ./runs)."""
    if len(paths) not in (1, 2):
        raise click.UsageError(f"expected [RUN] TEXT_FILE, got {len(paths)} arguments")
    if len(paths) == 1 and os.path.isdir(paths[0]):
        raise click.UsageError(f"expected [RUN] TEXT_FILE: {paths[0]} is a directory; give the text to evaluate "
                               f"after it")
    *run, text_file = paths
    for name, path in zip(["RUN", "TEXT_FILE"][2 - len(paths):], paths):
        if not os.path.exists(path):
            raise click.BadParameter(f"{path!r} does not exist", param_hint=name)
    try:
        lm = load(resolve_run(run[0] if run else None, best), best=best)
        text = read_whole_text(text_file, encoding or lm.config.encoding, encoding_errors or lm.config.encoding_errors,
                               "eval")
        unknown = int(np.count_nonzero(lm.vocab.encode(text) == UNK_ID))
        metrics = lm.evaluate(text)
    except RUNTIME_ERRORS as error:
        fail(error)
    if unknown:
        warn_unknown(lm.vocab, text, text_file, unknown, metrics["tokens"])
    if as_json:
        click.echo(json.dumps({**metrics, "unknown_tokens": unknown, "text_file": text_file}))
        return
    line = f"loss {metrics['loss']:.4f} nats/token  perplexity {metrics['perplexity']:.2f}"
    if metrics["bits_per_char"] is not None:
        line += f"  bits/char {metrics['bits_per_char']:.4f}"
    click.echo(f"{line}  over {metrics['tokens']:,} tokens")


def warn_unknown(vocab, text, text_file, unknown, tokens):
    """Say on stderr how many tokens count as <unk>, and at char level which characters."""
    line = f"warning: {unknown:,} of the {tokens:,} tokens in {text_file} are not in the vocabulary and count as <unk>"
    if vocab.options.level == "char":
        missing = vocab.unknown(text)
        shown = " ".join(repr(c) for c in missing[:SHOWN_UNKNOWN])
        line += f": {shown}" + (f" and {len(missing) - SHOWN_UNKNOWN:,} more" if len(missing) > SHOWN_UNKNOWN else "")
    click.echo(line, err=True)
