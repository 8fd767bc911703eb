"""What `seqkit repl` does between reading a line and writing text, without any terminal: the
options a session holds and the `:name value` commands that change them (Session), and the
pieces of --choose (the numbered next tokens, and a choice appended to the prime).

A line that is not a command is a prime: Session.sample(lm, prime) streams its sample as
lm.stream does (the prime as the model reads it, then `length` tokens), drawn with the
session's seed, so that a seed set gives the same continuation of the same prime every time,
the text `seqkit sample --prime ... --seed ...` writes. With no seed set, each prime is drawn
with a new random one (Session.last_seed says which).
"""
from dataclasses import dataclass, fields, replace

from seqkit.errors import OptionError, SeqkitError
from seqkit.generation.controls import SamplingOptions
from seqkit.generation.sampler import new_seed
from seqkit.text.options import EOS

UNSET = ("none", "off", "-")  # a value that clears an option (:seed none: a random seed per prime)
HELP = ":temperature T, :length N, :seed N, :top_k K, :top_p P (none clears seed, top_k, top_p); :help; :quit"


def spelled(name, value):
    """A library message's option as the repl names it: :top_k, :top_k 40."""
    return f":{name}" if value is None else f":{name} {value}"


@dataclass(frozen=True)
class Settings:
    temperature: float = 1.0
    length: int = 500
    seed: int | None = None
    top_k: int | None = None
    top_p: float | None = None


class Session:
    """The options of one repl session and what its commands do to them."""

    def __init__(self, settings=Settings()):
        self.settings = settings
        self.check(settings)
        self.last_seed = None

    @staticmethod
    def check(settings):
        """Refuse settings without meaning: an OptionError naming the field."""
        SamplingOptions(settings.temperature, settings.top_k, settings.top_p)
        for name in ("length", "seed"):
            value = getattr(settings, name)
            if value is not None and value < 0:
                raise OptionError(f":{name} must be zero or more, got {value}", field=name, value=value)

    def help(self):
        """The options and their values, then the commands, as lines."""
        values = "  ".join(f":{f.name} {'none' if getattr(self.settings, f.name) is None else getattr(self.settings, f.name)}"
                           for f in fields(Settings))
        return [values, HELP]

    def command(self, line):
        """Carry out a `:name value` line: returns "quit", the lines to show (help, or a setting
        changed), or raises an OptionError, one line, for a bad name or value."""
        name, _, value = line[1:].strip().partition(" ")
        name, value = name.replace("-", "_"), value.strip()
        if name in ("quit", "q", "exit"):
            return "quit"
        if name in ("help", "h", "?", ""):
            return self.help()
        known = {f.name: f for f in fields(Settings)}
        if name not in known:
            raise OptionError(f"unknown command :{name}: :help lists them", field=name)
        if not value:
            current = getattr(self.settings, name)
            return [f":{name} {'none' if current is None else current}"]
        kind = float if name in ("temperature", "top_p") else int
        if value.lower() in UNSET and name in ("seed", "top_k", "top_p"):
            parsed = None
        else:
            try:
                parsed = kind(value)
            except ValueError:
                raise OptionError(f":{name} takes {'a number' if kind is float else 'a whole number'}, got {value!r}",
                                  field=name, value=value) from None
        settings = replace(self.settings, **{name: parsed})
        try:
            self.check(settings)
        except SeqkitError as error:
            raise OptionError(error.spelled(spelled), field=name, value=parsed) from None
        self.settings = settings
        return [f":{name} {'none' if parsed is None else parsed}"]

    def sample(self, lm, prime):
        """The pieces of text of the sample that continues `prime` (lm.stream's), with the
        session's options; the seed drawn with is in last_seed."""
        s = self.settings
        self.last_seed = new_seed() if s.seed is None else s.seed
        try:
            return lm.stream(s.length, s.temperature, s.top_k, s.top_p, prime, self.last_seed)
        except SeqkitError as error:
            raise OptionError(error.spelled(spelled), field=error.field, value=error.value) from None


def choices(lm, prime, count):
    """The lines that number the `count` most likely next tokens after the prime:
    '  1  "e"  0.231', </s> named as such."""
    return [f"{k:3d}  {token if token == EOS else repr(token)}  {p:.3f}"
            for k, (token, p) in enumerate(lm.next_token_probs(prime, count), 1)]


def append(lm, prime, text):
    """The prime with `text` after it: a token chosen, or text typed. </s> ends the line (a blank
    line for paragraphs); a word follows a word after a space, at word level."""
    options = lm.vocab.options
    if text == EOS:
        return prime + ("\n\n" if options.resolved_unit == "paragraph" else "\n")
    if options.level == "word" and prime and not prime[-1].isspace() and not text[:1].isspace():
        return prime + " " + text
    return prime + text


def pick(lm, prime, line, count):
    """The prime after the user's answer `line` to the numbered choices: a number picks that
    token, other text is appended as typed. An OptionError for a number out of range."""
    stripped = line.strip()
    if stripped.isdigit():
        k = int(stripped)
        tokens = [token for token, _ in lm.next_token_probs(prime, count)]
        if not 1 <= k <= len(tokens):
            raise OptionError(f"choice {k} is not among the {len(tokens)} shown: pick 1 to {len(tokens)}, or type text",
                              field="choose", value=k)
        return append(lm, prime, tokens[k - 1])
    return append(lm, prime, line)
