"""Progress while tokenizing and training: a bar on a terminal, and a line every few seconds
otherwise (a log file, a pipe, a batch job), so that a watched log shows more than the word
"training"; and what the start says of the corpus."""
import sys
import time

import click

from seqkit.text.batching import count_chunks

LINE_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal


def run_with_progress(trainer, on_eval, stop_requested):
    """trainer.run, showing its progress on stderr; returns run's outcome."""
    if not sys.stderr.isatty():
        return trainer.run(ProgressLines(trainer), on_eval, stop_requested)
    c = trainer.config
    per_epoch = count_chunks(len(trainer.train_streams), c.seq_len)
    step_limits = [n for n in (c.steps, c.epochs and c.epochs * per_epoch) if n]
    # Steps when a step or epoch limit is set; otherwise (--time alone) seconds.
    length = min(step_limits) - trainer.step if step_limits else round(c.minutes * 60)
    began = time.monotonic()
    with click.progressbar(length=max(length, 0), file=sys.stderr, label="training",
                           show_pos=True, item_show_func=lambda text: text) as bar:
        def on_step(t, loss, tokens_per_s):
            done = 1 if step_limits else int(time.monotonic() - began) - bar.pos
            bar.update(done, f"loss {loss:.3f}  {tokens_per_s:,.0f} tok/s")

        return trainer.run(on_step, on_eval, stop_requested)


class ProgressLines:
    """on_step for Trainer.run that writes 'step 1,200  36%  loss 1.873  52,310 tok/s  ETA 0:02:10'
    every LINE_EVERY seconds; the share and the ETA follow the nearest stopping rule."""

    def __init__(self, trainer):
        self.began, self.start_share = time.monotonic(), trainer.progress()
        self.last = self.began

    def __call__(self, trainer, loss, tokens_per_s):
        now = time.monotonic()
        if now - self.last < LINE_EVERY:
            return
        self.last = now
        share = min(trainer.progress(), 1.0)
        line = f"step {trainer.step:,}  {100 * share:.0f}%  loss {loss:.3f}  {tokens_per_s:,.0f} tok/s"
        if share > self.start_share:
            left = (now - self.began) * (1 - share) / (share - self.start_share)
            line += f"  ETA {int(left) // 3600}:{int(left) // 60 % 60:02d}:{int(left) % 60:02d}"
        click.echo(line, err=True)


SHOW_FROM = 16 << 20  # corpora of fewer bytes are read without a progress line


class Reading:
    """progress(what, done, total) for Trainer.start and resume while the corpus is read: on a
    terminal one line rewritten in place (what, MB done of total, MB/s), else a line every
    LINE_EVERY seconds; nothing for a corpus under SHOW_FROM bytes."""

    def __init__(self):
        self.shown, self.last, self.what = False, 0.0, None
        self.began = self.called = time.monotonic()  # when the phase began; when progress was last called

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.shown and sys.stderr.isatty():
            click.echo("", err=True)

    def __call__(self, what, done, total):
        if total < SHOW_FROM:
            return
        now, called = time.monotonic(), self.called
        self.called = now
        if what != self.what:  # a phase begins where the last one ended
            self.what, self.began = what, called
        terminal = sys.stderr.isatty()
        if now - self.last < (0.2 if terminal else LINE_EVERY) and done < total:
            return
        self.last, self.shown = now, True
        rate = done / 1e6 / max(now - self.began, 1e-9)
        line = f"{what} {done / 1e6:,.0f}/{total / 1e6:,.0f} MB  {100 * done / max(total, 1):.0f}%  {rate:,.0f} MB/s"
        if terminal:
            click.echo(f"\r{line}   ", err=True, nl=False)
        else:
            click.echo(line, err=True)


def corpus_name(trainer):
    """The corpus as the start names it: its file, or how many files where."""
    files, paths = trainer.tokens.files, trainer.config.corpus
    if len(files) == 1:
        return files[0]["path"]
    where = paths if isinstance(paths, str) else ", ".join(paths[:3]) + (" ..." if len(paths) > 3 else "")
    return f"{len(files):,} files in {where}"


def say_corpus(trainer):
    """What the start says of the corpus before training: files skipped, a token file that was
    replaced, where the ids are mapped from."""
    if not trainer.writes:
        return
    tokens = trainer.tokens
    for note in tokens.notes:
        click.echo(f"note: {note}", err=True)
    if trainer.skipped:
        click.echo(f"skipped {trainer.skipped:,} files under the corpus's folders: hidden, not regular files or not "
                   f"text", err=True)
    if tokens.mapped:
        size = tokens.ids.nbytes / 1e6
        click.echo(f"tokens: {len(tokens.ids):,} ({size:,.0f} MB) mapped from {tokens.path}"
                   + (", tokenized before" if tokens.cached else ""), err=True)
