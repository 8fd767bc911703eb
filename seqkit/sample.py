"""Drawing text from a model: warm the state on <s> and a prime, then draw token after token.

Draws are multinomial from the exact softmax of logits / temperature (temperature 0 is
argmax), optionally restricted to the top-k tokens or to the smallest set whose probability
reaches top-p (nucleus sampling). <s> is never drawn (it is only ever an input), nor <unk>
unless allowed; a sample ends at </s> or after `length` tokens.
"""
import numpy as np

from seqkit.data import BOS, EOS, UNK


def check_sampling_options(temperature, top_k, top_p):
    """Raise ValueError naming the option for values that have no meaning."""
    if not temperature >= 0:
        raise ValueError(f"temperature must be zero (argmax) or positive, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top-k must be at least 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top-p must be in (0, 1], got {top_p}")


def distribution(logits, temperature=1.0, top_k=None, top_p=None):
    """The probabilities (B, V), float64, that `draw` samples from, for logits (B, V)."""
    z = np.asarray(logits, np.float64)
    if temperature == 0:
        probs = (z == z.max(axis=1, keepdims=True)).astype(np.float64)
        return probs / probs.sum(axis=1, keepdims=True)
    z = z / temperature
    probs = np.exp(z - z.max(axis=1, keepdims=True))
    if top_k is not None and top_k < probs.shape[1]:
        kth = -np.partition(-probs, top_k - 1, axis=1)[:, top_k - 1:top_k]
        probs[probs < kth] = 0
    probs /= probs.sum(axis=1, keepdims=True)
    if top_p is not None and top_p < 1:
        order = np.argsort(-probs, axis=1, kind="stable")
        ranked = np.take_along_axis(probs, order, axis=1)
        # Keep a token while the probability ranked above it has not yet reached top_p.
        keep = np.empty(probs.shape, bool)
        np.put_along_axis(keep, order, np.cumsum(ranked, axis=1) - ranked < top_p, axis=1)
        probs[~keep] = 0
        probs /= probs.sum(axis=1, keepdims=True)
    return probs


def draw(logits, rng, temperature=1.0, top_k=None, top_p=None):
    """One token id per row of logits (B, V), by inverse-CDF draws from `distribution`."""
    cdf = np.cumsum(distribution(logits, temperature, top_k, top_p), axis=1)
    u = rng.random((cdf.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=1), cdf.shape[1] - 1)


def generate(model, vocab, length, rng, temperature=1.0, top_k=None, top_p=None, prime="",
             count=1, allow_unk=False):
    """`count` independent samples of at most `length` new tokens each, as text that begins
    with the prime. The samples run side by side as one batch."""
    check_sampling_options(temperature, top_k, top_p)
    prime_ids = [int(i) for i in vocab.encode(prime, frame=False)] if prime else []
    banned = [vocab.id_of(BOS)] + ([] if allow_unk else [vocab.id_of(UNK)])
    eos = vocab.id_of(EOS)
    state, logits = None, None
    for token in [vocab.id_of(BOS)] + prime_ids:
        logits, state = model.step(np.full(count, token), state)
    samples = [[] for _ in range(count)]
    running = np.ones(count, bool)
    for _ in range(length):
        logits = np.array(logits, np.float64)
        logits[:, banned] = -np.inf
        tokens = draw(logits, rng, temperature, top_k, top_p)
        for b in np.flatnonzero(running):
            if tokens[b] == eos:
                running[b] = False
            else:
                samples[b].append(int(tokens[b]))
        if not running.any():
            break
        logits, state = model.step(tokens, state)
    return [vocab.decode(prime_ids + sample) for sample in samples]
