"""`seqkit score`: how likely a trained model finds each line (or paragraph) of a text, as JSON lines."""
import json
import os

import click
import regex

from seqkit.cli.common import POSITIVE, RUNTIME_ERRORS, fail, resolve_run
from seqkit.cli.evaluating import warn_unknown
from seqkit.config import ENCODING_ERRORS
from seqkit.lm import load
from seqkit.text.corpus import read_text
from seqkit.text.options import UNITS

PARAGRAPH_BREAK = regex.compile(r"\n\s*\n")


def units_of(text, unit):
    """The pieces of text that --unit names, without what separates them: lines, paragraphs (cut
    at blank lines) or the whole text, a final newline dropped."""
    text = text.removesuffix("\n")
    if unit == "line":
        return text.split("\n")
    if unit == "paragraph":
        return PARAGRAPH_BREAK.split(text)
    return [text]


@click.command(name="score")
@click.argument("paths", nargs=-1, metavar="[RUN] TEXT_FILE")
@click.option("--unit", type=click.Choice(UNITS), default="line", show_default=True,
              help="What each JSON line scores: a line, a paragraph (cut at blank lines) or the whole text.")
@click.option("--tokens", "per_token", is_flag=True,
              help="Add each token's log-probability, rank (1: the most likely) and the --top tokens expected there.")
@click.option("--top", type=POSITIVE, default=5, show_default=True, help="With --tokens: tokens listed at each place.")
@click.option("--sort", "by_loss", is_flag=True, help="Write the lines by loss, the lowest (most likely) first.")
@click.option("--best", is_flag=True, help="Use the checkpoint with the best validation loss.")
@click.option("--encoding", help="Text encoding of TEXT_FILE. [default: the run's]")
@click.option("--encoding-errors", type=click.Choice(ENCODING_ERRORS), help="As for train. [default: the run's]")
def score(paths, unit, per_token, top, by_loss, best, encoding, encoding_errors):
    """One JSON object per line (or --unit) of TEXT_FILE: how likely the model in RUN (a run
    directory; default: the latest run under ./runs) finds it, each read from where a sample
    starts. Its text, tokens (those predicted, </s> included), logprob (natural log, summed),
    loss (nats per token), perplexity and unknown_tokens; empty lines are left out, and each
    object's index says which unit of the file it is."""
    if len(paths) not in (1, 2):
        raise click.UsageError(f"expected [RUN] TEXT_FILE, got {len(paths)} arguments")
    if len(paths) == 1 and os.path.isdir(paths[0]):
        raise click.UsageError(f"expected [RUN] TEXT_FILE: {paths[0]} is a directory; give the text to score after it")
    *run, text_file = paths
    for name, path in zip(["RUN", "TEXT_FILE"][2 - len(paths):], paths):
        if not os.path.exists(path):
            raise click.BadParameter(f"{path!r} does not exist", param_hint=name)
    try:
        lm = load(resolve_run(run[0] if run else None, best), best=best)
        text = read_text(text_file, encoding or lm.config.encoding, encoding_errors or lm.config.encoding_errors)
        pieces = [(index, piece) for index, piece in enumerate(units_of(text, unit)) if piece]
        records = lm.score([piece for _, piece in pieces], per_token, top)
    except RUNTIME_ERRORS as error:
        fail(error)
    unknown, tokens = sum(r["unknown_tokens"] for r in records), sum(r["tokens"] for r in records)
    if unknown:
        warn_unknown(lm.vocab, text, text_file, unknown, tokens)
    lines = [{"index": index, **record} for (index, _), record in zip(pieces, records)]
    if by_loss:
        lines.sort(key=lambda line: (line["loss"], line["index"]))
    for line in lines:
        click.echo(json.dumps(line, ensure_ascii=False))
