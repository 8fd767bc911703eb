"""The options of a draw, checked and recorded in one place: SamplingOptions holds every option
that shapes what a sample is (beyond its length, prime and seed), refuses values without
meaning when made (an OptionError naming the field), says what a --jsonl record keeps of it
(`record`), and becomes, for one vocabulary, the arrays the compiled sampler reads (`resolve`):

    temperature, top_k, top_p    the distribution drawn from
    stop_at_end                  end at the first </s>
    allow_unk                    let <unk> be drawn (word level)
    stop, strip_stop             end at the first of these strings drawn; keep it or not
    ban                          tokens never drawn
    repetition_penalty, _window  CTRL's penalty on tokens among the last `window`
    no_repeat_ngram              no n-gram drawn twice (word level, mostly)
    beam, best_of                the K best continuations, or the best of N samples
    label                        a labelled run's label, which begins every unit drawn
                                 (seqkit.generation.labelled)

A string given as a stop or a ban is read as the run's tokenizer reads text: at char level each
character is a token, at word level each word; where the unit is the line, each "\\n" is the
</s> that ends one (at word level with paragraphs, each blank line). A stop string is the
tokens it reads as, drawn one after another, found within the tokens drawn (never the prime).
A ban is one token: a word at word level, a character at char level, or a special token by its
name (`</s>`, `<unk>`).
"""
import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import regex

from seqkit._checks import is_count
from seqkit.errors import OptionError, option, setting
from seqkit.text.options import BOS_ID, EOS_ID, UNK_ID

REPETITION_WINDOW = 64  # tokens the repetition penalty looks back on, by default
PARAGRAPH_BREAK = regex.compile(r"\n\s*\n")


def _strings(value):
    """A stop or ban as a tuple of strings: one string alone, or any sequence of them."""
    return (value,) if isinstance(value, str) else tuple(value or ())


@dataclass(frozen=True)
class SamplingOptions:
    temperature: float = 1.0          # divide the logits by this; 0: the most likely token (argmax)
    top_k: int | None = None          # draw from the k most likely tokens only
    top_p: float | None = None        # draw from the most likely tokens whose probability reaches p
    stop_at_end: bool = False         # end the sample at its first </s>, left out
    allow_unk: bool = False           # let <unk> be drawn
    stop: tuple[str, ...] = ()        # end the sample at the first of these drawn (kept, unless strip_stop)
    strip_stop: bool = False          # leave the stop string that ended a sample out of it
    ban: tuple[str, ...] = ()         # tokens never drawn
    repetition_penalty: float = 1.0   # CTRL's: > 1 makes tokens among the last repetition_window less likely
    repetition_window: int = REPETITION_WINDOW  # tokens, the prime's included, the penalty looks back on
    no_repeat_ngram: int | None = None  # never draw a token that repeats an n-gram of the sample (prime included)
    beam: int | None = None           # beam search: the K best continuations by log-probability
    best_of: int | None = None        # draw N samples, keep the one of lowest loss per token
    label: str | None = None          # a labelled run: begin every unit with this label

    def __post_init__(self):
        object.__setattr__(self, "stop", _strings(self.stop))
        object.__setattr__(self, "ban", _strings(self.ban))
        if not 0 <= self.temperature < math.inf:
            raise OptionError(f"{option('temperature')} must be zero (argmax) or positive and finite, got "
                              f"{self.temperature}", field="temperature", value=self.temperature)
        if self.top_k is not None and not self.top_k >= 1:
            raise OptionError(f"{option('top_k')} must be at least 1, got {self.top_k}", field="top_k", value=self.top_k)
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise OptionError(f"{option('top_p')} must be in (0, 1], got {self.top_p}", field="top_p", value=self.top_p)
        for name in ("stop", "ban"):
            for text in getattr(self, name):
                if not isinstance(text, str) or not text:
                    raise OptionError(f"{option(name)} must be a non-empty string, got {text!r}", field=name,
                                      value=text)
        if not (0 < self.repetition_penalty < math.inf):
            raise OptionError(f"{option('repetition_penalty')} must be positive and finite, got "
                              f"{self.repetition_penalty}", field="repetition_penalty", value=self.repetition_penalty)
        for name in ("repetition_window", "no_repeat_ngram", "beam", "best_of"):
            value = getattr(self, name)
            if (value is not None or name == "repetition_window") and not is_count(value):
                raise OptionError(f"{option(name)} must be a positive integer, got {value!r}", field=name, value=value)
        if self.beam is not None:
            self._check_beam()
        if self.label is not None and (self.beam is not None or self.best_of is not None):
            name = "beam" if self.beam is not None else "best_of"
            raise OptionError(f"{option('label')} does not yet work with {option(name)}: sample with the label, or "
                              f"search without it", field="label", value=self.label)

    def _check_beam(self):
        if self.best_of is not None:
            raise OptionError(f"{option('beam')} and {option('best_of')} both choose among continuations: use one",
                              field="best_of", value=self.best_of)
        for name, unset in (("temperature", 1.0), ("top_k", None), ("top_p", None)):
            if getattr(self, name) != unset:
                raise OptionError(f"beam search ranks continuations by the model's own probabilities, so "
                                  f"{option(name)} does not apply to {option('beam')}: drop it", field=name,
                                  value=getattr(self, name))

    def check_count(self, count):
        """Refuse a count of samples that beam search or best-of cannot give: more than K or N."""
        for name in ("beam", "best_of"):
            chosen = getattr(self, name)
            if chosen is not None and count > chosen:
                raise OptionError(f"{setting('count', count)} is more than the {chosen} continuations "
                                  f"{setting(name, chosen)} gives: lower {option('count')} or raise {option(name)}",
                                  field="count", value=count)

    def record(self):
        """The options as a --jsonl record keeps them: every field, stop and ban as lists; the label
        only where one is given (a labelled run's)."""
        d = asdict(self)
        d["stop"], d["ban"] = list(self.stop), list(self.ban)
        if self.label is None:
            del d["label"]
        return d

    def resolve(self, vocab):
        """The Controls of these options for `vocab`; an OptionError names a stop or ban that it
        cannot read, a ban of every token, a beam wider than the vocabulary."""
        banned = [BOS_ID] + ([] if self.allow_unk else [UNK_ID])
        if self.label is not None:  # the sampler feeds the label; it is never drawn
            check_label(vocab, self.label)
            banned += list(vocab.labels.values())
        for text in self.ban:
            banned.append(_one_token(vocab, text))
        banned = sorted(set(banned))
        drawable = len(vocab) - len(banned)
        if drawable == 0:
            raise OptionError(f"{option('ban')} leaves no token to draw: the vocabulary has {len(vocab)}, every one "
                              f"banned", field="ban", value=self.ban[-1] if self.ban else None)
        if self.beam is not None and self.beam > len(vocab):
            raise OptionError(f"{setting('beam', self.beam)} is wider than the vocabulary, {len(vocab)} tokens: lower "
                              f"it", field="beam", value=self.beam)
        skip_eos = vocab.options.level == "char" and vocab.options.resolved_unit != "line"
        stops = [_stop_ids(vocab, text, skip_eos) for text in self.stop]
        starts = np.cumsum([0] + [len(ids) for ids in stops])
        longest = int(max((len(ids) for ids in stops), default=0))
        window = self.repetition_window if self.repetition_penalty != 1.0 else 0
        return Controls(np.array(banned, np.int64), np.concatenate([np.zeros(0, np.int64)] + stops), starts, longest,
                        skip_eos, float(self.repetition_penalty), window, self.no_repeat_ngram or 0)


class Controls(NamedTuple):
    """SamplingOptions for one vocabulary, as arrays: the ids never drawn; the stop strings as
    ids, stop s being stops[starts[s]:starts[s + 1]], the longest of `longest`; whether </s>
    reads as no text (char level without line units), which a stop's match skips; the penalty
    and its window (0: off); the n of no_repeat_ngram (0: off)."""
    banned: np.ndarray
    stops: np.ndarray
    starts: np.ndarray
    longest: int
    skip_eos: bool
    penalty: float
    window: int
    ngram: int

    @property
    def ring(self):
        """The history a sample keeps (seqkit.generation.rows): enough for the penalty's window and
        a stop's match (twice the longest, for the </s> it may skip); 0 when nothing looks back.
        With ngram the whole sample is kept instead (the sampler grows it)."""
        return max(self.window, 2 * self.longest + 2 if self.longest else 0)


def check_label(vocab, label):
    """The id of `label` in vocab, or an OptionError listing the labels there are."""
    if label in vocab.labels:
        return vocab.labels[label]
    if not vocab.labels:
        raise OptionError(f"{option('label')} {label!r}: this model was trained without labels (train with "
                          f"{option('label_from')} to condition on them)", field="label", value=label)
    raise OptionError(f"unknown {option('label')} {label!r}: the model's labels are {', '.join(sorted(vocab.labels))}",
                      field="label", value=label)


def bans_only(banned):
    """Controls that ban the ids `banned` and do nothing else."""
    return Controls(np.asarray(banned, np.int64), np.zeros(0, np.int64), np.zeros(1, np.int64), 0, False, 1.0, 0, 0)


def tokens_of(vocab, text):
    """The ids of `text` as one continuous run of a sample: the run's tokens, each "\\n" that
    ends a line as </s> where the unit is the line (a blank line at word level with paragraphs),
    no <s>; None where the vocabulary lacks one of its tokens."""
    unit, words = vocab.options.resolved_unit, vocab.options.level == "word"
    breaker = "\n" if unit == "line" else PARAGRAPH_BREAK if words and unit == "paragraph" else None
    pieces = [text] if breaker is None else (text.split(breaker) if isinstance(breaker, str) else
                                             breaker.split(text))
    ids = []
    for k, piece in enumerate(pieces):
        if k:
            ids.append(EOS_ID)
        ids.extend(i for i in vocab.encode(piece, frame=False).tolist() if i != BOS_ID)
    return None if UNK_ID in ids else ids


def _one_token(vocab, text):
    if text in vocab.index:
        return vocab.index[text]
    ids = tokens_of(vocab, text)
    if ids is None or len(ids) != 1:
        what = "a token the vocabulary lacks" if ids is None else f"{len(ids)} tokens"
        raise OptionError(f"{option('ban')} {text!r} is not one token of the vocabulary (it reads as {what}): ban "
                          f"one {'word' if vocab.options.level == 'word' else 'character'} at a time", field="ban",
                          value=text)
    return ids[0]


def _stop_ids(vocab, text, skip_eos):
    ids = tokens_of(vocab, text)
    if ids is not None and skip_eos:  # </s> reads as no text here: a match skips it
        ids = [i for i in ids if i != EOS_ID]
    if not ids:
        why = "a token the vocabulary lacks, so it is never drawn" if ids is None else "no token"
        raise OptionError(f"{option('stop')} {text!r} holds {why}: give text the model can write", field="stop",
                          value=text)
    return np.array(ids, np.int64)

