"""`seqkit serve`: a trained model behind HTTP (seqkit.generation.serving), served by uvicorn."""
import ipaddress
import os
from pathlib import Path

import click

from seqkit.cli.common import POSITIVE, RUNTIME_ERRORS, fail, resolve_run
from seqkit.lm import load

TOKEN_VARIABLE = "SEQKIT_SERVE_TOKEN"
LOOPBACK_NAMES = ("localhost",)


def is_loopback(host):
    """Whether `host` is this machine only: localhost, 127.0.0.0/8, ::1."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(token_file):
    """The token from --token-file (its first line), else from SEQKIT_SERVE_TOKEN; None without either."""
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise click.UsageError(f"--token-file {token_file} cannot be read ({error}): give a readable text file") from None
        if not token:
            raise click.UsageError(f"--token-file {token_file} is empty: write the token in it")
        return token
    return os.environ.get(TOKEN_VARIABLE) or None


@click.command(name="serve")
@click.argument("run", required=False, type=click.Path(exists=True))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; one other than loopback needs a token (--token-file or SEQKIT_SERVE_TOKEN).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--best", is_flag=True, help="Serve the checkpoint with the best validation loss.")
@click.option("--token-file", type=click.Path(exists=True, dir_okay=False),
              help="A file holding the token every request must carry (Authorization: Bearer TOKEN). "
                   "[default: $SEQKIT_SERVE_TOKEN, else none]")
@click.option("--cors", multiple=True, metavar="ORIGIN",
              help="Let pages from ORIGIN (https://example.org) call the server (repeatable). [default: none]")
@click.option("--max-length", type=POSITIVE, default=100_000, show_default=True, help="Most tokens a sample may ask for.")
@click.option("--max-count", type=POSITIVE, default=64, show_default=True,
              help="Most samples a request may ask for (count, and best_of's and beam's N).")
@click.option("--max-queue", type=POSITIVE, default=64, show_default=True,
              help="Most requests served at once; past it, 503.")
@click.option("--max-body", type=POSITIVE, default=1 << 20, show_default=True, help="Most bytes of a request body.")
def serve(run, host, port, best, token_file, cors, max_length, max_count, max_queue, max_body):
    """Serve the model in RUN (as for sample; default: the latest run under ./runs) over HTTP:
    GET /health, GET /v1/model, POST /v1/sample (streamed as Server-Sent Events with "stream":
    true), POST /v1/score, and a page at / (docs/cli.md#serve)."""
    try:
        import uvicorn

        from seqkit.generation.serving import Limits, application
    except ImportError as error:
        raise click.ClickException(f'seqkit serve needs starlette and uvicorn ({error.name} is missing): '
                                   f'pip install "seqkit[serve]"') from None
    token = read_token(token_file)
    if not is_loopback(host) and not token:
        raise click.UsageError(f"--host {host} listens beyond this machine: give a token with --token-file FILE or "
                               f"{TOKEN_VARIABLE}, which every request must then carry")
    run = resolve_run(run, best)
    try:
        lm = load(run, best=best)
        lm.sample(length=1, seed=0)  # compiles (or loads) the sampler's kernels before the first request
    except RUNTIME_ERRORS as error:
        fail(error)
    app = application(lm, Limits(max_body, max_length, max_count, max_queue), token, tuple(cors))
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serving {lm.checkpoint} on http://{shown}:{port} "
               + ("(a token required: Authorization: Bearer TOKEN)" if token else
                  "(no token required: anyone who can reach the address may use it)"), err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
