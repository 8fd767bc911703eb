"""`seqkit export RUN page.html` opened in headless Chromium: a URL fragment starts a sample, and
the page's argmax text (temperature 0, 200 tokens) is `seqkit sample --temperature 0 --length
200`'s for each cell: an LSTM with an embedding, a GRU and a tanh RNN with one-hot input, each
trained a few seconds, long enough that their argmax says something; and conftest's two-step
GRU of two layers, float64 RNN with relu and word-level LSTM with tied weights. A seeded sample
is the same every time, and none of it logs an error. The size limit refuses a model in one
line. Chromium's start is most of each test's time."""
import html
import json
import re
import subprocess
from urllib.parse import quote

import pytest
from browser import CHROMIUM, FLAGS, TIMEOUT, page_errors, require_chromium
from click.testing import CliRunner

from seqkit.cli.interop import export
from seqkit.cli.main import main
from seqkit.config import TrainConfig
from seqkit.generation import page
from seqkit.training.trainer import Trainer

TRAINED = {"lstm": dict(cell="lstm", layers=2, hidden=32, embed=16, steps=600, lr=0.01),
           "gru": dict(cell="gru", layers=1, hidden=48, embed=None, steps=400, lr=0.01),
           "rnn_tanh": dict(cell="rnn", layers=1, hidden=48, embed=None, steps=400, lr=0.005)}
PRIMES = {"lstm": "ROMEO:", "gru": "First Citizen:\nBe", "rnn_tanh": "ROMEO:", "gru_one_hot": "", "rnn_relu64": "ROMEO:",
          "word_tied": "the king"}


@pytest.fixture(scope="module", autouse=True)
def chromium():
    return require_chromium()


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory, corpus):
    """Runs trained long enough on `corpus` that the argmax continues a prime with words, not one
    character over and over."""
    root, made = tmp_path_factory.mktemp("page_runs"), {}
    for name, options in TRAINED.items():
        config = TrainConfig(corpus=str(corpus), batch_size=8, seq_len=32, eval_every=1000, seed=0, sample_length=0,
                             **options)
        Trainer.start(config, root / name).run()
        made[name] = root / name
    return made


def exported(run, where):
    out = where / "page.html"
    result = CliRunner().invoke(export, [str(run), str(out)])
    assert result.exit_code == 0, result.output
    return out


def opened(path, fragment, profile):
    """(the page's DOM after the fragment's sample, Chromium's log)."""
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=10000", "--dump-dom", f"{path.as_uri()}#{fragment}"],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert 'data-done="1"' in done.stdout, done.stdout[-2000:]
    assert re.search(r'<div id="errors"></div>', done.stdout), "the page reported an error"
    assert not page_errors(done.stderr), page_errors(done.stderr)
    return done.stdout


def result_text(dom):
    found = re.search(r'<div id="result">(.*?)</div>', dom, re.S).group(1)
    assert found, re.search(r'<div id="problem">(.*?)</div>', dom, re.S).group(1)
    return json.loads(html.unescape(found))


def argmax(run, prime):
    result = CliRunner().invoke(main, ["sample", str(run), "--temperature", "0", "--length", "200", "--prime", prime])
    assert result.exit_code == 0, result.output
    return result.stdout.removesuffix("\n")


@pytest.mark.parametrize("name", list(PRIMES))
def test_the_pages_argmax_is_the_commands(name, trained_runs, architecture_runs, tmp_path):
    run = trained_runs.get(name) or architecture_runs[name]
    path = exported(run, tmp_path)
    dom = opened(path, f"prime={quote(PRIMES[name])}&temperature=0&length=200", tmp_path / "profile")
    expected = argmax(run, PRIMES[name])
    assert result_text(dom) == expected
    if name in TRAINED:  # trained: its argmax writes more than one character over and over
        assert len(set(expected[len(PRIMES[name]):])) > 8, expected


def test_a_seeded_sample_is_the_same_every_time(trained_runs, tmp_path):
    path = exported(trained_runs["lstm"], tmp_path)
    fragment = "prime=ROMEO%3A&temperature=0.9&top_k=20&top_p=0.95&length=200&seed=7"
    first, again = (result_text(opened(path, fragment, tmp_path / f"p{k}")) for k in range(2))
    assert first == again and first.startswith("ROMEO:")
    assert first != argmax(trained_runs["lstm"], "ROMEO:")  # drawn, not the most likely each time


def test_a_prime_the_vocabulary_cannot_read_is_said_on_the_page(trained_runs, tmp_path):
    dom = opened(exported(trained_runs["gru"], tmp_path), "prime=JULIET&temperature=0", tmp_path / "profile")
    said = 'the prime has characters the vocabulary lacks: "J"; leave them out of the prime'
    assert re.search(r'<div id="problem">(.*?)</div>', dom, re.S).group(1) == html.escape(said, quote=False)
    assert re.search(r'<div id="result"></div>', dom)


def test_a_page_over_the_limit_is_refused_in_one_line(trained_runs, tmp_path, monkeypatch):
    monkeypatch.setattr(page, "MAX_PAGE_BYTES", 10_000)
    out = tmp_path / "page.html"
    result = CliRunner().invoke(export, [str(trained_runs["rnn_tanh"]), str(out)])
    assert result.exit_code == 1 and not out.exists()
    assert re.fullmatch(r"Error: the page would be [\d,]+ bytes, more than the 10,000 a page may hold: export a "
                        r"smaller model \(fewer --hidden units or layers, a smaller vocabulary\), or to a \.safetensors file\n",
                        result.output), result.output
