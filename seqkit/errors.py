"""The library's exception types. Each carries fields that say what it is about (`field`: the
option or configuration field at fault, `file`: the file, `value`: the value that was refused),
and a message that says what was expected, what came, and what to do.

A message names options as fields, never as command-line flags: `option("batch_size")` in a
message reads "batch_size" from Python and "--batch-size" from the command line, and
`setting("steps", 500)` reads "steps=500" and "--steps 500". The command line spells them in
one place (seqkit/cli/common.py); the library never builds or parses a flag.

Every type subclasses the built-in exception its callers caught before it existed (ValueError,
RuntimeError), so code written against those still works.
"""
import re
from typing import Any, Callable

_OPEN, _CLOSE, _EQUALS = "\ue000", "\ue001", "\ue002"  # private-use characters: never in a real message
_MARKED = re.compile(f"{_OPEN}([^{_CLOSE}]*){_CLOSE}")


def option(name: str) -> str:
    """The option (configuration field) `name`, as a message names it."""
    return f"{_OPEN}{name}{_CLOSE}"


def setting(name: str, value: Any) -> str:
    """The option `name` set to `value`, as a message names it."""
    if isinstance(value, float):
        value = f"{value:g}"
    return f"{_OPEN}{name}{_EQUALS}{value}{_CLOSE}"


def python_spelling(name: str, value: str | None) -> str:
    """How a message reads in Python: batch_size, steps=500."""
    return name if value is None else f"{name}={value}"


def spell(message: str, spelling: Callable[[str, str | None], str] = python_spelling) -> str:
    """`message` with every option and setting written by `spelling(name, value or None)`."""
    def written(match):
        name, _, value = match.group(1).partition(_EQUALS)
        return spelling(name, value if _EQUALS in match.group(1) else None)
    return _MARKED.sub(written, message)


class SeqkitError(Exception):
    """Something seqkit was asked to do cannot be done; str() is the message, in Python's spelling."""

    def __init__(self, message: str, *, field: str | None = None, file: Any = None, value: Any = None) -> None:
        self.message, self.field, self.file, self.value = message, field, file, value
        super().__init__(spell(message))

    def spelled(self, spelling: Callable[[str, str | None], str]) -> str:
        """The message with its options written by `spelling` (the CLI's: as flags)."""
        return spell(self.message, spelling)


class OptionError(SeqkitError, ValueError):
    """An option, argument or configuration field with a value that cannot be used (`field`
    names it). The command line reports it as a usage error, exit status 2."""


class InputError(SeqkitError, ValueError):
    """A file or text given to seqkit that is not what it should be: not text, empty, binary,
    too large, not a regular file (`file` names it)."""


class CheckpointError(SeqkitError, ValueError):
    """A run directory, checkpoint or model file that cannot be read as seqkit wrote it."""


class TrainingError(SeqkitError, RuntimeError):
    """Training cannot start or go on; the message says why and what to do."""


class SeqkitWarning(UserWarning):
    """Something seqkit worked round and says so: a log line cut short, tokens a vocabulary lacks.
    The command line prints each as one line, "warning: ..."."""
