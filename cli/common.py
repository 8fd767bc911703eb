"""What the seqkit commands share: the errors they turn into one line (with the library's field
names spelled as options, here and nowhere else), option types, and finding the run a command
reads."""
import codecs
import errno
import math
import os
import sys
import warnings
from pathlib import Path

import click

from seqkit._checks import check_regular_file
from seqkit._memory import available_bytes, gigabytes
from seqkit.errors import CheckpointError, InputError, OptionError, SeqkitError, SeqkitWarning, TrainingError
from seqkit.runs.directory import latest_run
from seqkit.text.corpus import read_text

RUNTIME_ERRORS = (ValueError, CheckpointError, TrainingError, OSError)
POSITIVE = click.IntRange(min=1)


class Finite(click.FloatRange):
    """click.FloatRange that also refuses nan and infinities, which pass its range checks."""

    def convert(self, value, param, ctx):
        return _finite(self, super().convert(value, param, ctx), value, param, ctx)


class FiniteFloat(click.types.FloatParamType):
    """Any finite float: Finite without bounds, whose help would show a range of None."""

    def convert(self, value, param, ctx):
        return _finite(self, super().convert(value, param, ctx), value, param, ctx)


def _finite(param_type, number, value, param, ctx):
    if not math.isfinite(number):
        param_type.fail(f"{value!r} is not a finite number.", param, ctx)
    return number


# The options whose flag is not the field's name with dashes (the library names fields).
FLAGS = {"minutes": "--time", "resume": "--resume", "init_from": "--init-from", "embed": "--embed"}


def flag(field):
    """The command-line option of a library field: batch_size -> --batch-size, minutes -> --time."""
    return FLAGS.get(field, "--" + field.replace("_", "-"))


def flag_setting(field, value):
    """A field set to a value, as the command line writes it: --steps 500."""
    if isinstance(value, float):
        value = f"{value:g}"
    return flag(field) if value is None else f"{flag(field)} {value}"


# What to do about an operating system's error, by its errno.
OS_ADVICE = {errno.ENOSPC: "make room on that disk, then try again", errno.EDQUOT: "make room, then try again",
             errno.EACCES: "check its permissions", errno.EPERM: "check its permissions",
             errno.EROFS: "it is on a read-only file system: use another place",
             errno.ENOENT: "check the path", errno.ENOTDIR: "check the path",
             errno.EISDIR: "give a file, not a directory", errno.EEXIST: "give another name, or remove it"}


def message(error):
    """An error's message in seqkit's words: the fields a seqkit error names written as options;
    an operating system's error as the file, what went wrong and what to do; output that the
    terminal's encoding cannot show as one line saying so."""
    if isinstance(error, SeqkitError):
        return error.spelled(flag_setting)
    if isinstance(error, UnicodeEncodeError):
        return (f"the output's encoding ({error.encoding}) cannot show the text ({error.object[error.start:error.end]!a}): "
                f"set PYTHONIOENCODING=utf-8, or write to a file with -o")
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        advice = OS_ADVICE.get(error.errno)
        return f"{where}{error.strerror}" + (f"; {advice}" if advice else "")
    return str(error)


class Encoding(click.ParamType):
    """A text encoding Python knows (utf-8, latin-1, ...), refused as a usage error otherwise."""
    name = "encoding"

    def convert(self, value, param, ctx):
        try:
            codecs.lookup(value)
            return value
        except LookupError:
            self.fail(f"{value!r} is not a text encoding Python knows: give one such as utf-8 or latin-1", param, ctx)


def fail(error):
    """Turn a library error into click's one-line 'Error: ...': exit status 2 for a bad option
    value (seqkit.errors.OptionError), 1 for the rest."""
    if isinstance(error, OptionError):
        raise click.UsageError(message(error)) from None
    raise click.ClickException(message(error)) from None


def resolve_run(run_dir, best=False):
    """DIR as given, or the most recently trained run under ./runs (said on stderr); --best
    with a checkpoint file is refused."""
    if run_dir and best and Path(run_dir).is_file():
        raise click.UsageError(f"--best picks best.npz in a run directory, but {run_dir} is a checkpoint file: "
                               f"drop --best, or give the run directory")
    if run_dir:
        return run_dir
    found = latest_run()
    if found is None:
        raise click.UsageError("no run directory given and none found under ./runs: train one with "
                               "`seqkit train` or name one")
    click.echo(f"using {found}", err=True)
    return found


def say_warnings():
    """Print the library's warnings (seqkit.errors.SeqkitWarning) as one line each on stderr,
    "warning: ...", in seqkit's words rather than Python's file-and-line form."""
    def show(message, category, filename, lineno, file=None, line=None):
        click.echo(f"warning: {message}" if issubclass(category, SeqkitWarning)
                   else warnings.formatwarning(message, category, filename, lineno, line).rstrip(), err=True)
    warnings.showwarning = show


def shown_as_possible(text):
    """Echo text on stderr with the characters its encoding cannot show escaped (\\u2019): an
    evaluation's sample must not stop a training run whose terminal is ASCII."""
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    click.echo(text.encode(encoding, "backslashreplace").decode(encoding), err=True)


TEXT_BYTES_PER_BYTE = 16  # a rough bound on the memory a text read whole takes per byte: text, ids, pieces


def read_whole_text(path, encoding, errors, option_name):
    """A text file read whole (eval's, show's, score's), after checking that it is a regular file
    (a device would be read without end, a FIFO block) and that memory can hold it: a one-line
    error naming the file otherwise."""
    check_regular_file(path, InputError, "text file")
    size, available = os.path.getsize(path), available_bytes()
    if available is not None and size * TEXT_BYTES_PER_BYTE > available:
        raise InputError(f"{path} is {size:,} bytes, more than the memory available ({gigabytes(available)}) can "
                         f"read whole for {option_name}: give a shorter text", file=path)
    return read_text(path, encoding, errors)
