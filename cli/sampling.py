"""`seqkit sample`: text drawn from a trained model."""
import inspect

import click

from seqkit.lm import LanguageModel, load
from seqkit.sample import check_sampling_options
from seqkit.cli.common import POSITIVE, RUNTIME_ERRORS, fail, resolve_run

SAMPLE = {name: p.default for name, p in inspect.signature(LanguageModel.sample).parameters.items()}


@click.command()
@click.argument("run_dir", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--temperature", type=float, default=SAMPLE["temperature"], show_default=True,
              help="Divide the logits by this; 0 picks the most likely token.")
@click.option("--top-k", type=int, help="Draw only from the k most likely tokens.")
@click.option("--top-p", type=float, help="Draw only from the most likely tokens whose probability reaches p.")
@click.option("--length", type=click.IntRange(min=0), default=SAMPLE["length"], show_default=True,
              help="Tokens to draw.")
@click.option("--prime", default="", help="Text to warm the state on; the sample continues it.")
@click.option("--seed", type=click.IntRange(min=0), help="Seed for reproducible samples.")
@click.option("--count", type=POSITIVE, default=SAMPLE["count"], show_default=True, help="Independent samples.")
@click.option("--best", is_flag=True, help="Use the checkpoint with the best validation loss.")
@click.option("--allow-unk", is_flag=True, help="Word level: allow <unk> in the output.")
def sample(run_dir, temperature, top_k, top_p, length, prime, seed, count, best, allow_unk):
    """Print text drawn from the model in RUN_DIR (default: the latest run under ./runs)."""
    try:
        check_sampling_options(temperature, top_k, top_p)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    try:
        lm = load(resolve_run(run_dir), best=best)
        unknown = lm.vocab.unknown(prime)
        if unknown and lm.config.text.level == "word":
            click.echo("warning: the prime has words the vocabulary lacks, read as <unk>: "
                       + " ".join(unknown), err=True)
        samples = lm.sample(length, temperature, top_k, top_p, prime, count, seed, allow_unk)
    except RUNTIME_ERRORS as error:
        fail(error)
    click.echo("\n\n".join(samples))
