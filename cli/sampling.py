"""`seqkit sample`: text drawn from a trained model, written out as it is drawn."""
import inspect
import json
import os
import re
import sys
from pathlib import Path

import click

from seqkit.cli.common import POSITIVE, RUNTIME_ERRORS, fail, message, resolve_run
from seqkit.generation.sampler import check_sampling_options, new_seed
from seqkit.lm import LanguageModel, load
from seqkit.runs.checkpoint import atomic_write
from seqkit.runs.directory import BEST, CONFIG, LATEST, METRICS, VOCAB
from seqkit.training.memory import available_bytes

SAMPLE = {name: p.default for name, p in inspect.signature(LanguageModel.sample).parameters.items()}
SEPARATOR = "\n\n"  # a blank line between samples, as before --separator; --jsonl where samples hold blank lines
ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}
PRIME_BYTES_PER_BYTE = 32  # a rough bound on the memory a prime takes per byte of its file: text, ids, echo
INTERRUPTED = 130


@click.command()
@click.argument("run", required=False, type=click.Path(exists=True))
@click.option("--temperature", type=float, default=SAMPLE["temperature"], show_default=True,
              help="Divide the logits by this; 0 picks the most likely token.")
@click.option("--top-k", type=int,
              help="Draw only from the k most likely tokens (a k at or above the vocabulary's size: all of them).")
@click.option("--top-p", type=float, help="Draw only from the most likely tokens whose probability reaches p.")
@click.option("--length", type=click.IntRange(min=0), default=SAMPLE["length"], show_default=True,
              help="Tokens to draw for each sample, counting each end of a line or paragraph (</s>) as one: a "
                   "sample runs on through them until it has that many (see --stop-at-end). Drawn and written a "
                   "block at a time, so any length fits in memory.")
@click.option("--stop-at-end", is_flag=True,
              help="End each sample at the first end of a line, paragraph or document (</s>) it draws.")
@click.option("--prime", help="Text to warm the state on; the sample continues it.")
@click.option("--prime-file", type=click.Path(exists=True, dir_okay=False),
              help="Read the prime from this file, in the run's encoding.")
@click.option("--seed", type=click.IntRange(min=0),
              help="Seed for reproducible samples (default: a random one, said on stderr); sample k of --count "
                   "is drawn with seed + k - 1.")
@click.option("--count", type=POSITIVE, default=SAMPLE["count"], show_default=True,
              help="Samples to draw, one after another.")
@click.option("--separator",
              help="Text written between samples; \\n, \\t and \\\\ in it are a newline, a tab and a backslash.  "
                   "[default: a blank line, \\n\\n]")
@click.option("--jsonl", is_flag=True,
              help="Write each sample as one line of JSON: its text, prime, seed and options.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write to this file rather than stdout. It is replaced once the samples are complete (or "
                   "interrupted, with what was drawn); after an error it is left as it was.")
@click.option("--best", is_flag=True, help="Use the checkpoint with the best validation loss.")
@click.option("--allow-unk", is_flag=True, help="Word level: allow <unk> in the output.")
@click.option("--label", help="A labelled run: begin every unit of the samples with this label.")
def sample(run, temperature, top_k, top_p, length, stop_at_end, prime, prime_file, seed, count, separator, jsonl,
           output, best, allow_unk, label):
    """Print text drawn from the model in RUN, a run directory (default: the latest run under ./runs)
    or a checkpoint file in one (RUN/best.npz, RUN/latest.npz). Each sample begins with its prime;
    the text is written as its tokens are drawn."""
    try:
        check_sampling_options(temperature, top_k, top_p)
    except ValueError as error:
        raise click.UsageError(message(error)) from None
    if prime is not None and prime_file is not None:
        raise click.UsageError("--prime and --prime-file both give a prime: use one of them")
    if jsonl and separator is not None:
        raise click.UsageError("--separator goes between plain samples and --jsonl writes one a line: drop one")
    run = resolve_run(run, best)
    try:
        lm = load(run, best=best)
        check_output(output, lm.checkpoint)
        prime = read_prime(prime_file, lm.config) if prime_file else prime or ""
        unknown = lm.vocab.unknown(prime)
        if unknown and lm.config.text.level == "word":
            click.echo("warning: the prime has words the vocabulary lacks, read as <unk>: " + " ".join(unknown),
                       err=True)
        first_seed = new_seed() if seed is None else seed

        def texts(k):
            return lm.stream(length, temperature, top_k, top_p, prime, first_seed + k, allow_unk, stop_at_end,
                             label=label)

        first = texts(0)  # checks the prime and options before anything is written
    except RUNTIME_ERRORS as error:
        fail(error)
    if seed is None and not jsonl and length:
        click.echo(f"seed {first_seed} (--seed {first_seed} draws the same again)", err=True)
    fields = dict(prime=prime, temperature=temperature, top_k=top_k, top_p=top_p, length=length,
                  stop_at_end=stop_at_end, allow_unk=allow_unk, **({"label": label} if label else {}),
                  checkpoint=str(lm.checkpoint))
    writer = SampleWriter(SEPARATOR if separator is None else unescape(separator), fields if jsonl else None)
    interrupted = deliver(output, lambda write: writer.write_all(write, first_seed, count, texts, first))
    if interrupted:
        click.echo(f"interrupted: {output or 'stdout'} has the text drawn until then", err=True)
        raise click.exceptions.Exit(INTERRUPTED)


class SampleWriter:
    """Writes samples as their texts come: plain, `separator` between them and a newline after
    the last; or with `fields` (a dict) as JSON lines, {"index", "seed", **fields, "text"}, the text
    last so that it can be written as it comes. An interrupt ends the sample being written
    (a JSON line gets "interrupted": true) and stops."""

    def __init__(self, separator, fields):
        self.separator, self.fields = separator, fields

    def write_all(self, write, first_seed, count, texts, first):
        """Write `count` samples, sample k's pieces from texts(k) (first: texts(0), already made).
        Returns True if interrupted (Ctrl-C), False when all were written."""
        in_text = False
        try:
            for k in range(count):
                if self.fields is not None:
                    record = {"index": k, "seed": first_seed + k, **self.fields}
                    write(json.dumps(record, ensure_ascii=False)[:-1] + ', "text": "')
                elif k:
                    write(self.separator)
                in_text = True
                for text in first if k == 0 else texts(k):
                    if text:
                        write(json.dumps(text, ensure_ascii=False)[1:-1] if self.fields is not None else text)
                in_text = False
                if self.fields is not None:
                    write('"}\n')
            if self.fields is None:
                write("\n")
            return False
        except KeyboardInterrupt:
            if self.fields is None:
                write("\n")
            elif in_text:
                write('", "interrupted": true}\n')
            return True


def deliver(output, produce):
    """produce(write), write sending text to stdout, or UTF-8 to the file `output`: through a
    temporary file that replaces it only when produce returns, so that an error leaves it as it
    was (a device or a pipe, such as /dev/stdout, is written directly). Errors become one line."""
    if output is None:
        return _one_line_errors(lambda: produce(lambda text: (sys.stdout.write(text), sys.stdout.flush())), "stdout")
    target = os.path.realpath(output)
    if os.path.exists(target) and not os.path.isfile(target):
        with open(target, "w", encoding="utf-8") as file:
            return _one_line_errors(lambda: produce(lambda text: (file.write(text), file.flush())), output)
    result = []

    def write_file(file):
        result.append(produce(lambda text: (file.write(text.encode()), file.flush())))

    left = "left as it was" if os.path.exists(target) else "not written"
    _one_line_errors(lambda: atomic_write(target, write_file), output, f"; {output} was {left}")
    return result[0]


def _one_line_errors(call, where, after=""):
    try:
        return call()
    except BrokenPipeError:
        raise  # the reader went away (| head): click ends quietly
    except OSError as error:
        fail(f"could not write {where} ({error.strerror or error}){after}")
    except RUNTIME_ERRORS as error:
        fail(f"{error}{after}")


def check_output(output, checkpoint):
    """Refuse an -o in no directory, or one that would replace a file of the run being sampled."""
    if output is None:
        return
    target = Path(output).resolve()
    if not target.parent.is_dir():
        raise click.UsageError(f"-o {output}: there is no directory {target.parent} to write it in")
    run_files = [checkpoint] + [checkpoint.parent / name for name in (CONFIG, VOCAB, LATEST, BEST, METRICS)]
    if any(target == path.resolve() for path in run_files):
        raise click.UsageError(f"-o {output} would replace a file of the run: write the samples elsewhere")


def unescape(text):
    """--separator's \\n, \\t and \\\\ as a newline, a tab and a backslash."""
    return re.sub(r"\\([nt\\])", lambda match: ESCAPES[match.group(1)], text)


def read_prime(path, config):
    """The text of --prime-file, read in the run's encoding (a BOM dropped, CRLF as "\\n")."""
    size, available = os.path.getsize(path), available_bytes()
    if available is not None and size * PRIME_BYTES_PER_BYTE > available:
        raise ValueError(f"--prime-file {path} is {size:,} bytes, more than the memory available "
                         f"({available:,} bytes) can prime from: give a shorter prime")
    try:
        text = Path(path).read_bytes().decode(config.encoding, config.encoding_errors)
    except UnicodeDecodeError as error:
        raise ValueError(f"--prime-file {path} is not {config.encoding} text, the run's encoding "
                         f"({error.reason} at byte {error.start}): save it as {config.encoding}") from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
