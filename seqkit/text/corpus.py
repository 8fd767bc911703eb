"""Corpus files in: reading a text file as text, and refusing what is not text."""
import regex

from seqkit.errors import InputError, option, setting


def read_text(path, encoding="utf-8", errors="strict"):
    """A text file as text: a leading BOM dropped, CRLF and lone CR turned into "\n".

    errors is Python's codec error handler ("strict", "replace", "ignore"). Raises ValueError
    naming the file for bytes that are not text in that encoding (with their byte offset), an
    empty or all-whitespace file, and what looks like a binary file."""
    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode(encoding, errors)
        del data  # freed before the copies below, so a big corpus is never held three times
    except UnicodeDecodeError as error:
        raise InputError(f"{path} is not {encoding} text ({error.reason} at byte {error.start}): give its "
                         f"encoding with {option('encoding')}, or replace such bytes with "
                         f"{setting('encoding_errors', 'replace')}", file=path) from None
    except LookupError:
        raise ValueError(f"unknown text encoding {encoding!r} for {path}: give one Python knows, "
                         f"such as utf-8 or latin-1") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    check_text(text, path)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        text = text.replace("\r", "\n")
    return text


BINARY_CONTROLS = 0.01  # more than this share of control characters (not tab, newline...) is binary
CONTROL = regex.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # the control characters that count


def check_text(text, source):
    """Raise ValueError naming `source` if text is empty, only whitespace, or looks binary: a NUL
    character, or over 1% control characters in its first megabyte (a binary file read as
    latin-1 decodes without error, but is about a quarter control characters)."""
    if not text:
        raise ValueError(f"{source} is empty: give a file with text in it")
    if text.isspace():
        raise ValueError(f"{source} holds only whitespace: give a file with text in it")
    nul = text.find("\x00")
    head = text[:1 << 20]
    controls = len(head) - len(CONTROL.sub("", head))
    if nul >= 0 or controls > BINARY_CONTROLS * len(head):
        where = (f"a NUL character at character {nul}" if nul >= 0
                 else f"{controls} control characters in its first {len(head)}")
        raise ValueError(f"{source} looks like a binary file, not text ({where}): give a text file")
