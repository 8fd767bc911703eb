"""The fixtures every folder of tests/ shares (the helpers tests import are in shared.py and
variants.py, never here):

- `variant`: each cell variant in turn (variants.CELL_VARIANTS).
- `corpus`: THE corpus, shared.shakespeare() as a file, for every test whose text may be any text.
- `char_run`, `word_run`: THE small trained run of each level, trained once on `corpus`.
- `text_file`: a factory of other texts, for the few tests that need a size or content of their own
  (each says why where it calls it).
- `show_corpus` and `show_runs`, `architecture_runs`: the specialised runs that the library's tests
  and the command's tests of seqkit show and of seqkit export / import both read.
- `token_cache` (used by every test, and seen by the processes they start): SEQKIT_CACHE_DIR set
  to a folder of the session's, so that no token file lands in the user's cache.

Session fixtures are read only: a test that changes a file or a run works on a copy of it
(shared.copied_run(run, tmp_path))."""
import os

if os.environ.get("PYTEST_XDIST_WORKER"):  # pytest -n 2: one core each, or BLAS threads spin against the other worker
    for _name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "SEQKIT_THREADS"):
        os.environ.setdefault(_name, "1")

import pytest
from shared import ARCHITECTURES, RUN_OPTIONS, invoke, shakespeare
from variants import CELL_VARIANTS

from seqkit.config import TrainConfig
from seqkit.training.trainer import Trainer


@pytest.fixture(scope="session", autouse=True)
def token_cache(tmp_path_factory):
    """The token cache of the session (seqkit.runs.tokenfile.cache_dir), in the environment."""
    folder = tmp_path_factory.mktemp("cache")
    before = os.environ.get("SEQKIT_CACHE_DIR")
    os.environ["SEQKIT_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        del os.environ["SEQKIT_CACHE_DIR"]
    else:
        os.environ["SEQKIT_CACHE_DIR"] = before


@pytest.fixture(params=list(CELL_VARIANTS))
def variant(request):
    """The name of a cell variant; the tests using it run once for each."""
    return request.param


@pytest.fixture(scope="session")
def text_file(tmp_path_factory):
    """text_file(characters, extra="", name="text.txt"): a new file holding the first `characters`
    characters of the shipped corpus, then `extra`."""
    def make(characters, extra="", name="text.txt"):
        path = tmp_path_factory.mktemp("text") / name
        path.write_text(shakespeare(characters) + extra)
        return path
    return make


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """The shared corpus, tiny.txt: the first shared.CORPUS_CHARACTERS characters of tiny-shakespeare."""
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text(shakespeare())
    return path


def train_shared_run(tmp_path_factory, corpus, level):
    """seqkit train with shared.RUN_OPTIONS, into ROOT/runs/LEVEL: alone under a runs/ directory, as
    the commands' default run (the latest under ./runs) finds it from ROOT."""
    run = tmp_path_factory.mktemp(f"{level}_run") / "runs" / level
    result = invoke("train", corpus, "-o", run, "--level", level, *RUN_OPTIONS)
    assert result.exit_code == 0, result.output
    return run


@pytest.fixture(scope="session")
def char_run(tmp_path_factory, corpus):
    """The shared char-level run (lines framed by <s> and </s>), trained once: read only."""
    return train_shared_run(tmp_path_factory, corpus, "char")


@pytest.fixture(scope="session")
def word_run(tmp_path_factory, corpus):
    """The shared word-level run (lines framed by <s> and </s>), trained once: read only."""
    return train_shared_run(tmp_path_factory, corpus, "word")


# --- seqkit show: its library's tests (tests/generation) and its command's (tests/cli) ----------------
SHOW_EXTRA = 'He said "stop (now) [or never]" and left.\n  \'Tis done, \u201cquite\u201d.\n'
SHOW_TRAINING = ["--hidden", "8", "--layers", "1", "--steps", "5", "--sample-length", "0", "--batch-size", "4",
                 "--seq-len", "8", "--seed", "0", "--eval-every", "1000"]
SHOW_RUNS = {"char": ["--cell", "lstm"], "word": ["--level", "word", "--cell", "gru"],
             "char-lstm-2": ["--cell", "lstm", "--layers", "2", "--embed", "6"],
             "word-lstm": ["--level", "word", "--cell", "lstm"]}


@pytest.fixture(scope="session")
def show_corpus(text_file):
    """A short text with quotes and brackets, which tiny-shakespeare lacks, for show's features."""
    return text_file(1500, SHOW_EXTRA)


@pytest.fixture(scope="session")
def show_runs(tmp_path_factory, show_corpus):
    """show_runs(name): a run of SHOW_RUNS trained on show_corpus (once, when first asked for):
    both levels, an LSTM's two states and a GRU's one, one layer and two."""
    made = {}

    def run(name):
        if name not in made:
            made[name] = tmp_path_factory.mktemp(name) / "run"
            result = invoke("train", show_corpus, "-o", made[name], *SHOW_TRAINING, *SHOW_RUNS[name])
            assert result.exit_code == 0, result.output
        return made[name]
    return run


# --- seqkit export / import: the library's (tests/runs) and the command's (tests/cli) -------------------
@pytest.fixture(scope="session")
def architecture_runs(tmp_path_factory, corpus):
    """A run of each of shared.ARCHITECTURES, trained two steps on `corpus`: {name: run directory}."""
    root = tmp_path_factory.mktemp("architectures")
    made = {}
    for name, options in ARCHITECTURES.items():
        config = TrainConfig(corpus=str(corpus), batch_size=2, seq_len=8, steps=2, eval_every=2, seed=0, sample_length=0,
                             **options)
        Trainer.start(config, root / name).run()
        made[name] = root / name
    return made
