"""Drawing tokens: the empirical distribution of many draws against the exact softmax at
several temperatures (chi-squared), argmax at temperature 0, top-k and top-p truncation."""
import numpy as np
import pytest
from scipy.stats import chisquare

from seqkit.sample import check_sampling_options, distribution, draw

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
    ((1.0, 0, None), "top-k must be at least 1"),
    ((1.0, None, 0.0), r"top-p must be in \(0, 1\]"),
    ((1.0, None, 1.5), r"top-p must be in \(0, 1\]"),
])
def test_meaningless_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        check_sampling_options(*options)


def reference_generate(model, feed, banned, eos, uniforms, temperature, top_k, top_p):
    """seqkit.sample.generate_ids written plainly: Model.step from Python, then distribution and the
    inverse-CDF draw, with the same uniforms."""
    length, count = uniforms.shape
    state, logits = None, None
    for token in feed:
        logits, state = model.step(np.full(count, token), state)
    samples = [[] for _ in range(count)]
    running = np.ones(count, bool)
    for t in range(length):
        logits = np.array(logits, np.float64)
        logits[:, banned] = -np.inf
        cdf = np.cumsum(distribution(logits, temperature, top_k, top_p), axis=1)
        tokens = np.minimum((cdf <= uniforms[t][:, None] * cdf[:, -1:]).sum(axis=1), cdf.shape[1] - 1)
        for b in np.flatnonzero(running):
            if tokens[b] == eos:
                running[b] = False
            else:
                samples[b].append(int(tokens[b]))
        logits, state = model.step(tokens, state)
    return samples


@pytest.mark.parametrize("cell, embed_size, nonlinearity", [
    ("lstm", None, "tanh"), ("gru", 5, "tanh"), ("rnn", 5, "relu"), ("rnn", None, "tanh")])
@pytest.mark.parametrize("temperature, top_k, top_p", [(0.8, None, None), (1.0, 4, 0.9), (0.0, None, None)])
def test_compiled_generation_equals_stepping_the_model(cell, embed_size, nonlinearity, temperature, top_k, top_p):
    from seqkit import Model
    from seqkit.sample import generate_ids
    V, length, count = 12, 40, 3
    model = Model(V, 16, num_layers=2, cell=cell, embed_size=embed_size, seed=7, nonlinearity=nonlinearity)
    model.parameters["output.bias"][2] = 1.5  # make </s> (id 2) likely enough to end some rows early
    feed, banned, eos = [1, 5, 7], [1, 0], 2
    uniforms = np.random.default_rng(3).random((length, count))
    drawn = generate_ids(model, feed, banned, eos, uniforms, temperature, top_k, top_p)
    expected = reference_generate(model, feed, banned, eos, uniforms, temperature, top_k, top_p)
    assert drawn == expected
    assert any(len(sample) < length for sample in expected) or temperature == 0  # </s> did end a row
