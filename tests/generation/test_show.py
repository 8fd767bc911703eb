"""seqkit show's page without a browser (seqkit.generation.show): the numbers on it are the
model's, the features are right, and the page is one self-contained file, for runs of both
levels, an LSTM's two states and a GRU's one, one layer and two (conftest's show_runs, trained on
show_corpus). The command: tests/cli/test_show.py; the page in a browser: test_show_browser.py."""
import base64
import html
import math
import re

import numpy as np
import pytest
from shared import page_data

from seqkit.generation.show import FEATURES, activations, compute, features, page, token_pieces
from seqkit.lm import load
from seqkit.text.options import BOS_ID


@pytest.fixture(params=["char", "word", "char-lstm-2"])
def run(request, show_runs):
    return show_runs(request.param)


def forward_states(model, ids):
    """Each layer's state arrays (S, T, H) from Model.forward's cache, for checking."""
    _, _, cache = model.forward(ids[:-1, None], ids[1:, None], gradients=True)
    out = []
    for layer_cache in cache.layer_caches:
        states = layer_cache[0] if layer_cache[0].ndim == 4 else layer_cache[1][0]
        out.append(np.array(states[:, 1:, 0, :]))
    return out


def test_activations_are_model_forwards_states(run, show_corpus):
    lm = load(run)
    ids = lm.vocab.encode(show_corpus.read_text()).astype(np.int64)
    layers, top = activations(lm.model, ids[:-1])
    expected = forward_states(lm.model, ids)
    assert len(layers) == len(expected) == len(lm.model.layers)
    for got, want in zip(layers, expected):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(top, expected[-1][0], rtol=1e-5, atol=1e-6)
    assert layers[0].shape[0] == (2 if lm.config.cell == "lstm" else 1)  # an LSTM's h and c, else h


def test_bits_are_minus_log2_of_the_models_probabilities(run, show_corpus):
    lm = load(run)
    text = show_corpus.read_text()
    result = compute(lm, text)
    ids = result["ids"]
    state, probabilities = None, []
    for t in range(40):
        logits, state = lm.model.step(ids[t:t + 1], state)
        z = logits[0].astype(np.float64)
        p = np.exp(z - z.max())
        probabilities.append(p / p.sum())
    for t in range(1, 40):
        p = probabilities[t - 1]
        if ids[t] == BOS_ID:
            assert math.isnan(result["bits"][t])
            continue
        assert result["bits"][t] == pytest.approx(-math.log2(p[ids[t]]), rel=1e-4, abs=1e-5)
        top = np.argsort(-p)[:5]
        assert list(result["predictions"][t - 1]) == list(top)
        np.testing.assert_allclose(result["probabilities"][t - 1], p[top], rtol=1e-4)
    # and the mean over the whole text is the loss Model.forward gives
    all_ids = lm.vocab.encode(text).astype(np.int64)
    loss, _, _ = lm.model.forward(all_ids[:-2, None], all_ids[1:-1, None], ignore_index=BOS_ID, gradients=False)
    bits = result["bits"][1:]
    assert np.nanmean(bits) == pytest.approx(loss / math.log(2), rel=1e-4)


def test_features_on_a_hand_example():
    pieces = list('a "bc" (d)\nxy \'t\'') + ["\n"]
    f = features(pieces)
    assert set(f) == set(FEATURES)
    #            a  _  "  b  c  "  _  (  d  )  \n x  y  _  '  t  '  \n
    quote = [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0]
    bracket = [0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    position = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1, 2, 3, 4, 5, 6, 0]
    word_start = [1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0]
    soon = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0]  # a break in the next 5 tokens
    assert f["quote"].tolist() == quote
    assert f["bracket"].tolist() == bracket
    assert f["line_position"].tolist() == position
    assert f["word_start"].tolist() == word_start
    assert f["line_break_soon"].tolist() == soon


def test_an_apostrophe_opens_no_quote():
    f = features(list("don't go"))
    assert not f["quote"].any()


def test_word_pieces_read_as_the_text(show_runs):
    lm = load(show_runs("word-lstm"))
    ids = lm.vocab.encode("Hello, world (twice).\nAgain.")
    pieces = token_pieces(lm.vocab, ids)
    assert len(pieces) == len(ids)
    assert "".join(pieces) == lm.vocab.decode(ids)


def test_the_page_is_self_contained_with_every_token_and_valid_data(run, show_corpus):
    lm = load(run)
    document, result = page(lm, show_corpus.read_text())
    assert "http" not in document.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(//|[a-z]+:)""", document, re.I)
    data = page_data(document)
    spans = re.findall(r"<span>(.*?)</span>", document, re.S)
    assert len(spans) == len(result["ids"]) == data["shown"]
    shown = "".join(html.unescape(s) for s in spans)
    assert shown == "".join(result["pieces"])
    assert shown.replace("\ufffd", "") == lm.vocab.decode(result["ids"])  # the page reads as the text
    assert len(data["bits"]) == len(data["predictions"]) == data["shown"]
    units = len(data["series"]) * data["hidden"]
    assert len(data["scales"]) == units
    assert len(base64.b64decode(data["activations"])) == units * data["shown"]
    assert set(data["ranked"]) == set(FEATURES) and data["cut"] is None
    for entries in data["ranked"].values():
        assert [abs(e["r"]) for e in entries] == sorted((abs(e["r"]) for e in entries), reverse=True)
