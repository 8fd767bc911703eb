"""`seqkit sample`: text drawn from a trained model, written out as it is drawn."""
import inspect
import json
import os
import re
import sys
from pathlib import Path

import click

from seqkit._checks import check_regular_file
from seqkit._memory import available_bytes
from seqkit.cli.common import OS_ADVICE, POSITIVE, RUNTIME_ERRORS, fail, message, resolve_run
from seqkit.errors import InputError, OptionError
from seqkit.generation.controls import SamplingOptions
from seqkit.generation.sampler import new_seed
from seqkit.lm import LanguageModel, load
from seqkit.runs.checkpoint import atomic_write
from seqkit.runs.directory import BEST, CONFIG, LATEST, METRICS, VOCAB

SAMPLE = {name: p.default for name, p in inspect.signature(LanguageModel.sample).parameters.items()}
CONTROLS = {name: f.default for name, f in SamplingOptions.__dataclass_fields__.items()}
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
@click.option("--stop", multiple=True, metavar="TEXT",
              help="End each sample at the first place it draws TEXT (repeatable: the first of them); \\n, \\t "
                   "and \\\\ as in --separator.")
@click.option("--strip-stop", is_flag=True, help="Leave the --stop text that ended a sample out of it.")
@click.option("--ban", multiple=True, metavar="TEXT",
              help="Never draw this token: a word at word level, a character at char level, or </s> (repeatable).")
@click.option("--repetition-penalty", type=float, default=CONTROLS["repetition_penalty"], show_default=True,
              help="CTRL's penalty: divide the logit of each token among the last --repetition-window by this "
                   "(multiply it where negative); above 1 repeats less.")
@click.option("--repetition-window", type=POSITIVE, default=CONTROLS["repetition_window"], show_default=True,
              help="Tokens, the prime's included, that --repetition-penalty looks back on.")
@click.option("--no-repeat-ngram", type=POSITIVE, metavar="N",
              help="Never draw a token that would repeat an N-gram of the sample (prime included); for words.")
@click.option("--beam", type=POSITIVE, metavar="K",
              help="Beam search: the most likely continuation of K searched side by side, without chance "
                   "(--count up to K: the best ones).")
@click.option("--best-of", type=POSITIVE, metavar="N",
              help="Draw N samples and keep the one of lowest loss per token (--count up to N: the best ones).")
@click.option("--novelty", is_flag=True,
              help="Say how much of each sample the training corpus holds: its longest shared passage and the share "
                   "of its 20-token windows found there (on stderr, or in each --jsonl record).")
@click.option("--label", help="A labelled run: begin every unit of the samples with this label.")
def sample(run, temperature, top_k, top_p, length, stop_at_end, prime, prime_file, seed, count, separator, jsonl,
           output, best, allow_unk, stop, strip_stop, ban, repetition_penalty, repetition_window, no_repeat_ngram,
           beam, best_of, novelty, label):
    """Print text drawn from the model in RUN, a run directory (default: the latest run under ./runs)
    or a checkpoint file in one (RUN/best.npz, RUN/latest.npz). Each sample begins with its prime;
    the text is written as its tokens are drawn."""
    controls = dict(stop=tuple(unescape(s) for s in stop), strip_stop=strip_stop, ban=tuple(unescape(b) for b in ban),
                    repetition_penalty=repetition_penalty, repetition_window=repetition_window,
                    no_repeat_ngram=no_repeat_ngram, beam=beam, best_of=best_of, label=label)
    try:
        options = SamplingOptions(temperature, top_k, top_p, stop_at_end, allow_unk, **controls)
        options.check_count(count)
    except OptionError as error:
        fail(error)
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
        lm.options(temperature, top_k, top_p, allow_unk, stop_at_end, prime, **controls)  # against the vocabulary
        if novelty:
            lm.novelty_index()  # the corpus read (or found missing) before any text is written
        chosen = options.beam is not None or options.best_of is not None
        if chosen:  # beam search and best-of choose among continuations: the text comes once they are chosen
            choices = lm.choices(length, temperature, top_k, top_p, prime, count, first_seed, allow_unk, stop_at_end,
                                 **controls)

        def texts(k):
            if chosen:
                return iter([choices[k].text])
            return lm.stream(length, temperature, top_k, top_p, prime, first_seed + k, allow_unk, stop_at_end,
                             **controls)

        first = texts(0)  # checks the prime and options before anything is written
    except RUNTIME_ERRORS as error:
        fail(error)
    if seed is None and not jsonl and length and options.beam is None:
        click.echo(f"seed {first_seed} (--seed {first_seed} draws the same again)", err=True)
    fields = dict(prime=prime, length=length, **options.record(), checkpoint=str(lm.checkpoint))

    def extra(k):
        """The fields of sample k's record that its choice fills in: its seed, and its loss."""
        if not chosen:
            return {"seed": first_seed + k}
        found = {"seed": choices[k].seed, "loss": choices[k].loss, "tokens": choices[k].tokens}
        return {**found, "logprob": choices[k].logprob} if options.beam is not None else found

    def after(k, text):
        """Said of sample k once written: its novelty (in its record with --jsonl, else on stderr)."""
        found = lm.novelty(text, prime)
        if not jsonl:
            click.echo(novelty_line(k, count, found), err=True)
        return {"novelty": found}

    writer = SampleWriter(SEPARATOR if separator is None else unescape(separator), fields if jsonl else None,
                          extra, after if novelty else None)
    interrupted = deliver(output, lambda write: writer.write_all(write, first_seed, count, texts, first))
    if interrupted:
        click.echo(f"interrupted: {output or 'stdout'} has the text drawn until then", err=True)
        raise click.exceptions.Exit(INTERRUPTED)


def novelty_line(k, count, found):
    """The line that says a sample's novelty on stderr."""
    which = f"sample {k + 1}: " if count > 1 else ""
    share = ("no 20-token window (shorter)" if found["windows"] == 0 else
             f"{found['copied'] / found['windows']:.0%} of its {found['windows']:,} 20-token windows in the corpus")
    return (f"novelty: {which}longest passage shared with the corpus {found['longest_tokens']:,} tokens "
            f"({json.dumps(found['longest'], ensure_ascii=False)}); {share}")


class SampleWriter:
    """Writes samples as their texts come: plain, `separator` between them and a newline after
    the last; or with `fields` (a dict) as JSON lines, {"index", "seed", **fields, **extra(k),
    "text", **after(k, text)}, the text last but for what `after` says of it, so that it can be
    written as it comes. An interrupt ends the sample being written (a JSON line gets
    "interrupted": true) and stops."""

    def __init__(self, separator, fields, extra=lambda k: {}, after=None):
        """after: None, or a function to call with each sample's whole text (kept for it)."""
        self.separator, self.fields, self.extra, self.after = separator, fields, extra, after

    def write_all(self, write, first_seed, count, texts, first):
        """Write `count` samples, sample k's pieces from texts(k) (first: texts(0), already made).
        Returns True if interrupted (Ctrl-C), False when all were written."""
        in_text = False
        try:
            for k in range(count):
                if self.fields is not None:
                    record = {"index": k, "seed": first_seed + k, **self.fields, **self.extra(k)}
                    write(json.dumps(record, ensure_ascii=False)[:-1] + ', "text": "')
                elif k:
                    write(self.separator)
                in_text, pieces = True, []
                for text in first if k == 0 else texts(k):
                    if text:
                        if self.after is not None:
                            pieces.append(text)
                        write(json.dumps(text, ensure_ascii=False)[1:-1] if self.fields is not None else text)
                in_text = False
                said = {} if self.after is None else self.after(k, "".join(pieces))
                if self.fields is not None:
                    write('"' + "".join(f", {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"
                                        for key, value in said.items()) + '}\n')
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
        advice = OS_ADVICE.get(error.errno)
        fail(f"could not write {where} ({error.strerror or error}){after}" + (f"; {advice}" if advice else ""))
    except RUNTIME_ERRORS as error:
        fail(f"{message(error)}{after}")


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
    check_regular_file(path, InputError, "prime file")
    size, available = os.path.getsize(path), available_bytes()
    if available is not None and size * PRIME_BYTES_PER_BYTE > available:
        raise ValueError(f"--prime-file {path} is {size:,} bytes, more than the memory available "
                         f"({available:,} bytes) can prime from: give a shorter prime")
    try:
        text = Path(path).read_bytes().decode(config.encoding, config.encoding_errors)
    except UnicodeError as error:  # a UnicodeDecodeError, or utf-16's "does not start with BOM"
        raise ValueError(f"--prime-file {path} is not {config.encoding} text, the run's encoding "
                         f"({getattr(error, 'reason', error)} at byte {getattr(error, 'start', 0)}): save it as "
                         f"{config.encoding}") from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
