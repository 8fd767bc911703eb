"""How a text is cut into tokens: TextOptions (the level, the tokenizer, the unit that <s> ...
</s> frame, the vocabulary's caps, where labels come from), saved with every run; the special
tokens that every vocabulary begins with, and the tokens that stand for labels.

The unit is the line by default, at both levels: a model learns how text starts from the <s>
that begins each unit, and a sample begins there (a char-level run that framed the whole
document saw <s> once an epoch, and its unprimed samples began with characters the corpus
hardly uses). Runs written before 0.2.0 left the unit unset (None) and framed the document at
char level; from_dict reads their None as that, so they load, tokenize and sample as before.

A label is a token of its own, `<label NAME>`, that follows <s> at the start of every unit of
a labelled corpus, so that a model learns it like any other token and a sample can begin with
it. The space in its spelling keeps it apart from every token of text: no word holds a space,
and a character token is one character (or one grapheme cluster).
"""
import dataclasses
from dataclasses import dataclass

from seqkit._checks import check_count, check_field_types, is_count
from seqkit.errors import OptionError, option, setting

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
SPECIALS = (UNK, BOS, EOS)  # ids 0, 1, 2 in every vocabulary
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
LEVELS, TOKENIZERS, UNITS = ("char", "word"), ("regex", "whitespace"), ("line", "paragraph", "document")
DEFAULT_UNIT = "line"
LEGACY_UNIT = {"char": "document", "word": "line"}  # what a unit of None meant before 0.2.0, by level
LABEL_SOURCES = ("dir", "prefix")  # a file's folder under the corpus directory; a "label<TAB>" line prefix
LABEL_START, LABEL_END = "<label ", ">"


@dataclass(frozen=True)
class TextOptions:
    level: str = "char"            # char | word
    graphemes: bool = False        # char level: grapheme clusters rather than code points
    tokenize: str = "regex"        # word level: regex | whitespace (a literal <unk> is UNK)
    lowercase: bool = False        # word level: lowercase before tokenizing
    unit: str | None = None        # line | paragraph | document; None: line (LEGACY_UNIT in runs written before)
    max_vocab: int | None = None   # keep only this many most frequent tokens (specials apart)
    min_count: int = 1             # drop tokens seen fewer times; they read as <unk>
    label_from: str | None = None  # None | dir | prefix: each unit starts with its label's token

    def __post_init__(self):
        check_field_types(self)
        if self.unit is None:
            object.__setattr__(self, "unit", DEFAULT_UNIT)
        for name, allowed in (("level", LEVELS), ("tokenize", TOKENIZERS), ("unit", UNITS),
                              ("label_from", LABEL_SOURCES)):
            value = getattr(self, name)
            if value not in allowed and not (name == "label_from" and value is None):
                raise OptionError(f"{option(name)} must be one of {', '.join(allowed)}, got {value!r}", field=name,
                                  value=value)
        if self.graphemes and self.level != "char":
            raise OptionError(f"{option('graphemes')} applies to the char level only: drop it or use "
                              f"{setting('level', 'char')}", field="graphemes")
        if self.level != "word" and (self.tokenize != "regex" or self.lowercase):
            raise OptionError(f"{option('tokenize')} and {option('lowercase')} apply to the word level only: drop "
                              f"them or use {setting('level', 'word')}", field="tokenize" if self.tokenize != "regex"
                              else "lowercase")
        if self.label_from == "prefix" and self.unit not in (None, "line"):
            raise OptionError(f"{setting('label_from', 'prefix')} labels each line, so the unit is the line: drop "
                              f"{setting('unit', self.unit)} or use {setting('label_from', 'dir')}", field="unit",
                              value=self.unit)
        check_count("min_count", self.min_count)
        if self.max_vocab is not None and not is_count(self.max_vocab):
            raise OptionError(f"{option('max_vocab')} must be a positive integer or None, got {self.max_vocab!r}",
                              field="max_vocab", value=self.max_vocab)

    @property
    def resolved_unit(self):
        """The unit in force (unit itself since 0.2.0, which resolves None when made)."""
        return self.unit

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise ValueError(f"text options are a JSON object (TextOptions.to_dict), got {type(d).__name__}")
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown text options {', '.join(sorted(unknown))}: remove them")
        if d.get("unit") is None:  # written before 0.2.0: the level's unit then
            d = {**d, "unit": LEGACY_UNIT.get(d.get("level", "char")) if isinstance(d.get("level", "char"), str) else None}
        return cls(**d)


def label_token(name):
    """The token that stands for the label `name`."""
    return f"{LABEL_START}{name}{LABEL_END}"


def label_name(token):
    """The label a token stands for, or None for a token of text."""
    if token.startswith(LABEL_START) and token.endswith(LABEL_END) and len(token) > len(LABEL_START + LABEL_END):
        return token[len(LABEL_START):-len(LABEL_END)]
    return None


def label_problem(name):
    """Why `name` cannot be a label (empty, or holding a tab or a line break), or None."""
    if not name:
        return "is empty"
    for character, said in (("\t", "a tab"), ("\n", "a line break"), ("\r", "a line break")):
        if character in name:
            return f"contains {said}"
    return None
