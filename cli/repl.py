"""`seqkit repl`: an interactive prompt whose lines are primes and whose continuations stream
back (seqkit.generation.repl); with stdin not a terminal, a filter from primes to samples."""
import sys

import click

from seqkit.cli.common import POSITIVE, RUNTIME_ERRORS, fail, resolve_run
from seqkit.cli.sampling import SAMPLE
from seqkit.errors import SeqkitError
from seqkit.generation.repl import Session, Settings, choices, pick, spelled
from seqkit.lm import load

PROMPT, CHOOSE_PROMPT = "> ", "pick> "


@click.command()
@click.argument("run", required=False, type=click.Path(exists=True))
@click.option("--temperature", type=float, default=SAMPLE["temperature"], show_default=True,
              help="Divide the logits by this; 0 picks the most likely token (:temperature changes it).")
@click.option("--length", type=click.IntRange(min=0), default=SAMPLE["length"], show_default=True,
              help="Tokens to draw after each prime (:length).")
@click.option("--seed", type=click.IntRange(min=0),
              help="Draw every prime's continuation with this seed (:seed; default: a new random one each time).")
@click.option("--top-k", type=int, help="Draw only from the k most likely tokens (:top_k).")
@click.option("--top-p", type=float, help="Draw only from the most likely tokens whose probability reaches p (:top_p).")
@click.option("--choose", type=POSITIVE, metavar="N",
              help="Rather than sampling, show the N most likely next tokens numbered: pick one by its number or "
                   "type text, either appended to the prime, until an empty line.")
@click.option("--best", is_flag=True, help="Use the checkpoint with the best validation loss.")
def repl(run, temperature, length, seed, top_k, top_p, choose, best):
    """Read primes, a line each, and write their continuations as they are drawn from the model in
    RUN (as for sample). Lines starting with ':' change the options (:help lists them, :quit
    ends). With stdin not a terminal there is no prompt: each line's sample is written followed
    by a newline, as seqkit sample writes it."""
    try:
        session = Session(Settings(temperature, length, seed, top_k, top_p))
    except SeqkitError as error:
        fail(error)
    run = resolve_run(run, best)
    try:
        lm = load(run, best=best)
    except RUNTIME_ERRORS as error:
        fail(error)
    tty = sys.stdin.isatty()
    if tty:
        try:
            import readline  # noqa: F401  (history and editing for input())
        except ImportError:
            pass
        click.echo(f"{lm.config.cell} {lm.config.layers}x{lm.config.hidden}, {len(lm.vocab):,} "
                   f"{lm.config.text.level} tokens; :help for the options, :quit or Ctrl-D to end", err=True)
    lines = Lines(tty)
    while True:
        line = lines.read(PROMPT)
        if line is None:
            return
        if line.startswith(":"):
            if handle(session, line) == "quit":
                return
            continue
        if choose:
            if converse(lm, session, line, choose, lines) == "quit":
                return
            continue
        write_sample(session, lm, line)


class Lines:
    """Input lines: with a prompt (input(), through readline) on a terminal, else plain lines of stdin."""

    def __init__(self, tty):
        self.tty = tty

    def read(self, prompt):
        """The next line without its newline; None at the end (Ctrl-D)."""
        if self.tty:
            try:
                return input(prompt)
            except EOFError:
                click.echo("", err=True)
                return None
            except KeyboardInterrupt:
                click.echo("", err=True)
                return ""
        line = sys.stdin.readline()
        return None if not line else line.rstrip("\n").removesuffix("\r")


def handle(session, line):
    """A :command line: its lines shown, or a bad value said in one line; "quit" to end."""
    try:
        shown = session.command(line)
    except SeqkitError as error:
        click.echo(f"error: {error.spelled(spelled)}", err=True)
        return None
    if shown == "quit":
        return "quit"
    for text in shown:
        click.echo(text, err=not sys.stdin.isatty())
    return None


def write_sample(session, lm, prime):
    """Stream the sample of one prime to stdout, a newline after it; an error is one line."""
    unknown = lm.vocab.unknown(prime)
    if unknown and lm.config.text.level == "word":
        click.echo("warning: the prime has words the vocabulary lacks, read as <unk>: " + " ".join(unknown), err=True)
    try:
        pieces = session.sample(lm, prime)
        started = False
        for text in pieces:
            sys.stdout.write(text)
            sys.stdout.flush()
            started = True
    except KeyboardInterrupt:
        started = True
    except SeqkitError as error:
        click.echo(f"error: {error.spelled(spelled)}", err=True)
        return
    except RUNTIME_ERRORS as error:
        click.echo(f"error: {error}", err=True)
        return
    if started:
        sys.stdout.write("\n")
        sys.stdout.flush()


def converse(lm, session, prime, count, lines):
    """--choose: show the numbered next tokens of the prime and extend it by the answer, until an
    empty line, which writes the text built; "quit" when :quit or the input ends."""
    while True:
        try:
            shown = choices(lm, prime, count)
        except RUNTIME_ERRORS as error:
            click.echo(f"error: {error}", err=True)
            return None
        click.echo(prime)
        for text in shown:
            click.echo(text)
        answer = lines.read(CHOOSE_PROMPT)
        if answer is None:
            return "quit"
        if answer == "":
            click.echo(prime)
            return None
        if answer.startswith(":"):
            if handle(session, answer) == "quit":
                return "quit"
            continue
        try:
            prime = pick(lm, prime, answer, count)
        except SeqkitError as error:
            click.echo(f"error: {error.spelled(spelled)}", err=True)

