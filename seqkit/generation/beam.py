"""Beam search: the K continuations of a prime that the model finds most likely, without chance.

K beams run side by side as the rows of a batch of K (the cell's step on (K, G*H) inputs, the
output layer one (K, H) x (H, V) product). At each step every live beam's next tokens are
scored by their log-probability under the distribution a sample would draw from at temperature
1 (the bans, the repetition penalty and the n-grams not to repeat applied first, as in
seqkit.generation.sampler), each candidate by the total over its tokens. Of the 2K best
candidates, those that end a continuation (a stop string, </s> with stop_at_end, or the length
reached) join the finished ones if they rank among the first K, as Hugging Face's beam search
does, and the best K of the others go on. Finished continuations are ranked by their total
log-probability divided by their number of tokens, the mean log-probability per token: the
length normalisation, so that one that ends early is not preferred for having fewer factors
below 1. At a fixed length, with nothing to end one early, that is the order of the totals.

The search keeps each step's tokens and the beam each continued, and reads the continuations
back from them at the end: memory in length x K, and no text before the search ends. Ties go
to the lower beam, then the lower token id, so a search gives the same result every time.
"""
import functools

import numba
import numpy as np
from numba import types

from seqkit._jit import kernel, typed_kernel
from seqkit.generation.rows import ban_repeats, log_normalizer, penalize, remember, stop_matched


@kernel
def _read(step, one_hot, embedding, input_weight, weight_ih, weight_hh, bias_ih, bias_hh, states, cache, tokens,
          gathered, xproj):
    """Every layer reads tokens (K,), one per row of states (L, S, 2, K, H): the state in
    [:, :, 0] moves on by one step."""
    for k in range(bias_ih.shape[0]):
        if k > 0:
            np.dot(states[k - 1, 0, 0], weight_ih[k - 1].T, xproj)
        elif one_hot:
            for j in range(tokens.size):
                xproj[j] = input_weight[:, tokens[j]]
        else:
            for j in range(tokens.size):
                gathered[j] = embedding[tokens[j]]
            np.dot(gathered, input_weight.T, xproj)
        xproj += bias_ih[k]
        step(xproj, states[k], 0, weight_hh[k], bias_hh[k], cache)
        states[k, :, 0] = states[k, :, 1]


@kernel
def _keep(ends, sums, done, t, beam, token, which, span, mean, total, own):
    """Add a finished continuation to ends (K, 5) and sums (K, 3), which hold `done` of them best
    first by mean; the worst drops out when K are there. Returns how many they hold."""
    K = ends.shape[0]
    if done == K and not mean > sums[K - 1, 0]:
        return done
    at = min(done, K - 1)
    while at > 0 and sums[at - 1, 0] < mean:
        ends[at], sums[at] = ends[at - 1], sums[at - 1]
        at -= 1
    ends[at, 0], ends[at, 1], ends[at, 2], ends[at, 3], ends[at, 4] = t, beam, token, which, span
    sums[at, 0], sums[at, 1], sums[at, 2] = mean, total, own
    return min(done + 1, K)


def _beam_block(step, one_hot, embedding, input_weight, weight_ih, weight_hh, bias_ih, bias_hh, output_weight,
                output_bias, states, cache, banned, eos, bos, stop_at_end, length, past, fill, stops, starts,
                skip_eos, penalty, window, ngram, tokens_at, parents_at, ends, sums):
    """Beam search over K = states.shape[3] beams from the state in states[:, :, 0, 0] (L, S, 2,
    K, H: the prime read) and the history past[0], fill[0] (a row per beam, past (K, P), fill
    (K, 2): seqkit.generation.rows). Writes tokens_at[t, j], the token beam j took at step t < length,
    and parents_at[t, j], the beam it continued; and the finished continuations, best first, at
    most K: ends[i] = (step, beam it continued, its last token, the stop string that ended it or
    -1, the tokens that string's match spans), sums[i] = (mean log-probability per token, total
    log-probability, the model's own total at temperature 1 with no control). Returns how many
    finished. The weights are the sampler's (seqkit.generation.sampler._draw_block); cache (K, C) is the step's."""
    L, S, K, H = states.shape[0], states.shape[1], states.shape[3], states.shape[4]
    GH, V, dtype = bias_ih.shape[1], output_weight.shape[0], output_weight.dtype
    xproj, logits = np.empty((K, GH), dtype), np.empty((K, V), dtype)
    gathered, row = np.empty((K, embedding.shape[1]), dtype), np.empty(V, dtype)
    seen = np.zeros(V, np.bool_)
    saved_ids, saved_values, result = np.empty(V, np.int64), np.empty(V, dtype), np.zeros(2, np.int64)
    kept, new_past, new_fill = np.empty((L, S, K, H), dtype), np.empty_like(past), np.empty_like(fill)
    score, own_sum, new_score, new_own = np.zeros(K), np.zeros(K), np.zeros(K), np.zeros(K)
    width = 2 * K  # candidates looked at each step, best first
    cand_score, cand_own = np.empty(width), np.empty(width)
    cand_beam, cand_token = np.zeros(width, np.int64), np.zeros(width, np.int64)
    tokens = np.full(K, bos, np.int64)
    live, done = 1, 0  # beams 0 .. live - 1 go on; at first the one the prime made
    for t in range(length):
        np.dot(states[L - 1, 0, 0], output_weight.T, logits)
        cand_score[:] = -np.inf
        for j in range(live):
            model_row = logits[j]
            model_row += output_bias
            own = log_normalizer(model_row)
            row[:] = model_row
            for token in banned:
                row[token] = -np.inf
            if window:
                penalize(row, past[j], fill[j], window, penalty, seen)
            if ngram:
                ban_repeats(row, past[j], fill[j], ngram, saved_ids, saved_values)
            normalizer = log_normalizer(row)
            for v in range(V):
                if row[v] == -np.inf:
                    continue
                total = score[j] + (np.float64(row[v]) - normalizer)
                if total > cand_score[width - 1]:
                    at = width - 1
                    while at > 0 and cand_score[at - 1] < total:
                        cand_score[at], cand_own[at] = cand_score[at - 1], cand_own[at - 1]
                        cand_beam[at], cand_token[at] = cand_beam[at - 1], cand_token[at - 1]
                        at -= 1
                    cand_score[at], cand_own[at] = total, own_sum[j] + (np.float64(model_row[v]) - own)
                    cand_beam[at], cand_token[at] = j, v
        going = 0
        for rank in range(width):
            if going == K or cand_score[rank] == -np.inf:
                break
            j, v = cand_beam[rank], cand_token[rank]
            new_past[going], new_fill[going] = past[j], fill[j]
            remember(new_past[going], new_fill[going], v, True)
            which, span = -1, 0
            finishes = t == length - 1 or (stop_at_end and v == eos)
            if stops.size and stop_matched(new_past[going], new_fill[going], stops, starts, skip_eos, eos, result):
                finishes, which, span = True, result[0], result[1]
            if finishes:
                if rank < K:
                    done = _keep(ends, sums, done, t, j, v, which, span, cand_score[rank] / (t + 1), cand_score[rank],
                                 cand_own[rank])
                continue
            tokens_at[t, going], parents_at[t, going] = v, j
            new_score[going], new_own[going] = cand_score[rank], cand_own[rank]
            for k in range(L):
                kept[k, :, going] = states[k, :, 0, j]
            going += 1
        if going == 0:
            break
        live = going
        for j in range(K):
            if j < live:
                score[j], own_sum[j] = new_score[j], new_own[j]
                past[j], fill[j] = new_past[j], new_fill[j]
                tokens[j] = tokens_at[t, j]
            else:
                tokens[j] = bos  # a row no beam holds: read, and never looked at
        for k in range(L):
            states[k, :, 0, :live] = kept[k, :, :live]
        _read(step, one_hot, embedding, input_weight, weight_ih, weight_hh, bias_ih, bias_hh, states, cache, tokens,
              gathered, xproj)
        ended = False
        for j in range(live):
            ended = ended or tokens[j] == eos
        if ended:  # </s> is read with <s> after it, as in training: one more step for those beams
            for k in range(L):
                kept[k] = states[k, :, 0]
            tokens[:] = bos
            _read(step, one_hot, embedding, input_weight, weight_ih, weight_hh, bias_ih, bias_hh, states, cache,
                  tokens, gathered, xproj)
            for j in range(K):
                if j >= live or tokens_at[t, j] != eos:
                    for k in range(L):
                        states[k, :, 0, j] = kept[k, :, j]
    return done


@functools.cache
def compiled_search(dtype):
    """_beam_block compiled for models of `dtype`, the step a function pointer (as the sampler's)."""
    F = numba.from_dtype(np.dtype(dtype))
    a1, a2, a3, a4, a5 = (types.Array(F, n, "C") for n in range(1, 6))
    i1, i2, f2 = types.Array(types.int64, 1, "C"), types.Array(types.int64, 2, "C"), types.Array(types.float64, 2, "C")
    step = types.FunctionType(types.none(a2, a4, types.int64, a2, a1, a2))
    i, f, b = types.int64, types.float64, types.boolean
    return typed_kernel(i(step, b, a2, a2, a3, a3, a2, a2, a2, a1, a5, a2, i1, i, i, b, i, i2, i2, i1, i1, b, f,
                          i, i, i2, i2, i2, f2))(_beam_block)


def search(sampler, width, length, stop_at_end):
    """The finished continuations of a beam search of `width` beams and `length` tokens from a
    seqkit.generation.sampler.Sampler that has read <s> and the prime (its state, history and
    controls): a list, best first, of (ids drawn, mean log-probability per token, total
    log-probability, the model's own total, (the stop string that ended it, the tokens its match
    spans) or None)."""
    if length == 0:
        return [(np.zeros(0, np.int64), 0.0, 0.0, 0.0, None)]
    c, (_, eos, bos) = sampler.controls, sampler.ends
    step, one_hot, embedding, input_weight, later_weight_ih, recurrent, bias_ih, bias_hh, out_w, out_b = sampler.weights
    L, S, _, _, H = sampler.states.shape
    states = np.zeros((L, S, 2, width, H), sampler.states.dtype)
    states[:, :, 0, 0] = sampler.states[:, :, 0, 0]
    cache = np.empty((width, sampler.cache.shape[1]), sampler.cache.dtype)
    P = max(sampler.past.size, int(sampler.fill[0]) + length + 1) if c.ngram else sampler.past.size
    past, fill = np.zeros((width, P), np.int64), np.zeros((width, 2), np.int64)
    past[0, :sampler.past.size], fill[0] = sampler.past, sampler.fill
    tokens_at, parents_at = np.zeros((length, width), np.int64), np.zeros((length, width), np.int64)
    ends, sums = np.zeros((width, 5), np.int64), np.zeros((width, 3))
    done = compiled_search(states.dtype)(step, one_hot, embedding, input_weight, later_weight_ih, recurrent, bias_ih,
                                         bias_hh, out_w, out_b, states, cache, c.banned, eos, bos, bool(stop_at_end),
                                         length, past, fill, c.stops, c.starts, c.skip_eos, c.penalty, c.window,
                                         c.ngram, tokens_at, parents_at, ends, sums)
    found = []
    for (t, beam, token, which, span), (mean, total, own) in zip(ends[:done].tolist(), sums[:done].tolist()):
        ids = [token]
        for s in range(t - 1, -1, -1):  # back through the beams it continued
            ids.append(int(tokens_at[s, beam]))
            beam = int(parents_at[s, beam])
        found.append((np.array(ids[::-1], np.int64), mean, total, own, None if which < 0 else (which, span)))
    return found
