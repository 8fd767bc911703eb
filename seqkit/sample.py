"""Drawing text from a model: warm the state on <s> and a prime, then draw token after token.

Draws are multinomial from the exact softmax of logits / temperature (temperature 0 is
argmax), optionally restricted to the top-k tokens or to the smallest set whose probability
reaches top-p (nucleus sampling). <s> is never drawn (it is only ever an input), nor <unk>
unless allowed; a sample ends at </s> or after `length` tokens.

The whole generation loop (every layer's step, the output layer, softmax, truncation and the
draw) runs as one compiled call, rather than a Python call per layer and token. The uniform
numbers behind the draws come from the caller's np.random.Generator, so a seed gives the same
text every time.
"""
import functools
import math

import numba
import numpy as np
from numba import types

from seqkit._jit import kernel, typed_kernel
from seqkit.vocab import BOS, EOS, UNK


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


def _generate_ids(step, one_hot, embedding, input_weight, weight_ih, weight_hh, bias_ih, bias_hh, output_weight,
                  output_bias, states, cache, feed, banned, eos, uniforms, temperature, top_k, top_p, out):
    """Run a model over the ids `feed` (every row alike), then draw tokens: uniforms (length,
    count) in [0, 1) drive the draws; out (count, length) receives the ids drawn. Returns the
    number of tokens in each row (a row ends before its </s>).

    step: the cell's step_forward (seqkit.cells). Layer 0 reads embedding rows, or with one_hot a
    column of input_weight (its weight_ih); layer k > 0 has weight_ih[k - 1]; weight_hh, bias_ih
    and bias_hh are stacked over the L layers. states (L, S, 2, count, H): zeros, each layer's
    state in [:, :, 0] (the step writes [:, :, 1], copied back); cache (count, C) is the step's.
    banned ids are never drawn."""
    length, count = uniforms.shape
    L, GH = weight_hh.shape[0], weight_hh.shape[1]
    dtype = output_weight.dtype
    xproj = np.empty((count, GH), dtype)
    logits, probs = np.empty((count, output_weight.shape[0]), dtype), np.empty(output_weight.shape[0])
    tokens = np.full(count, feed[0])
    lengths = np.full(count, length)
    running = np.ones(count, np.bool_)
    for t in range(len(feed) + length - 1):
        if t < len(feed):
            tokens[:] = feed[t]
        for k in range(L):
            if k > 0:
                np.dot(states[k - 1, 0, 0], weight_ih[k - 1].T, xproj)
            elif one_hot:
                for b in range(count):
                    xproj[b] = input_weight[:, tokens[b]]
            else:
                for b in range(count):
                    np.dot(embedding[tokens[b]], input_weight.T, xproj[b])
            xproj += bias_ih[k]
            step(xproj, states[k], 0, weight_hh[k], bias_hh[k], cache)
            states[k, :, 0] = states[k, :, 1]
        drawn = t - len(feed) + 1  # the index of the token this step's logits predict
        if drawn < 0:
            continue
        np.dot(states[L - 1, 0, 0], output_weight.T, logits)
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


@functools.cache
def generator(dtype):
    """_generate_ids compiled for models of `dtype`, whatever their cell: the step arrives as a
    function pointer of the signature every cell's step_forward has."""
    F = numba.from_dtype(np.dtype(dtype))
    a1, a2, a3, a4, a5 = (types.Array(F, n, "C") for n in range(1, 6))
    i1, i2 = types.Array(types.int64, 1, "C"), types.Array(types.int64, 2, "C")
    f2 = types.Array(types.float64, 2, "C")
    step = types.FunctionType(types.none(a2, a4, types.int64, a2, a1, a2))
    return typed_kernel(i1(step, types.boolean, a2, a2, a3, a3, a2, a2, a2, a1, a5, a2, i1, i1, types.int64, f2,
                           types.float64, types.int64, types.float64, i2))(_generate_ids)


def generate_ids(model, feed, banned, eos, uniforms, temperature=1.0, top_k=None, top_p=None):
    """The ids drawn after running `model` over the ids `feed`, one list per column of uniforms
    (length, count), each ending before its first `eos`; ids in `banned` are never drawn."""
    p, layers, dtype = model.parameters, [layer.params for layer in model.layers], model.dtype
    first, H = model.layers[0], model.layers[0].hidden_size
    length, count = uniforms.shape
    stacked = {name: np.stack([params[name] for params in layers]) for name in ("weight_hh", "bias_ih", "bias_hh")}
    later_weight_ih = (np.stack([params["weight_ih"] for params in layers[1:]]) if len(layers) > 1
                       else np.empty((0, first.gates * H, H), dtype))
    embedding = np.zeros((1, 1), dtype) if model.one_hot else p["embedding.weight"]
    states = np.zeros((len(layers), first.state_size, 2, count, H), dtype)
    cache = np.empty((count, first.cell.cache_size * H), dtype)
    out = np.empty((count, length), np.int64)
    lengths = generator(dtype)(
        first.kernels.step_forward, model.one_hot, embedding, layers[0]["weight_ih"], later_weight_ih,
        stacked["weight_hh"], stacked["bias_ih"], stacked["bias_hh"], model.output_weight, p["output.bias"],
        states, cache, np.asarray(feed, np.int64), np.asarray(banned, np.int64), int(eos),
        np.ascontiguousarray(uniforms, np.float64), float(temperature), top_k or 0,
        1.0 if top_p is None else float(top_p), out)
    return [out[b, :lengths[b]].tolist() for b in range(count)]


def generate(model, vocab, length, rng, temperature=1.0, top_k=None, top_p=None, prime="",
             count=1, allow_unk=False):
    """`count` independent samples of at most `length` new tokens each, as text that begins
    with the prime. The samples run side by side as one batch."""
    check_sampling_options(temperature, top_k, top_p)
    prime_ids = [int(i) for i in vocab.encode(prime, frame=False)] if prime else []
    if length == 0:
        return [vocab.decode(prime_ids) for _ in range(count)]
    banned = [vocab.id_of(BOS)] + ([] if allow_unk else [vocab.id_of(UNK)])
    drawn = generate_ids(model, [vocab.id_of(BOS)] + prime_ids, banned, vocab.id_of(EOS),
                         rng.random((length, count)), temperature, top_k, top_p)
    return [vocab.decode(prime_ids + ids) for ids in drawn]
