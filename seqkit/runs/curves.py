"""Loss curves of training runs, read from their metrics.jsonl, and drawn: to an image file with
matplotlib (the extra seqkit[plot]), or in the terminal with plotext.

Two panels: the training and validation loss against steps (the learning rate on an axis of
its own) and against seconds of training; each run in its own colour, named in the legend
with its key options, its best validation loss marked.
"""
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from seqkit.errors import SeqkitError
from seqkit.runs.checkpoint import atomic_write
from seqkit.runs.directory import METRICS, load_run_files
from seqkit.runs.metrics import read_metrics

FORMATS = ("png", "svg", "pdf")
SMOOTHING = 0.9  # the training loss is drawn as an exponential moving average with this factor


class CurvesError(SeqkitError, ValueError):
    """A run whose curves cannot be drawn; the message says why and what to do."""


@dataclass
class Curves:
    """One run's curves: per training step and per evaluation, its step, seconds and loss."""
    label: str
    steps: list = field(default_factory=list)
    loss: list = field(default_factory=list)  # smoothed
    lr: list = field(default_factory=list)
    seconds: list = field(default_factory=list)  # the steps that recorded their time (0.1.0's did not)
    timed_loss: list = field(default_factory=list)
    val_steps: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_seconds: list = field(default_factory=list)
    timed_val_loss: list = field(default_factory=list)

    @property
    def best(self):
        """(index into the val_ lists) of the lowest validation loss, or None."""
        return min(range(len(self.val_loss)), key=self.val_loss.__getitem__) if self.val_loss else None


def read_curves(run_dir):
    """The Curves of a run directory, named by its directory and key options."""
    run_dir = Path(run_dir)
    path = run_dir / METRICS
    if not path.is_file():
        raise CurvesError(f"{run_dir} has no {METRICS}: name a run directory that seqkit train wrote")
    config, _ = load_run_files(run_dir)
    curves = Curves(f"{run_dir.name} ({config.cell} {config.layers}x{config.hidden}, {config.text.level}, "
                    f"lr {config.lr:g})")
    average = None
    for record in read_metrics(run_dir):  # records without the numbers a curve needs are left out
        step, seconds = record.get("step"), record.get("seconds")
        if not _number(step):
            continue
        if record.get("kind") == "train" and _number(record.get("loss")) and _number(record.get("lr")):
            average = record["loss"] if average is None else SMOOTHING * average + (1 - SMOOTHING) * record["loss"]
            curves.steps.append(step)
            curves.loss.append(average)
            curves.lr.append(record["lr"])
            if _number(seconds):
                curves.seconds.append(seconds)
                curves.timed_loss.append(average)
        elif record.get("kind") == "eval" and _number(record.get("val_loss")):
            curves.val_steps.append(step)
            curves.val_loss.append(record["val_loss"])
            if _number(seconds):
                curves.val_seconds.append(seconds)
                curves.timed_val_loss.append(record["val_loss"])
    if not curves.steps and not curves.val_steps:
        raise CurvesError(f"{path} has no training steps yet: plot it once training has begun")
    return curves


def save_figure(runs, path):
    """Draw the curves of `runs` into the image file `path` (.png, .svg or .pdf), atomically."""
    suffix = Path(path).suffix.lstrip(".").lower()
    if suffix not in FORMATS:
        raise CurvesError(f"{path}: the image format comes from its extension, one of "
                          f"{', '.join('.' + f for f in FORMATS)}")
    os.environ.setdefault("MPLBACKEND", "Agg")  # no display needed
    from matplotlib.figure import Figure
    figure = Figure(figsize=(12, 4.5), layout="constrained")
    by_step, by_time = figure.subplots(1, 2)
    rates = by_step.twinx()
    for k, curves in enumerate(runs):
        colour = f"C{k}"
        by_step.plot(curves.steps, curves.loss, color=colour, linewidth=1, label=f"{curves.label}, training")
        by_step.plot(curves.val_steps, curves.val_loss, "o-", color=colour, markersize=3, label="validation")
        rates.plot(curves.steps, curves.lr, ":", color=colour, linewidth=1)
        by_time.plot(curves.seconds, curves.timed_loss, color=colour, linewidth=1)
        by_time.plot(curves.val_seconds, curves.timed_val_loss, "o-", color=colour, markersize=3)
        best = curves.best
        if best is not None:
            by_step.plot(curves.val_steps[best], curves.val_loss[best], "*", color=colour, markersize=14,
                         markeredgecolor="black")
            if curves.val_loss[best] in curves.timed_val_loss:
                at = curves.timed_val_loss.index(curves.val_loss[best])
                by_time.plot(curves.val_seconds[at], curves.val_loss[best], "*", color=colour, markersize=14,
                             markeredgecolor="black")
    by_step.set(xlabel="step", ylabel="loss (nats per token)", title="by step (dotted: learning rate)")
    rates.set_ylabel("learning rate")
    by_time.set(xlabel="seconds of training", ylabel="loss (nats per token)", title="by wall-clock time")
    by_step.legend(fontsize="small")
    atomic_write(path, lambda file: figure.savefig(file, format=suffix))


def terminal_plot(runs, width, height, colour=True):
    """The curves as text for a terminal (plotext): loss against steps and against seconds of
    training, validation points as stars; colour=False for plain text."""
    import plotext
    figure = plotext.figure
    figure.clear()
    figure.subplots(1, 2)
    figure.plot_size(width, height)
    panels = (("loss by step", "steps", "loss", "val_steps", "val_loss"),
              ("loss by seconds of training", "seconds", "timed_loss", "val_seconds", "timed_val_loss"))
    for column, (title, x, y, val_x, val_y) in enumerate(panels, 1):
        panel = figure.subplot(1, column)
        panel.title(title)
        for curves in runs:
            if getattr(curves, x):
                line = panel.signal(getattr(curves, x), getattr(curves, y))
                line.lines()
                if column == 1:
                    line.label(curves.label)
                panel.draw(line)
            if getattr(curves, val_x):
                panel.draw(panel.signal(getattr(curves, val_x), getattr(curves, val_y), marker="*"))
    text = figure.build()
    return text if colour else plotext.uncolorize(text)


def _number(value):
    """Whether value is a finite number (JSON's, not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
