"""The kernels that turn one row of logits (V,) into a draw: the distribution sampled from
(temperature, top-k, top-p), the inverse-CDF draw, and the controls a caller may ask for on the
way (seqkit.generation.controls): CTRL's repetition penalty, n-grams that must not repeat, the
stop strings matched after each draw, the model's own log-probability of a token. The compiled
sampler (seqkit.generation.sampler) and beam search (seqkit.generation.beam) call them.

A sample's history is `past` (P,) int64, the tokens remembered so far (the prime's, then each
drawn, <s> never): token i is at past[i % P], so a P of the repetition window and the longest
stop is a ring that keeps the tokens these look back on; with no_repeat_ngram it holds the
whole sample (the caller grows it). fill (2,) int64 counts the tokens remembered, fill[0], and
those drawn, fill[1]: a stop string matches within the drawn tokens only.
"""
import numpy as np

from seqkit._jit import kernel


@kernel
def distribution_row(logits, temperature, top_k, top_p, probs):
    """Writes probs (V,), float64: what a draw samples from for one row of logits (V,).
    top_k 0 (or V and above) and top_p 1 mean no truncation."""
    V = logits.size
    top = logits.max()
    if temperature == 0:
        for v in range(V):
            probs[v] = 1.0 if logits[v] == top else 0.0
    else:
        for v in range(V):
            probs[v] = np.exp((np.float64(logits[v]) - top) / temperature)  # exactly 0 for -inf
        if 0 < top_k < V:
            kth = np.sort(probs)[V - top_k]
            for v in range(V):
                if probs[v] < kth:
                    probs[v] = 0.0
    probs /= probs.sum()
    if top_p < 1:
        order = np.argsort(-probs, kind="mergesort")  # stable: ties keep the lower id first
        reached = 0.0
        for v in order:
            # Keep a token while the probability ranked above it has not yet reached top_p.
            keep = reached < top_p
            reached += probs[v]
            if not keep:
                probs[v] = 0.0
        probs /= probs.sum()


@kernel
def draw_row(probs, u):
    """The token id whose cumulative probability interval holds u * total, for u in [0, 1)."""
    target = u * probs.sum()
    cumulative = 0.0
    for v in range(probs.size):
        cumulative += probs[v]
        if cumulative > target:
            return v
    return probs.size - 1


@kernel
def log_normalizer(logits):
    """log(sum(exp(logits))) of a row (V,), in float64: a token's log-probability is its logit
    less this."""
    top = np.float64(logits.max())
    total = 0.0
    for v in range(logits.size):
        total += np.exp(np.float64(logits[v]) - top)
    return top + np.log(total)


@kernel
def remember(past, fill, token, drawn):
    """Add `token` to the history (see the module docstring); drawn: it was drawn, not read."""
    if past.size:
        past[fill[0] % past.size] = token
    fill[0] += 1
    if drawn:
        fill[1] += 1


@kernel
def penalize(logits, past, fill, window, penalty, seen):
    """CTRL's repetition penalty (Keskar et al. 2019) on logits (V,): each distinct token among
    the last `window` remembered has its logit divided by `penalty`, or multiplied by it where
    negative, so that a penalty above 1 makes it less likely. seen (V,) bool, all False, is
    scratch (left all False)."""
    if penalty == 1.0 or past.size == 0:
        return
    start = max(0, fill[0] - window)
    for i in range(start, fill[0]):
        t = past[i % past.size]
        if not seen[t]:
            seen[t] = True
            value = logits[t]
            logits[t] = value / penalty if value > 0 else value * penalty
    for i in range(start, fill[0]):
        seen[past[i % past.size]] = False


@kernel
def ban_repeats(logits, past, fill, n, saved_ids, saved_values):
    """Set to -inf the logit of every token that would end an n-gram the history already holds
    (no_repeat_ngram: the last n - 1 tokens followed by it, anywhere before). Where that would
    leave no token to draw, nothing is banned. saved_ids and saved_values (V,) are scratch.
    The history must hold every token (no ring): past.size >= fill[0]."""
    m = n - 1
    filled = fill[0]
    if n == 0 or filled < m:
        return
    saved = 0
    for j in range(filled - m):  # an earlier n-gram past[j : j + n], its last token before the end
        same = True
        for q in range(m):
            if past[j + q] != past[filled - m + q]:
                same = False
                break
        if same:
            t = past[j + m]
            if logits[t] != -np.inf:
                saved_ids[saved], saved_values[saved] = t, logits[t]
                saved += 1
                logits[t] = -np.inf
    if saved and logits.max() == -np.inf:
        for i in range(saved):
            logits[saved_ids[i]] = saved_values[i]


@kernel
def stop_matched(past, fill, stops, starts, skip_eos, eos, result):
    """Whether the history ends with one of the stop strings, as token ids: stop s is
    stops[starts[s]:starts[s + 1]], matched against the drawn tokens only, skipping </s> (eos)
    where skip_eos (where it reads as no text). Writes result[0] = s and result[1] = the
    tokens its match spans, and returns True; False when none matches."""
    P = past.size
    for s in range(starts.size - 1):
        i, q, span = fill[0] - 1, starts[s + 1] - 1, 0
        matched = True
        while q >= starts[s]:
            if span >= fill[1] or span >= P:  # into the prime, or past what the ring keeps
                matched = False
                break
            t = past[i % P]
            i -= 1
            span += 1
            if skip_eos and t == eos:
                continue
            if t != stops[q]:
                matched = False
                break
            q -= 1
        if matched:
            result[0], result[1] = s, span
            return True
    return False
