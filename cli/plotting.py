"""`seqkit plot`: the loss curves of one or more runs, as an image or in the terminal."""
import importlib.util
import shutil
import sys

import click

from seqkit.cli.common import RUNTIME_ERRORS, fail
from seqkit.runs.curves import FORMATS, CurvesError, read_curves, save_figure, terminal_plot

CURVES = "curves.png"  # what train --plot writes into the run directory
MATPLOTLIB_MISSING = 'drawing an image needs matplotlib: pip install "seqkit[plot]" (without -o, the plot is drawn here)'


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help=f"Write the plot to this image ({', '.join('.' + f for f in FORMATS)}; needs seqkit[plot]). "
                   "[default: draw it in the terminal]")
def plot(runs, output):
    """Training and validation loss of RUNS against steps and against seconds of training."""
    try:
        curves = [read_curves(run) for run in runs]
        if output:
            save_image(curves, output)
            click.echo(f"wrote {output}", err=True)
        else:
            width, height = shutil.get_terminal_size((120, 30))
            click.echo(terminal_plot(curves, width, max(height - 2, 15), colour=sys.stdout.isatty()))
    except (CurvesError, *RUNTIME_ERRORS) as error:
        fail(error)


def save_image(curves, output):
    """save_figure, with a missing matplotlib said in one line."""
    if not has_matplotlib():
        raise CurvesError(MATPLOTLIB_MISSING)
    save_figure(curves, output)


def has_matplotlib():
    return importlib.util.find_spec("matplotlib") is not None
