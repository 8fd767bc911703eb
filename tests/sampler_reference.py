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
