"""Drawing tokens: the empirical distribution of many draws against the exact softmax at
several temperatures (chi-squared), argmax at temperature 0, top-k and top-p truncation; the
compiled sampler against stepping the model from Python (sampler_reference.py); samples that run
on through </s>, drawn and decoded a block at a time into the same text whatever the block, in
flat memory."""
import itertools
import tracemalloc

import numpy as np
import pytest
from sampler_reference import reference_generate
from scipy.stats import chisquare
from shared import UNITS, shakespeare

from seqkit import LanguageModel, Model, OptionError, TextOptions, TrainConfig
from seqkit.generation.sampler import (
    BLOCK,
    Sampler,
    SamplingOptions,
    distribution,
    draw,
    draw_ids,
    generate,
    generate_ids,
    stream,
)
from seqkit.text.options import BOS_ID, EOS_ID, UNK_ID
from seqkit.text.vocab import build_vocab

LOGITS = np.array([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
DRAWS = 40_000


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def counts_of(draws, size=len(LOGITS)):
    return np.bincount(draws, minlength=size)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_draws_follow_the_softmax_at_temperature(temperature):
    rng = np.random.default_rng(int(temperature * 10))
    draws = draw(np.tile(LOGITS, (DRAWS, 1)), rng, temperature)
    observed = counts_of(draws)
    expected = DRAWS * softmax(LOGITS / temperature)
    assert chisquare(observed, expected).pvalue > 1e-3
    # The test can tell temperatures apart: the same draws fail against temperature 1.5x off.
    wrong = DRAWS * softmax(LOGITS / (temperature * 1.5))
    assert chisquare(observed, wrong).pvalue < 1e-6


def test_temperature_zero_is_argmax():
    logits = np.array([[0.1, 3.0, 2.9], [5.0, -1.0, 4.0]])
    assert list(draw(logits, np.random.default_rng(0), temperature=0)) == [1, 0]


def test_top_k_draws_only_the_k_most_likely_in_proportion():
    draws = draw(np.tile(LOGITS, (DRAWS, 1)), np.random.default_rng(1), top_k=3)
    observed = counts_of(draws)
    assert not observed[3:].any()
    assert chisquare(observed[:3], DRAWS * softmax(LOGITS[:3])).pvalue > 1e-3


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = softmax(LOGITS)
    cumulative = np.cumsum(probs)  # LOGITS are sorted, most likely first
    p = (cumulative[1] + cumulative[2]) / 2  # needs the top three tokens
    kept = distribution(LOGITS[None], top_p=p)[0]
    assert np.count_nonzero(kept) == 3
    np.testing.assert_allclose(kept[:3], probs[:3] / probs[:3].sum())
    assert np.count_nonzero(distribution(LOGITS[None], top_p=1.0)[0]) == len(LOGITS)
    assert np.count_nonzero(distribution(LOGITS[None], top_p=1e-9)[0]) == 1


def test_masked_logits_are_never_drawn():
    logits = np.tile(LOGITS, (DRAWS, 1))
    logits[:, 0] = -np.inf
    assert not counts_of(draw(logits, np.random.default_rng(2)))[0]


@pytest.mark.parametrize("options, message", [
    ((-0.5, None, None), "temperature must be zero"),
    ((1.0, 0, None), "top_k must be at least 1"),
    ((1.0, None, 0.0), r"top_p must be in \(0, 1\]"),
    ((1.0, None, 1.5), r"top_p must be in \(0, 1\]"),
])
def test_meaningless_options_are_refused(options, message):
    with pytest.raises(OptionError, match=message) as caught:
        SamplingOptions(*options)
    assert caught.value.field == message.split()[0]


@pytest.mark.parametrize("cell, embed_size, nonlinearity", [
    ("lstm", None, "tanh"), ("gru", 5, "tanh"), ("rnn", 5, "relu"), ("rnn", None, "tanh")])
@pytest.mark.parametrize("temperature, top_k, top_p", [(0.8, None, None), (1.0, 4, 0.9), (0.0, None, None)])
def test_compiled_generation_equals_stepping_the_model(cell, embed_size, nonlinearity, temperature, top_k, top_p):
    V, length, count = 12, 40, 3
    model = Model(V, 16, num_layers=2, cell=cell, embed_size=embed_size, seed=7, nonlinearity=nonlinearity)
    model.parameters["output.bias"][2] = 1.5  # make </s> (id 2) likely enough to end some rows early
    feed, banned, eos = [1, 5, 7], [1, 0], 2
    uniforms = np.random.default_rng(3).random((length, count))
    drawn = generate_ids(model, feed, banned, eos, uniforms, temperature, top_k, top_p)
    expected = reference_generate(model, feed, banned, eos, uniforms, temperature, top_k, top_p)
    assert drawn == expected
    assert any(len(sample) < length for sample in expected) or temperature == 0  # </s> did end a row


# --- samples of any length, drawn and decoded a block at a time ---------------------------------------
def language_model(options, eos_bias=2.0, cell="lstm", seed=0):
    """An untrained model on a vocabulary of the shared text, with </s> made likely enough to come up."""
    vocab = build_vocab(shakespeare(), options)
    model = Model(len(vocab), 16, num_layers=2, cell=cell, embed_size=8, seed=seed)
    model.parameters["output.bias"][EOS_ID] = eos_bias
    return LanguageModel(model, vocab, TrainConfig(text=options), "nowhere.npz")


def reference_run_through(model, feed, banned, uniforms):
    """What the sampler draws without stop_at_end, by Model.step from Python: after </s> the model
    reads </s> and <s> before the next draw, as units follow each other in training."""
    state, logits = None, None
    for token in feed:
        logits, state = model.step(np.array([token]), state)
    drawn = []
    for u in uniforms:
        logits = np.array(logits, np.float64)
        logits[:, banned] = -np.inf
        cdf = np.cumsum(distribution(logits), axis=1)[0]
        token = min(int((cdf <= u * cdf[-1]).sum()), len(cdf) - 1)
        drawn.append(token)
        for then in [token, BOS_ID] if token == EOS_ID else [token]:
            logits, state = model.step(np.array([then]), state)
    return drawn


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_a_sample_runs_on_through_the_end_token_into_the_next_unit(cell):
    lm = language_model(TextOptions(unit="line"), cell=cell)
    uniforms = np.random.default_rng(4).random(300)
    feed = np.array([BOS_ID, 5, 9])
    drawn = np.concatenate(list(draw_ids(Sampler(lm.model, [BOS_ID, UNK_ID]), feed, 300,
                                         np.random.default_rng(4), block=37)))
    assert drawn.tolist() == reference_run_through(lm.model, feed, [BOS_ID, UNK_ID], uniforms)
    assert np.count_nonzero(drawn == EOS_ID) > 3  # the sample did go through several </s>


@pytest.mark.parametrize("options", UNITS, ids=lambda o: f"{o.level}-{o.resolved_unit}-{o.tokenize}")
@pytest.mark.parametrize("stop_at_end", [False, True])
def test_blocks_of_any_size_draw_and_decode_the_same_text(options, stop_at_end):
    """The text of a seed is the same whatever the block, and is vocab.decode of all the ids
    at once: the prime's, then those drawn, each </s> read with <s> after it."""
    lm = language_model(options, eos_bias=3.0)
    prime = "First Citizen:\nBefore we"
    texts = {block: "".join(stream(lm.model, lm.vocab, 400, np.random.default_rng(7), 0.9, prime=prime,
                                   stop_at_end=stop_at_end, block=block))
             for block in (1, 2, 5, 64, BLOCK)}
    assert len(set(texts.values())) == 1
    sampler = Sampler(lm.model, [BOS_ID, UNK_ID], 0.9)
    prime_ids = lm.vocab.encode(prime, frame=False)
    drawn = np.concatenate(list(draw_ids(sampler, np.concatenate([[BOS_ID], prime_ids]), 400,
                                         np.random.default_rng(7), stop_at_end, block=3)))
    read = np.insert(drawn, np.flatnonzero(drawn == EOS_ID) + 1, BOS_ID)
    assert texts[BLOCK] == lm.vocab.decode(np.concatenate([prime_ids, read]))
    assert (EOS_ID in drawn) != stop_at_end and len(drawn) == 400 or stop_at_end and len(drawn) < 400


def test_length_counts_the_tokens_drawn_end_tokens_included():
    """Char level with line units: each token is a character and each </s> a newline, so a
    sample of length n adds n characters to its prime; stop_at_end keeps its first line."""
    lm = language_model(TextOptions(unit="line"), eos_bias=2.5)
    through = lm.sample(length=500, prime="First", seed=3)[0]
    assert len(through) == len("First") + 500 and through.count("\n") > 5
    assert lm.sample(length=500, prime="First", seed=3, stop_at_end=True)[0] == through.split("\n")[0]
    assert lm.sample(length=0, prime="First", seed=3) == ["First"]


def test_each_sample_has_its_own_seed_to_draw_it_again_alone():
    lm = language_model(TextOptions(level="word"))
    samples = lm.sample(length=60, count=3, seed=11)
    assert samples == [lm.sample(length=60, seed=11 + k)[0] for k in range(3)]
    assert len(set(samples)) == 3
    assert "".join(lm.stream(length=60, seed=12)) == samples[1]


def test_top_k_at_or_above_the_vocabulary_keeps_every_token():
    lm = language_model(TextOptions())
    V = len(lm.vocab)
    for top_k in (V, V + 1, 2 ** 63, 10 ** 30):
        np.testing.assert_array_equal(distribution(LOGITS[None], top_k=top_k), distribution(LOGITS[None]))
        assert lm.sample(length=50, top_k=top_k, seed=2) == lm.sample(length=50, seed=2)
    assert lm.sample(length=50, top_k=5, seed=2) != lm.sample(length=50, seed=2)


def test_the_trainers_call_draws_what_it_drew_before_the_blocks():
    """generate(model, vocab, length, rng, temperature=0.8)[0], as seqkit.training.trainer calls it: the
    uniforms are rng.random(n) block after block, the stream rng.random((length, 1)) gave."""
    lm = language_model(TextOptions(), eos_bias=-30.0)  # no </s>: the sample 0.1.0 drew too
    text = generate(lm.model, lm.vocab, 200, np.random.default_rng(5), temperature=0.8)[0]
    uniforms = np.random.default_rng(5).random((200, 1))
    ids = generate_ids(lm.model, [BOS_ID], [BOS_ID, UNK_ID], EOS_ID, uniforms, 0.8)[0]
    assert text == lm.vocab.decode(ids) and len(ids) == 200


def test_a_sample_of_any_length_streams_in_the_memory_of_a_block():
    lm = language_model(TextOptions(level="word"))
    pieces = lm.stream(length=10 ** 30, seed=1)
    assert [len(p) > 0 for p in itertools.islice(pieces, 1, 3)] == [True, True]  # no count x length up front
    tracemalloc.start()
    try:
        for _ in itertools.islice(pieces, 30):  # 30 more blocks
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000

