"""The sampler's oracle: generation written plainly, Model.step from Python then the inverse-CDF
draw from seqkit.generation.sampler.distribution (itself checked against the softmax by chi-squared
in tests/generation/test_sampler.py), with the uniforms the compiled sampler is given, from the
model's start state (zeros where it has none)."""
import numpy as np

from seqkit.generation.sampler import distribution


def start_of(model, batch):
    """The state samples start from, for `batch` rows: the model's start state, or None (zeros)."""
    if model.start_state is None:
        return None
    return [layer.pack_state([np.repeat(s[None], batch, axis=0) for s in arrays])
            for layer, arrays in zip(model.layers, model.start_state)]


def reference_generate(model, feed, banned, eos, uniforms, temperature, top_k, top_p):
    """What seqkit.generation.sampler.generate_ids draws: `feed` read, then uniforms.shape[0] draws
    for each of uniforms.shape[1] rows, the `banned` ids never drawn, a row ending at `eos`."""
    length, count = uniforms.shape
    state, logits = start_of(model, count), None
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


def reference_controlled(model, prime_ids, uniforms, banned, eos=2, bos=1, temperature=1.0, penalty=1.0, window=64,
                         ngram=0):
    """What the compiled sampler draws with the controls, step by step from Python (batch 1): <s>
    and prime_ids read; each row of logits has the `banned` ids at -inf, then CTRL's penalty on
    the distinct tokens among the last `window` remembered (prime and drawn, <s> never), then
    every token that would end an n-gram already in that history at -inf (none, where that
    would leave nothing), then the inverse-CDF draw; after </s> the model reads </s> and <s>."""
    state = start_of(model, 1)
    for token in [bos, *prime_ids]:
        logits, state = model.step(np.array([token]), state)
    history = [int(t) for t in prime_ids if t != bos]
    drawn = []
    for u in uniforms:
        row = np.array(logits[0], np.float64)
        row[banned] = -np.inf
        if penalty != 1.0:
            for t in set(history[max(0, len(history) - window):]):
                row[t] = row[t] / penalty if row[t] > 0 else row[t] * penalty
        if ngram:
            m, before = ngram - 1, row.copy()
            tail = history[len(history) - m:] if m else []
            for j in range(len(history) - m):
                if history[j:j + m] == tail:
                    row[history[j + m]] = -np.inf
            if row.max() == -np.inf:
                row = before
        cdf = np.cumsum(distribution(row[None], temperature)[0])
        token = min(int((cdf <= u * cdf[-1]).sum()), len(cdf) - 1)
        drawn.append(token)
        history.append(token)
        for then in [token, bos] if token == eos else [token]:
            logits, state = model.step(np.array([then]), state)
    return drawn
