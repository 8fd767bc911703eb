"""The `seqkit` command: a thin click layer over the seqkit library."""
import click

import seqkit


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(seqkit.__version__, prog_name="seqkit")
def main():
    """Recurrent language models (RNN, LSTM, GRU) compiled with Numba."""
