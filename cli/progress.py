"""Progress while training: a bar on a terminal, and a line every few seconds otherwise (a log
file, a pipe, a batch job), so that a watched log shows more than the word "training"."""
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
