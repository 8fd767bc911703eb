"""What the seqkit commands share: the errors they turn into one line, option types, and
finding the run a command reads."""
import math
from pathlib import Path

import click

from seqkit.checkpoint import CheckpointError
from seqkit.rundir import TrainingError, latest_run

RUNTIME_ERRORS = (ValueError, CheckpointError, TrainingError, OSError)
POSITIVE = click.IntRange(min=1)


class Finite(click.FloatRange):
    """click.FloatRange that also refuses nan and infinities, which pass its range checks."""

    def convert(self, value, param, ctx):
        return _finite(self, super().convert(value, param, ctx), value, param, ctx)


class FiniteFloat(click.types.FloatParamType):
    """Any finite float: Finite without bounds, whose help would show a range of None."""

    def convert(self, value, param, ctx):
        return _finite(self, super().convert(value, param, ctx), value, param, ctx)


def _finite(param_type, number, value, param, ctx):
    if not math.isfinite(number):
        param_type.fail(f"{value!r} is not a finite number.", param, ctx)
    return number


def fail(error):
    """Turn a library error into click's one-line 'Error: ...' and exit status 1."""
    raise click.ClickException(str(error)) from None


def resolve_run(run_dir, best=False):
    """DIR as given, or the most recently trained run under ./runs (said on stderr); --best
    with a checkpoint file is refused."""
    if run_dir and best and Path(run_dir).is_file():
        raise click.UsageError(f"--best picks best.npz in a run directory, but {run_dir} is a checkpoint file: "
                               f"drop --best, or give the run directory")
    if run_dir:
        return run_dir
    found = latest_run()
    if found is None:
        raise click.UsageError("no run directory given and none found under ./runs: train one with "
                               "`seqkit train` or name one")
    click.echo(f"using {found}", err=True)
    return found
