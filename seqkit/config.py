"""The training configuration: one frozen dataclass, validated once, saved with every run
(config.json), so that sampling and --resume read the architecture from the run, never from
flags. It is the one source of the defaults and of the policy behind them: the CLI reads its
option defaults from here, and a TrainConfig built in Python trains the run the same options
give in the shell. Fields left to policy are resolved when the config is made, so config.json
records what ran: `embed` AUTO (an embedding of `hidden` at word level, of CHAR_EMBED at char
level), `dropout` None (WORD_DROPOUT at word level, CHAR_DROPOUT at char level), `epochs` None
(EPOCHS when no other stopping rule is given: `--time 10` trains ten minutes), `seed` None
(drawn at random), `lr_schedule` None (step if lr_decay_every is set, epoch if lr_decay_after
is, else cosine), and `corpus` made absolute (each of its paths, when it is several).

The defaults are those that reached the lowest held-out loss per CPU-minute in bench/quality.py
(docs/quality.md): small batches of short sequences at a high rate, warmed up
and decayed along a cosine over the run, an embedding at char level too; a little dropout at
char level and Zaremba et al.'s (2014) 0.5 at word level, where a corpus holds far fewer tokens
and a few minutes pass over it dozens of times.
"""
import codecs
import dataclasses
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqkit import cells
from seqkit._checks import check_field_types, is_count
from seqkit.errors import OptionError, option
from seqkit.nn.init import SCHEMES
from seqkit.optim.optimizers import OPTIMIZERS
from seqkit.optim.schedules import SCHEDULES
from seqkit.text.options import TextOptions

ENCODING_ERRORS = ("strict", "replace", "ignore")
DTYPES = ("float32", "float64")
AUTO = "auto"  # embed: decided by the level (see the module docstring)
EPOCHS = 10  # a run given no stopping rule stops after this many epochs
MAX_EVAL_SAMPLE = 100_000  # tokens of the sample at each evaluation, at most: longer ones are seqkit sample's
CHAR_EMBED = 64  # the char-level embedding: N(0, 1) rows learn faster than one-hot input
CHAR_DROPOUT, WORD_DROPOUT = 0.1, 0.5  # the dropout by level (docs/quality.md)
# The fields the policy derives from others, unresolved.
DERIVED = {"embed": AUTO, "dropout": None, "lr_schedule": None, "epochs": None}
# Fields added since 0.1.0 whose defaults change a run, with the values that runs saved
# without them trained with.
BEFORE = {"val_blocks": 1, "warmup": 0, "start_state": False}


@dataclass(frozen=True)
class TrainConfig:
    # Data
    corpus: str | tuple | None = None  # the training text: a file, a directory, a pattern, or a tuple of
                                       # them (each file a document); None: the shipped tiny-shakespeare
    encoding: str = "utf-8"            # text encoding of the corpus and of --val-file
    encoding_errors: str = "strict"    # strict | replace | ignore: bytes not valid in that encoding
    text: TextOptions = TextOptions()  # tokenization: level, graphemes, unit, vocabulary caps
    val_fraction: float = 0.05         # the fraction of the corpus held out for validation
    val_blocks: int = 10               # from the end of each of this many equal spans (1: the tail)
    val_file: str | None = None        # a separate validation text instead (val_fraction unused)
    # Model
    cell: str = "lstm"                 # a registered cell: rnn | lstm | gru | plug-ins
    nonlinearity: str = "tanh"         # tanh | relu, for cell rnn
    layers: int = 2                    # stacked recurrent layers
    hidden: int = 256                  # hidden state size H of every layer
    embed: int | None | str = AUTO     # embedding size E; None: one-hot input; auto: by level
    dropout: float | None = None       # on every recurrent layer's output, in training; None: by level
    input_dropout: float = 0.0         # on the embedded input, in training (needs an embedding)
    variational: bool = False          # one dropout mask per sequence, the same at every step
    tie_weights: bool = False          # the output layer's weight is the embedding's (embed = hidden)
    init: str = "uniform"              # uniform (PyTorch's) | xavier (Xavier + orthogonal)
    init_scale: float | None = None    # every parameter from U(-init_scale, init_scale); None: each layer's own
    forget_bias: float | None = None   # LSTM forget-gate bias at initialisation; None: the init's
    dtype: str = "float32"             # float32 | float64
    # Optimisation
    optimizer: str = "adam"            # sgd | momentum | nesterov | adagrad | rmsprop | adam
    lr: float = 4e-3                   # learning rate
    momentum: float = 0.9              # momentum and nesterov
    alpha: float = 0.99                # rmsprop's smoothing constant
    beta1: float = 0.9                 # adam
    beta2: float = 0.999               # adam
    eps: float = 1e-8                  # adagrad, rmsprop, adam
    weight_decay: float = 0.0          # L2 penalty added to the gradients
    lr_schedule: str | None = None     # constant | step | epoch | plateau | cosine; None: step if
                                       # lr_decay_every, epoch if lr_decay_after, else cosine
    lr_decay: float = 0.5              # factor of each decay (step, plateau)
    lr_decay_every: int = 0            # step schedule: decay every this many steps
    patience: int = 0                  # plateau: evaluations without improvement tolerated
    lr_decay_after: int = 0            # epoch: epochs at the full rate before decaying each epoch
    lr_floor: float = 0.1              # cosine: the rate at the end, as a fraction of lr
    warmup: int = 100                  # steps of linear warm-up at the start, any schedule
    clip: float = 5.0                  # clip gradients to this global norm; 0: off
    clip_value: float | None = None    # also clamp each gradient element to +-this
    batch_size: int = 16               # parallel streams B
    seq_len: int = 64                  # truncated BPTT length T
    # Stopping, evaluation, reproducibility
    epochs: int | None = None          # stop after this many passes over the training text; None:
                                       # EPOCHS, or no limit when steps or minutes is set
    steps: int | None = None           # or after this many updates
    minutes: float | None = None       # or after this much wall-clock time in one invocation
    stop_patience: int | None = None   # or after this many evaluations without a better validation loss
    eval_every: int = 200              # evaluate, sample and checkpoint every this many steps
    sample_length: int = 200           # tokens of the sample shown at each evaluation
    seed: int | None = None            # seeds initialisation, dropout and samples; None: drawn
    start_state: bool = True           # record in each checkpoint the mean state after </s>, that
                                       # samples and scores start from (off in runs written before)
    # The DERIVED fields the policy filled in, so that replace() derives them again.
    _derived: frozenset = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self):
        for f in dataclasses.fields(self):  # numpy scalars as Python numbers, for config.json
            value = getattr(self, f.name)
            if isinstance(value, (np.integer, np.floating)):
                object.__setattr__(self, f.name, value.item())
        if isinstance(self.corpus, (list, tuple)):  # config.json holds several paths as a list
            object.__setattr__(self, "corpus", tuple(str(p) for p in self.corpus) or None)
        check_field_types(self)
        self._resolve_policy()
        positive = ["val_blocks", "layers", "hidden", "batch_size", "seq_len", "eval_every"]
        for name in positive + ["embed", "epochs", "steps", "stop_patience"]:
            value = getattr(self, name)
            if (value is not None or name in positive) and not is_count(value):
                raise OptionError(f"{option(name)} must be a positive integer, got {value!r}", field=name, value=value)
        if not is_count(self.seed, 0):
            raise OptionError(f"{option('seed')} must be a non-negative integer or None, got {self.seed!r}",
                              field="seed", value=self.seed)
        choices = {"cell": cells.names(), "nonlinearity": cells.option_choices("nonlinearity"),
                   "init": SCHEMES, "dtype": DTYPES, "optimizer": OPTIMIZERS, "lr_schedule": SCHEDULES,
                   "encoding_errors": ENCODING_ERRORS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise OptionError(f"{option(name)} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}",
                                  field=name, value=getattr(self, name))
        checks = [
            ("dropout", 0 <= self.dropout < 1, "in [0, 1)"),
            ("input_dropout", 0 <= self.input_dropout < 1, "in [0, 1)"),
            ("input_dropout", self.input_dropout == 0 or self.embed is not None, "0 with one-hot input"),
            ("tie_weights", not self.tie_weights or self.embed == self.hidden,
             f"off unless the embedding size equals {option('hidden')}"),
            ("init_scale", self.init_scale is None or self.init_scale > 0, "positive"),
            ("val_fraction", 0 < self.val_fraction < 1 or self.val_file is not None, "in (0, 1)"),
            ("lr", self.lr > 0, "positive"),
            ("weight_decay", self.weight_decay >= 0, "zero or positive"),
            ("lr_decay", 0 < self.lr_decay <= 1, "in (0, 1]"),
            ("lr_decay_every", self.lr_decay_every > 0 or self.lr_schedule != "step",
             "a positive number of steps with the step schedule"),
            ("patience", self.patience >= 0, "zero or positive"),
            ("lr_decay_after", is_count(self.lr_decay_after, 0), "zero or a positive number of epochs"),
            ("lr_floor", 0 <= self.lr_floor <= 1, "in [0, 1]"),
            ("warmup", is_count(self.warmup, 0), "zero or a positive number of steps"),
            ("clip", self.clip >= 0, "zero (off) or positive"),
            ("clip_value", self.clip_value is None or self.clip_value > 0, "positive"),
            ("minutes", self.minutes is None or self.minutes > 0, "positive"),
            ("sample_length", 0 <= self.sample_length <= MAX_EVAL_SAMPLE, f"from 0 to {MAX_EVAL_SAMPLE:,}"),
            ("encoding", _known_encoding(self.encoding), "a text encoding Python knows, such as utf-8 or latin-1"),
            ("momentum", math.isfinite(self.momentum) and self.momentum >= 0, "zero or positive"),
            ("alpha", math.isfinite(self.alpha) and self.alpha >= 0, "zero or positive"),
            ("eps", math.isfinite(self.eps) and self.eps >= 0, "zero or positive"),
            ("beta1", 0 <= self.beta1 < 1, "in [0, 1)"),
            ("beta2", 0 <= self.beta2 < 1, "in [0, 1)"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise OptionError(f"{option(name)} must be {expected}, got {getattr(self, name)!r}", field=name,
                                  value=getattr(self, name))

    def _resolve_policy(self):
        """Fill in the fields left to policy (see the module docstring), in place, once."""
        resolved = {}
        if self.embed == AUTO:
            resolved["embed"] = self.hidden if self.text.level == "word" else CHAR_EMBED
        if self.dropout is None:
            resolved["dropout"] = WORD_DROPOUT if self.text.level == "word" else CHAR_DROPOUT
        if self.epochs is None and self.steps is None and self.minutes is None:
            resolved["epochs"] = EPOCHS
        if self.seed is None:
            resolved["seed"] = random.SystemRandom().randrange(2 ** 31)
        if self.lr_schedule is None:
            resolved["lr_schedule"] = ("step" if self.lr_decay_every else "epoch" if self.lr_decay_after
                                       else "cosine")
        if isinstance(self.corpus, str) and not Path(self.corpus).is_absolute():
            resolved["corpus"] = str(Path(self.corpus).resolve())
        elif isinstance(self.corpus, tuple) and not all(Path(p).is_absolute() for p in self.corpus):
            resolved["corpus"] = tuple(str(Path(p).resolve()) for p in self.corpus)
        for name, value in resolved.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_derived", frozenset(resolved) & set(DERIVED))

    def model_options(self, vocab_size):
        """The keyword arguments of seqkit.Model for this configuration."""
        return dict(vocab_size=vocab_size, hidden_size=self.hidden, num_layers=self.layers,
                    cell=self.cell, embed_size=self.embed, dropout=self.dropout, dtype=self.dtype,
                    init=self.init, input_dropout=self.input_dropout, variational=self.variational,
                    tie_weights=self.tie_weights, init_scale=self.init_scale,
                    forget_bias=self.forget_bias, nonlinearity=self.nonlinearity)

    def to_dict(self):
        """A JSON-able dict of every option as resolved; from_dict reverses it."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        d["text"] = self.text.to_dict()
        return d

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        d["text"] = TextOptions.from_dict(d["text"])
        d = {**BEFORE, **d}
        unknown = set(d) - {f.name for f in dataclasses.fields(cls) if f.init}
        if unknown:
            raise OptionError(f"unknown configuration fields: {', '.join(sorted(unknown))}", field=min(unknown))
        return cls(**d)

    def replace(self, **changes):
        """A copy with `changes`; the fields the policy derived are derived again from the new
        values (a word-level copy gets its embedding), unless `changes` sets them."""
        underived = {name: DERIVED[name] for name in self._derived if name not in changes}
        return dataclasses.replace(self, **underived, **changes)


def _known_encoding(name):
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True
