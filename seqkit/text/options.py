"""How a text is cut into tokens: TextOptions (the level, the tokenizer, the unit that <s> ...
</s> frame, the vocabulary's caps), saved with every run, and the special tokens that every
vocabulary begins with.

The unit is the line by default, at both levels: a model learns how text starts from the <s>
that begins each unit, and a sample begins there (a char-level run that framed the whole
document saw <s> once an epoch, and its unprimed samples began with characters the corpus
hardly uses). Runs written before 0.2.0 left the unit unset (None) and framed the document at
char level; from_dict reads their None as that, so they load, tokenize and sample as before."""
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


@dataclass(frozen=True)
class TextOptions:
    level: str = "char"            # char | word
    graphemes: bool = False        # char level: grapheme clusters rather than code points
    tokenize: str = "regex"        # word level: regex | whitespace (a literal <unk> is UNK)
    lowercase: bool = False        # word level: lowercase before tokenizing
    unit: str | None = None        # line | paragraph | document; None: line (LEGACY_UNIT in runs written before)
    max_vocab: int | None = None   # keep only this many most frequent tokens (specials apart)
    min_count: int = 1             # drop tokens seen fewer times; they read as <unk>

    def __post_init__(self):
        check_field_types(self)
        if self.unit is None:
            object.__setattr__(self, "unit", DEFAULT_UNIT)
        for name, allowed in (("level", LEVELS), ("tokenize", TOKENIZERS), ("unit", UNITS)):
            value = getattr(self, name)
            if value not in allowed:
                raise OptionError(f"{option(name)} must be one of {', '.join(allowed)}, got {value!r}", field=name,
                                  value=value)
        if self.graphemes and self.level != "char":
            raise OptionError(f"{option('graphemes')} applies to the char level only: drop it or use "
                              f"{setting('level', 'char')}", field="graphemes")
        if self.level != "word" and (self.tokenize != "regex" or self.lowercase):
            raise OptionError(f"{option('tokenize')} and {option('lowercase')} apply to the word level only: drop "
                              f"them or use {setting('level', 'word')}", field="tokenize" if self.tokenize != "regex"
                              else "lowercase")
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
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown text options {', '.join(sorted(unknown))}: remove them")
        if d.get("unit") is None:  # written before 0.2.0: the level's unit then
            d = {**d, "unit": LEGACY_UNIT.get(d.get("level", "char"))}
        return cls(**d)
