"""`seqkit eval`: how well a trained model predicts a text."""
import json
import os

import click
import numpy as np

from seqkit.cli.common import RUNTIME_ERRORS, Encoding, fail, read_whole_text, resolve_run
from seqkit.config import ENCODING_ERRORS
from seqkit.lm import EVAL_CHUNK, load
from seqkit.text.files import find_files
from seqkit.text.options import BOS_ID, UNK_ID
from seqkit.training.evaluation import evaluate_ids, evaluate_labels
from seqkit.training.streams import load_tokens

SHOWN_UNKNOWN = 20  # unknown characters listed in the warning


@click.command(name="eval")
@click.argument("paths", nargs=-1, metavar="[RUN] TEXT_FILE")
@click.option("--best", is_flag=True, help="Use the checkpoint with the best validation loss.")
@click.option("--encoding", type=Encoding(), help="Text encoding of TEXT_FILE. [default: the run's]")
@click.option("--encoding-errors", type=click.Choice(ENCODING_ERRORS), help="As for train. [default: the run's]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a line.")
def evaluate(paths, best, encoding, encoding_errors, as_json):
    """Loss, perplexity and bits per character over TEXT_FILE of the model in RUN (a run
    directory; default: the latest run under ./runs). A labelled model reports each label too,
    TEXT_FILE being labelled as its corpus was: label<TAB>text lines, or a directory of label
    folders."""
    if len(paths) not in (1, 2):
        raise click.UsageError(f"expected [RUN] TEXT_FILE, got {len(paths)} arguments")
    if len(paths) == 1 and os.path.isdir(paths[0]):
        raise click.UsageError(f"expected [RUN] TEXT_FILE: {paths[0]} is a directory; give the text to evaluate "
                               f"after it")
    *run, text_file = paths
    for name, path in zip(["RUN", "TEXT_FILE"][2 - len(paths):], paths):
        if not os.path.exists(path):
            raise click.BadParameter(f"{path!r} does not exist", param_hint=name)
    labels = {}
    try:
        lm = load(resolve_run(run[0] if run else None, best), best=best)
        encoding, encoding_errors = encoding or lm.config.encoding, encoding_errors or lm.config.encoding_errors
        if lm.vocab.labels:  # framed as the run was: each unit with its label, from folders or line prefixes
            text, metrics, labels, unknown = evaluate_labelled(lm, text_file, encoding, encoding_errors)
        else:
            text = read_whole_text(text_file, encoding, encoding_errors, "eval")
            unknown = int(np.count_nonzero(lm.vocab.encode(text) == UNK_ID))
            metrics = lm.evaluate(text)
    except RUNTIME_ERRORS as error:
        fail(error)
    if unknown:
        warn_unknown(lm.vocab, text, text_file, unknown, metrics["tokens"])
    if as_json:
        click.echo(json.dumps({**metrics, "unknown_tokens": unknown, "text_file": text_file}
                              | ({"labels": labels} if labels else {})))
        return
    click.echo(f"{summary(metrics)}  over {metrics['tokens']:,} tokens")
    for name, found in labels.items():
        click.echo(f"  {name}: {summary(found)}  over {found['tokens']:,} tokens")


def summary(metrics):
    line = f"loss {metrics['loss']:.4f} nats/token  perplexity {metrics['perplexity']:.2f}"
    if metrics["bits_per_char"] is not None:
        line += f"  bits/char {metrics['bits_per_char']:.4f}"
    return line


def evaluate_labelled(lm, text_file, encoding, encoding_errors):
    """(None, metrics, {label: metrics}, unknown tokens) of a labelled model over TEXT_FILE (a
    directory of label folders, or label<TAB>text lines, as the run was trained)."""
    config = lm.config.replace(encoding=encoding, encoding_errors=encoding_errors)
    files = find_files([text_file], lm.vocab.options.label_from, encoding, encoding_errors).files
    tokens = load_tokens(config, files, lm.vocab)
    level = lm.vocab.options.level
    metrics = evaluate_ids(lm.model, tokens.ids, EVAL_CHUNK, BOS_ID, level)
    labels = evaluate_labels(lm.model, tokens.ids, EVAL_CHUNK, BOS_ID, level, lm.vocab.labels)
    return None, metrics, labels, tokens.count(UNK_ID)


def warn_unknown(vocab, text, text_file, unknown, tokens):
    """Say on stderr how many tokens count as <unk>, and at char level which characters."""
    line = f"warning: {unknown:,} of the {tokens:,} tokens in {text_file} are not in the vocabulary and count as <unk>"
    if vocab.options.level == "char" and text is not None:
        missing = vocab.unknown(text)
        shown = " ".join(repr(c) for c in missing[:SHOWN_UNKNOWN])
        line += f": {shown}" + (f" and {len(missing) - SHOWN_UNKNOWN:,} more" if len(missing) > SHOWN_UNKNOWN else "")
    click.echo(line, err=True)
