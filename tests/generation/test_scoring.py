"""Scoring text (seqkit.generation.scoring): a text's loss is the one `evaluate` gives it, token by
token what stepping the model from Python gives (from its start state where it has one), the same
alone or in a batch of others, across chunks of any length; ranks and the top tokens agree with
the log-probabilities; next_token_probs is the softmax after the prime; and novelty (how much of
a text the training corpus holds) finds the passages it shares."""
import numpy as np
import pytest
from shared import shakespeare

from seqkit import LanguageModel, Model, TextOptions, TrainConfig
from seqkit.generation import scoring
from seqkit.generation.novelty import WINDOW, NoveltyIndex
from seqkit.text.options import BOS_ID
from seqkit.text.vocab import build_vocab


def language_model(options=TextOptions(), dtype=np.float64, cell="lstm"):
    vocab = build_vocab(shakespeare(), options)
    model = Model(len(vocab), 16, num_layers=2, cell=cell, embed_size=8, seed=3, dtype=dtype)
    return LanguageModel(model, vocab, TrainConfig(text=options), "nowhere.npz")


def stepped_logprobs(lm, text):
    """Each predicted token's log-probability of `text` read as a unit, by Model.step from the
    model's start state (or zeros)."""
    ids = lm.vocab.encode(text)
    start = lm.model.start_state
    state = None if start is None else [layer.pack_state([s[None].copy() for s in arrays])
                                        for layer, arrays in zip(lm.model.layers, start)]
    found = []
    for token, target in zip(ids[:-1], ids[1:]):
        logits, state = lm.model.step(np.array([token]), state)
        if target != BOS_ID:
            row = np.array(logits[0], np.float64)
            found.append(row[target] - row.max() - np.log(np.exp(row - row.max()).sum()))
    return found


@pytest.mark.parametrize("options", [TextOptions(), TextOptions(level="word"), TextOptions(unit="paragraph")])
def test_a_texts_score_is_its_evaluation_and_its_tokens_log_probabilities(options):
    lm = language_model(options)
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak."
    (found,) = lm.score([text], per_token=True, top=3)
    evaluated = lm.evaluate(text)
    assert found["tokens"] == evaluated["tokens"] == len(found["per_token"])
    assert found["loss"] == pytest.approx(evaluated["loss"], rel=1e-12)
    assert found["perplexity"] == pytest.approx(evaluated["perplexity"], rel=1e-12)
    assert [t["logprob"] for t in found["per_token"]] == pytest.approx(stepped_logprobs(lm, text), abs=1e-12)
    assert sum(t["logprob"] for t in found["per_token"]) == pytest.approx(found["logprob"], abs=1e-9)
    for token in found["per_token"]:
        tops = [t["logprob"] for t in token["top"]]
        assert tops == sorted(tops, reverse=True) and len(tops) == 3
        assert (token["rank"] == 1) == (token["top"][0]["token"] == token["token"])
        assert token["rank"] > 3 or token["top"][token["rank"] - 1]["token"] == token["token"]


def test_scores_start_where_samples_start_and_are_the_same_in_any_batch(monkeypatch):
    lm = language_model(dtype=np.float64, cell="gru")
    rng = np.random.default_rng(0)
    lm.model.start_state = [rng.standard_normal((1, 16)) * 0.5 for _ in range(2)]
    texts = [shakespeare()[i:i + n] for i, n in ((0, 40), (100, 3), (400, 700), (50, 1))]
    alone = [lm.score([text])[0] for text in texts]
    monkeypatch.setattr(scoring, "BATCH", 3)
    monkeypatch.setattr(scoring, "CHUNK", 64)  # the 700-character text in 11 chunks, the state carried
    together = lm.score(texts)
    for one, batched, text in zip(alone, together, texts):
        assert batched["logprob"] == pytest.approx(one["logprob"], abs=1e-9)
        assert batched["logprob"] == pytest.approx(sum(stepped_logprobs(lm, text)), abs=1e-9)
        assert batched["text"] == text and batched["unknown_tokens"] == 0
    without = language_model(dtype=np.float64, cell="gru").score(texts[:1])[0]
    assert without["logprob"] != pytest.approx(together[0]["logprob"])  # the start state counts


def test_unknown_tokens_are_counted_and_read_as_unk():
    lm = language_model(TextOptions(level="word"))
    (found,) = lm.score("the zyzzyva and the qwxz", per_token=True)
    assert found["unknown_tokens"] == 2
    assert [t["token"] for t in found["per_token"]] == ["the", "<unk>", "and", "the", "<unk>", "</s>"]


def test_next_token_probs_is_the_softmax_after_the_prime():
    lm = language_model()
    found = lm.next_token_probs("First Cit", 5)
    state = None
    for token in [BOS_ID, *lm.vocab.encode("First Cit", frame=False)]:
        logits, state = lm.model.step(np.array([token]), state)
    probs = np.exp(logits[0] - logits[0].max())
    probs /= probs.sum()
    order = np.argsort(-probs)[:5]
    assert [t for t, _ in found] == [lm.vocab.tokens[v] for v in order]
    assert [p for _, p in found] == pytest.approx(probs[order].tolist(), rel=1e-12)
    every = lm.next_token_probs("", len(lm.vocab) + 5)
    assert len(every) == len(lm.vocab) and sum(p for _, p in every) == pytest.approx(1.0)


# --- novelty ---------------------------------------------------------------------------------------------
def test_novelty_finds_the_longest_passage_a_text_shares_with_the_corpus():
    vocab = build_vocab(shakespeare(), TextOptions())
    index = NoveltyIndex(vocab, shakespeare())
    copied = shakespeare()[500:620]
    found = index.of(copied)
    assert found == {"longest": copied, "longest_tokens": len(copied),
                     "windows": len(copied) - WINDOW + 1, "copied": len(copied) - WINDOW + 1}
    mixed = "qqq" + shakespeare()[1000:1030] + "zzz" + shakespeare()[200:210]
    found = index.of(mixed)
    assert found["longest"] == shakespeare()[1000:1030] and found["longest_tokens"] == 30
    assert found["copied"] == 30 - WINDOW + 1 and found["windows"] == len(mixed) - WINDOW + 1
    assert index.of("qz")["longest_tokens"] == 1 and index.of("qz")["windows"] == 0  # "q" alone is in it
    assert index.of(copied, skip=100)["longest"] == copied[100:]


def test_novelty_of_words_counts_words():
    vocab = build_vocab(shakespeare(), TextOptions(level="word"))
    index = NoveltyIndex(vocab, shakespeare())
    line = "Before we proceed any further, hear me speak."
    assert line in shakespeare()
    found = index.of("zyzzyva " + line)
    assert found["longest_tokens"] == 10 and found["longest"] == line
