"""Corpus files in: reading a text file as text, whole or a piece at a time, and refusing what
is not text, with the same messages either way."""
import codecs
import os

import regex

from seqkit.errors import InputError, option, setting

PIECE = 1 << 22  # bytes read at a time by read_pieces


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
    except UnicodeError as error:  # a UnicodeDecodeError, or utf-16's "does not start with BOM"
        raise not_text(path, encoding, getattr(error, "reason", str(error)), getattr(error, "start", 0)) from None
    except LookupError:
        raise unknown_encoding(path, encoding) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    check_text(text, path)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        text = text.replace("\r", "\n")
    return text


BINARY_CONTROLS = 0.01  # more than this share of control characters (not tab, newline...) is binary
CONTROL = regex.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # the control characters that count


def not_text(path, encoding, reason, offset):
    return InputError(f"{path} is not {encoding} text ({reason} at byte {offset}): give its encoding with "
                      f"{option('encoding')}, or replace such bytes with {setting('encoding_errors', 'replace')}",
                      file=path)


def unknown_encoding(path, encoding):
    return ValueError(f"unknown text encoding {encoding!r} for {path}: give one Python knows, such as utf-8 or latin-1")


def check_text(text, source):
    """Raise ValueError naming `source` if text is empty, only whitespace, or looks binary: a NUL
    character, or over 1% control characters in its first megabyte (a binary file read as
    latin-1 decodes without error, but is about a quarter control characters)."""
    if not text:
        raise empty(source, "is empty")
    if text.isspace():
        raise empty(source, "holds only whitespace")
    nul = text.find("\x00")
    head = text[:HEAD]
    controls = len(head) - len(CONTROL.sub("", head))
    if nul >= 0 or controls > BINARY_CONTROLS * len(head):
        raise binary(source, nul, controls, len(head))


HEAD = 1 << 20  # the characters whose control characters are counted


def empty(source, what):
    return InputError(f"{source} {what}: give a file with text in it", file=source)


def binary(source, nul, controls, head):
    where = f"a NUL character at character {nul}" if nul >= 0 else f"{controls} control characters in its first {head}"
    return InputError(f"{source} looks like a binary file, not text ({where}): give a text file", file=source)


def read_pieces(path, encoding="utf-8", errors="strict", listed=None, digest=None, on_read=None):
    """The text of a file in pieces of about PIECE bytes, which joined are read_text(path): a
    leading BOM dropped, CRLF and lone CR turned into "\n", the same errors for what is not
    text (the control characters counted in the first HEAD characters). `digest` (a hashlib
    object) takes every byte read; on_read(n) is called with each n bytes. listed: the
    (size, mtime_ns) the file had when it was found, so that a file that changes or goes
    while it is read stops with an error rather than giving a mixture."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors)
    except LookupError:
        raise unknown_encoding(path, encoding) from None
    try:
        file = open(path, "rb")
    except FileNotFoundError:
        if listed is None:
            raise
        raise InputError(f"{path} is gone: it was removed after it was found, before it was read", file=path) from None
    with file:
        offset, chars, head, controls, seen, held, first = 0, 0, 0, 0, False, "", True
        while True:
            data = file.read(PIECE if listed is None else min(PIECE, listed[0] - offset + 1))
            if listed is not None and offset + len(data) > listed[0]:  # growing as it is read: stop here
                _check_unchanged(path, file, offset + len(data), listed)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeError as error:  # a UnicodeDecodeError, or utf-16's "does not start with BOM"
                raise not_text(path, encoding, getattr(error, "reason", str(error)),
                               offset - pending + getattr(error, "start", 0)) from None
            offset += len(data)
            if digest is not None:
                digest.update(data)
            if first and text:
                text, first = text.removeprefix("\ufeff"), False
            nul = text.find("\x00")
            if nul >= 0:
                raise binary(path, chars + nul, 0, 0)
            checked = head == HEAD
            if not checked:
                part = text[:HEAD - head]
                head += len(part)
                controls += len(part) - len(CONTROL.sub("", part))
            seen = seen or bool(text) and not text.isspace()
            if not checked and (head == HEAD or not data and seen) and controls > BINARY_CONTROLS * head:
                raise binary(path, -1, controls, head)  # (an empty or blank file says so first, below)
            chars += len(text)
            text = held + text
            held = "\r" if text.endswith("\r") and data else ""
            text = text[:len(text) - len(held)]
            if "\r" in text:
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            if on_read is not None and data:
                on_read(len(data))
            if text:
                yield text
            if not data:
                break
        if not chars:
            raise empty(path, "is empty")
        if not seen:
            raise empty(path, "holds only whitespace")
        _check_unchanged(path, file, offset, listed)


def _check_unchanged(path, file, read, listed):
    """Refuse a file whose size or time of change differs from when it was found, or that is
    no longer there: it changed while it was read."""
    if listed is None:
        return
    try:
        now = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path} was removed while it was read: train again once the corpus stays as it is",
                         file=path) from None
    size, mtime_ns = listed
    if read != size or now.st_size != size or now.st_mtime_ns != mtime_ns or os.fstat(file.fileno()).st_size != size:
        raise InputError(f"{path} changed while it was read ({size:,} bytes when it was found, {now.st_size:,} "
                         f"now): train again once the corpus stays as it is", file=path)
