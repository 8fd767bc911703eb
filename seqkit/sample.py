"""Drawing text from a model: warm the state on <s> and a prime, then draw token after token.

Draws are multinomial from the exact softmax of logits / temperature (temperature 0 is
argmax), optionally restricted to the top-k tokens or to the smallest set whose probability
reaches top-p (nucleus sampling). <s> is never drawn (it is only ever an input), nor <unk>
unless allowed; a sample ends at </s> or after `length` tokens.

The whole generation loop (every layer's step, the output layer, softmax, truncation and the
draw) runs as one compiled call, `generate_ids`: stepping the model from Python costs tens of
microseconds a token in calls alone. The uniform numbers behind the draws come from the
caller's np.random.Generator, so a seed gives the same text every time.
"""
import math

import numpy as np

from seqkit._jit import kernel
from seqkit.cells.gru import gru_step_forward
from seqkit.cells.lstm import lstm_step_forward
from seqkit.cells.rnn import rnn_step_forward
from seqkit.vocab import BOS, EOS, UNK

CELL_CODES = {"rnn": 0, "lstm": 1, "gru": 2}


def check_sampling_options(temperature, top_k, top_p):
    """Raise ValueError naming the option for values that have no meaning."""
    if not 0 <= temperature < math.inf:
        raise ValueError(f"temperature must be zero (argmax) or positive and finite, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top-k must be at least 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top-p must be in (0, 1], got {top_p}")


@kernel
def distribution_row(logits, temperature, top_k, top_p, probs):
    """Writes probs (V,), float64: what a draw samples from for one row of logits (V,).
    top_k 0 and top_p 1 mean no truncation."""
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


def distribution(logits, temperature=1.0, top_k=None, top_p=None):
    """The probabilities (B, V), float64, that `draw` samples from, for logits (B, V)."""
    logits = np.ascontiguousarray(logits, np.float64)
    probs = np.empty(logits.shape)
    for row, out in zip(logits, probs):
        distribution_row(row, float(temperature), top_k or 0, 1.0 if top_p is None else float(top_p), out)
    return probs


def draw(logits, rng, temperature=1.0, top_k=None, top_p=None):
    """One token id per row of logits (B, V), by inverse-CDF draws from `distribution`."""
    probs = distribution(logits, temperature, top_k, top_p)
    return np.array([draw_row(row, u) for row, u in zip(probs, rng.random(len(probs)))])


@kernel
def generate_ids(cell, relu, one_hot, embedding, weight_ih, weight_hh, bias_ih, bias_hh, output_weight,
                 output_bias, feed, banned, eos, uniforms, temperature, top_k, top_p, out):
    """Run a model of len(weight_ih) layers over the ids `feed` (every row alike), then draw
    tokens: uniforms (length, count) in [0, 1) drive the draws; out (count, length) receives
    the ids drawn. Returns the number of tokens in each row (a row ends before its </s>).

    cell: 0 RNN (relu: its nonlinearity), 1 LSTM, 2 GRU. Layer 0 reads embedding rows, or with
    one_hot a column of weight_ih[0]. weight_ih... are tuples with one array per layer;
    banned ids are never drawn."""
    length, count = uniforms.shape
    L, GH, H = len(weight_hh), weight_hh[0].shape[0], weight_hh[0].shape[1]
    dtype = output_weight.dtype
    states = np.zeros((2, L, count, H), dtype)  # h, double-buffered: read one, write the other
    cells = np.zeros((2, L, count, H), dtype)   # LSTM's c, likewise
    xproj, gates, hn = np.empty((count, GH), dtype), np.empty((count, GH), dtype), np.empty((count, H), dtype)
    logits, probs = np.empty((count, output_weight.shape[0]), dtype), np.empty(output_weight.shape[0])
    tokens = np.full(count, feed[0])
    lengths = np.full(count, length)
    running = np.ones(count, np.bool_)
    now = 0
    for t in range(len(feed) + length - 1):
        if t < len(feed):
            tokens[:] = feed[t]
        for k in range(L):
            if k > 0:
                np.dot(states[1 - now, k - 1], weight_ih[k].T, xproj)
            elif one_hot:
                for b in range(count):
                    xproj[b] = weight_ih[0][:, tokens[b]]
            else:
                for b in range(count):
                    np.dot(embedding[tokens[b]], weight_ih[0].T, xproj[b])
            xproj += bias_ih[k]
            h_prev, h = states[now, k], states[1 - now, k]
            if cell == 0:
                rnn_step_forward(xproj, h_prev, weight_hh[k], bias_hh[k], relu, h)
            elif cell == 1:
                lstm_step_forward(xproj, h_prev, cells[now, k], weight_hh[k], bias_hh[k], gates, h, cells[1 - now, k])
            else:
                gru_step_forward(xproj, h_prev, weight_hh[k], bias_hh[k], gates, hn, h)
        now = 1 - now
        drawn = t - len(feed) + 1  # the index of the token this step's logits predict
        if drawn < 0:
            continue
        np.dot(states[now, L - 1], output_weight.T, logits)
        for b in range(count):
            if not running[b]:
                continue
            row = logits[b]
            row += output_bias
            for token in banned:
                row[token] = -np.inf
            distribution_row(row, temperature, top_k, top_p, probs)
            tokens[b] = draw_row(probs, uniforms[drawn, b])
            if tokens[b] == eos:
                running[b] = False
                lengths[b] = drawn
            else:
                out[b, drawn] = tokens[b]
        if not running.any():
            break
    return lengths


def generate(model, vocab, length, rng, temperature=1.0, top_k=None, top_p=None, prime="",
             count=1, allow_unk=False):
    """`count` independent samples of at most `length` new tokens each, as text that begins
    with the prime. The samples run side by side as one batch."""
    check_sampling_options(temperature, top_k, top_p)
    prime_ids = [int(i) for i in vocab.encode(prime, frame=False)] if prime else []
    if length == 0:
        return [vocab.decode(prime_ids) for _ in range(count)]
    banned = [vocab.id_of(BOS)] + ([] if allow_unk else [vocab.id_of(UNK)])
    p, cell = model.parameters, model.config["cell"]
    layers = [layer.params for layer in model.layers]
    embedding = np.zeros((1, 1), model.dtype) if model.one_hot else p["embedding.weight"]
    out = np.empty((count, length), np.int64)
    lengths = generate_ids(
        CELL_CODES[cell], model.config["nonlinearity"] == "relu", model.one_hot, embedding,
        *(tuple(params[name] for params in layers) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
        p["output.weight"], p["output.bias"], np.array([vocab.id_of(BOS)] + prime_ids, np.int64),
        np.array(banned, np.int64), vocab.id_of(EOS), rng.random((length, count)), float(temperature),
        top_k or 0, 1.0 if top_p is None else float(top_p), out)
    return [vocab.decode(prime_ids + out[b, :lengths[b]].tolist()) for b in range(count)]
