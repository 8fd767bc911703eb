"""What test files import (conftest.py builds the shared fixtures from it too; nothing imports
conftest): the shipped text cut to size, the options of the shared runs and of the specialised
ones, every way of cutting text into units, the command through click's CliRunner, copies of
runs, a run's saved arrays, a small TrainConfig, a show page's data, and a state dict written as
a PyTorch user writes one."""
import functools
import json
import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from seqkit.config import TrainConfig
from seqkit.corpora import path as shipped_corpus
from seqkit.runs.checkpoint import load_arrays
from seqkit.runs.directory import LATEST
from seqkit.text.options import TextOptions

# The shared corpus (conftest's `corpus`) is this many characters of tiny-shakespeare: enough for a
# word-level run, and for 16 streams of 16 characters to cross an epoch boundary within 17 steps.
CORPUS_CHARACTERS = 3000

# The shared runs (conftest's `char_run` and `word_run`): a tiny LSTM, RUN_STEPS steps, an
# evaluation (and so a best.npz) every RUN_EVAL_EVERY.
RUN_STEPS, RUN_EVAL_EVERY = 6, 3
RUN_OPTIONS = ["--hidden", "16", "--layers", "1", "--batch-size", "4", "--seq-len", "16", "--steps", str(RUN_STEPS),
               "--eval-every", str(RUN_EVAL_EVERY), "--sample-length", "0", "--seed", "0"]

# A corpus to fine-tune on: 60 of its tokens (zebras, quaggas) are not in the shared corpus.
FINE_TUNING_TEXT = "First Citizen : zebras and quaggas speak .\n" * 30

# The runs of conftest's architecture_runs: each writes a state dict of its own names, shapes or dtype.
ARCHITECTURES = {
    "lstm32": dict(cell="lstm", layers=2, hidden=16, embed=8, dtype="float32"),
    "lstm64": dict(cell="lstm", layers=2, hidden=16, embed=8, dtype="float64"),
    "gru_one_hot": dict(cell="gru", layers=2, hidden=12, embed=None, dtype="float32"),
    "rnn_relu64": dict(cell="rnn", nonlinearity="relu", layers=1, hidden=10, embed=6, dtype="float64"),
    "word_tied": dict(cell="lstm", layers=1, hidden=16, embed=16, tie_weights=True, dtype="float32",
                      text=TextOptions(level="word")),
}

# Each way of cutting text into tokens and units: char level by line (the default), document,
# paragraph and grapheme; word level by line (its default) and paragraph; pre-tokenized words.
UNITS = [TextOptions(), TextOptions(unit="document"), TextOptions(unit="paragraph"), TextOptions(graphemes=True),
         TextOptions(level="word"), TextOptions(level="word", unit="paragraph"),
         TextOptions(level="word", tokenize="whitespace", lowercase=True)]


@functools.cache
def shakespeare(characters=CORPUS_CHARACTERS):
    """The first `characters` characters of the shipped tiny-shakespeare."""
    return shipped_corpus().read_text()[:characters]


def invoke(*args, **kwargs):
    """`seqkit ARGS` through click's CliRunner, each argument made a string."""
    from seqkit.cli.main import main
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


def copied_run(run, where):
    """A copy of the run directory `run` in the directory `where`: what a test changes instead of a
    shared run, which every test reads."""
    copy = Path(where) / Path(run).name
    shutil.copytree(run, copy)
    return copy


def model_arrays(run_dir):
    """The arrays of a run's latest checkpoint but the carried states, and its meta."""
    arrays, meta = load_arrays(Path(run_dir) / LATEST)
    return {k: v for k, v in arrays.items() if not k.startswith("state.")}, meta


def small_config(corpus, **changes):
    """A TrainConfig of two small layers with dropout, carried state and a plateau schedule."""
    options = dict(corpus=str(corpus), hidden=24, layers=2, batch_size=4, seq_len=16, eval_every=5,
                   sample_length=10, seed=3, dropout=0.2, lr_schedule="plateau", patience=0, warmup=0)
    options.update(changes)
    return TrainConfig(**options)


def page_data(document):
    """The data a page of seqkit show carries, from its JSON script element."""
    blob = re.search(r'<script type="application/json" id="data">(.*?)</script>', document, re.S).group(1)
    return json.loads(blob.replace("<\\/", "</"))


def hand_written(lm, path, **metadata):
    """lm's weights under PyTorch's names as a user's numpy/safetensors script writes them."""
    from safetensors.numpy import save_file
    save_file({name: array.copy() for name, array in lm.model.state_dict().items()}, str(path),
              metadata=metadata or None)
