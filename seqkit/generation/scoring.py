"""Scoring text: how likely a model finds each of several texts, in total and token by token,
and what it expects next after a prime.

Each text is read as a unit that starts where a sample starts: the model's start state (or
zeros) and <s>, then the text's tokens as the run frames them, </s> last. Every token after the
first <s> is predicted, </s> included; <s> never is (as `seqkit eval` counts them). logprob is
the sum of the natural-log probabilities of the predicted tokens, loss its negative over their
number (nats per token) and perplexity e ** loss. A token's rank is 1 for the token the model
found most likely, 1 + the number of tokens it found more likely otherwise.

Texts are scored B at a time, by length so that a batch holds texts of about one length (the
shorter padded), each batch run in chunks of CHUNK steps with the state carried, so a text of
any length is scored in the memory of a chunk; the output layer and its softmax go a block of
rows at a time, only at the positions predicted.
"""
import numpy as np

from seqkit.nn.kernels import linear_forward
from seqkit.text.options import BOS_ID, UNK_ID

BATCH = 64    # texts scored side by side
CHUNK = 256   # time steps per forward pass, the state carried between them
ROWS = 2048   # predicted positions whose logits exist at once


def start_state(model, batch):
    """The state units start from, for `batch` columns: the model's start state, or None (zeros)."""
    if model.start_state is None:
        return [None] * len(model.layers)
    return [layer.pack_state([np.ascontiguousarray(np.repeat(s[None], batch, axis=0)) for s in start])
            for layer, start in zip(model.layers, model.start_state)]


def top_outputs(model, inputs, state):
    """The top layer's output (T, B, H) for inputs (T, B), from state (one per layer, None for
    zeros), no dropout; and the state after them."""
    p = model.parameters
    x = None if model.one_hot else p["embedding.weight"][inputs]
    state = list(state)
    for k, layer in enumerate(model.layers):
        if x is None:
            xproj = np.ascontiguousarray(layer.params["weight_ih"].T[inputs] + layer.params["bias_ih"])
            x, state[k], _ = layer.forward_projected(xproj, state[k])
        else:
            x, state[k], _ = layer.forward(np.ascontiguousarray(x), state[k])
    return x, state


def output_logits(model, rows):
    """The output layer's logits (N, V), float64, for rows (N, H) of the top layer's output.
    The product runs compiled, in SciPy's OpenBLAS as training's does, not in NumPy's: where
    NumPy was imported before seqkit, NumPy's idle BLAS threads spin for a while after each
    product (seqkit._cores) and take the core that the next batch's recurrence runs its second
    thread on, which halved scoring's speed."""
    weight = model.output_weight
    logits = np.empty((1, len(rows), weight.shape[0]), rows.dtype)
    linear_forward(np.ascontiguousarray(rows)[None], weight, model.parameters["output.bias"], logits)
    return logits[0].astype(np.float64)


def log_probabilities(model, outputs, targets, top=0):
    """For outputs (N, H) and targets (N,): each target's log-probability (N,) float64, its rank
    (N,), and with top > 0 the `top` most likely tokens (N, top) and their log-probabilities."""
    N, top = len(targets), min(top, model.output_weight.shape[0])
    logp, rank = np.empty(N), np.empty(N, np.int64)
    best, best_logp = np.empty((N, top), np.int64), np.empty((N, top))
    for start in range(0, N, ROWS):
        stop = min(start + ROWS, N)
        logits = output_logits(model, outputs[start:stop])
        rows = np.arange(stop - start)
        chosen = logits[rows, targets[start:stop]]
        rank[start:stop] = 1 + np.count_nonzero(logits > chosen[:, None], axis=1)
        logits -= logits.max(axis=1, keepdims=True)
        normalizer = np.log(np.exp(logits).sum(axis=1))
        logp[start:stop] = logits[rows, targets[start:stop]] - normalizer
        if top:
            order = np.argpartition(-logits, top - 1, axis=1)[:, :top]
            values = np.take_along_axis(logits, order, axis=1)
            ranked = np.argsort(-values, axis=1, kind="stable")
            best[start:stop] = np.take_along_axis(order, ranked, axis=1)
            best_logp[start:stop] = np.take_along_axis(values, ranked, axis=1) - normalizer[:, None]
    return logp, rank, best, best_logp


def score(model, vocab, texts, per_token=False, top=5):
    """A dict per text (in order): text, tokens (the predicted ones), logprob, loss, perplexity,
    unknown_tokens (those the vocabulary lacks, read as <unk>); with per_token, "per_token": a
    dict per predicted token, {token, logprob, rank, top: [{token, logprob}, ...]} with the `top`
    most likely tokens at its place."""
    encoded = [np.asarray(vocab.encode(text), np.int64) for text in texts]
    results = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    for first in range(0, len(order), BATCH):
        batch = order[first:first + BATCH]
        for i, found in zip(batch, _score_batch(model, vocab, [encoded[i] for i in batch], per_token, top)):
            ids = encoded[i]
            found.update(text=texts[i], unknown_tokens=int(np.count_nonzero(ids == UNK_ID)))
            results[i] = _ordered(found)
    return results


def _ordered(found):
    loss = -found["logprob"] / max(found["tokens"], 1)
    record = {"text": found["text"], "tokens": found["tokens"], "logprob": found["logprob"], "loss": loss,
              "perplexity": float(np.exp(min(loss, 700))), "unknown_tokens": found["unknown_tokens"]}
    if "per_token" in found:
        record["per_token"] = found["per_token"]
    return record


def _score_batch(model, vocab, encoded, per_token, top):
    """score's sums (and per-token dicts) for the ids of a batch of texts, each <s> ... </s>."""
    B, T = len(encoded), max(len(ids) for ids in encoded) - 1
    inputs = np.full((T, B), BOS_ID, np.int64)
    targets = np.full((T, B), -1, np.int64)  # -1: padding, never predicted
    for b, ids in enumerate(encoded):
        inputs[:len(ids) - 1, b], targets[:len(ids) - 1, b] = ids[:-1], ids[1:]
    totals, counts = np.zeros(B), np.zeros(B, np.int64)
    details = [[] for _ in range(B)] if per_token else None
    state = start_state(model, B)
    for start in range(0, T, CHUNK):
        outputs, state = top_outputs(model, inputs[start:start + CHUNK], state)
        chunk = targets[start:start + CHUNK]
        t, b = np.nonzero((chunk >= 0) & (chunk != BOS_ID))  # the predicted positions, time-major
        if not len(t):
            continue
        logp, rank, best, best_logp = log_probabilities(model, outputs[t, b], chunk[t, b], top if per_token else 0)
        totals += np.bincount(b, weights=logp, minlength=B)
        counts += np.bincount(b, minlength=B)
        if per_token:
            for row in np.argsort(b, kind="stable").tolist():  # each text's tokens in order
                details[b[row]].append({"token": vocab.tokens[chunk[t[row], b[row]]], "logprob": float(logp[row]),
                                        "rank": int(rank[row]),
                                        "top": [{"token": vocab.tokens[v], "logprob": float(lp)}
                                                for v, lp in zip(best[row].tolist(), best_logp[row].tolist())]})
    found = [{"tokens": int(counts[b]), "logprob": float(totals[b])} for b in range(B)]
    if per_token:
        for record, tokens in zip(found, details):
            record["per_token"] = tokens
    return found


def next_token_probabilities(model, vocab, prime, k):
    """The k tokens the model finds most likely to follow <s> and the prime, most likely first:
    a list of (token, probability)."""
    ids = np.concatenate([[BOS_ID], vocab.encode(prime, frame=False)]).astype(np.int64)
    state = start_state(model, 1)
    for start in range(0, len(ids), CHUNK):
        outputs, state = top_outputs(model, ids[start:start + CHUNK, None], state)
    logits = output_logits(model, outputs[-1])[0]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")[:k]
    return [(vocab.tokens[v], float(probs[v])) for v in order.tolist()]
