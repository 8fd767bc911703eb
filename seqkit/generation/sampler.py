"""Drawing text from a model: warm the state on <s> and a prime, then draw token after token.

Draws are multinomial from the exact softmax of logits / temperature (temperature 0 is
argmax), optionally restricted to the top-k tokens (a k of the vocabulary's size or more: all
of them) or to the smallest set whose probability reaches top-p (nucleus sampling). <s> is
never drawn (it is only ever an input), nor <unk> unless allowed. A sample is `length` drawn
tokens, each </s> among them: after a </s> the model reads </s> and <s> and goes on into the
next unit, as units follow each other in training; with stop_at_end it ends at its first </s>.

Tokens are drawn a block at a time (BLOCK of them), the state carried from block to block, and
each block is decoded as it comes (seqkit.text.decoding), so a sample of any length streams in the
memory of one block, and the text is the same for any block size. Within a block the whole loop
(every layer's step, the output layer, softmax, truncation and the draw) runs as one compiled
call. The uniform numbers behind the draws come from the caller's np.random.Generator,
rng.random(n) for each block of n, so a seed gives the same text every time.
"""
import functools
import math
import secrets

import numba
import numpy as np
from numba import types

from seqkit._checks import check_count
from seqkit._jit import kernel, typed_kernel
from seqkit.text.decoding import Decoder
from seqkit.text.options import BOS_ID, EOS_ID, UNK_ID

BLOCK = 1024  # tokens drawn per compiled call: the memory of a sample, and how often its text is written


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


def kept(top_k, V):
    """top_k as the kernels take it: 0 for no truncation (None, or a k the V tokens do not exceed)."""
    return 0 if top_k is None or top_k >= V else int(top_k)


def distribution(logits, temperature=1.0, top_k=None, top_p=None):
    """The probabilities (B, V), float64, that `draw` samples from, for logits (B, V)."""
    logits = np.ascontiguousarray(logits, np.float64)
    probs = np.empty(logits.shape)
    for row, out in zip(logits, probs):
        distribution_row(row, float(temperature), kept(top_k, len(row)), 1.0 if top_p is None else float(top_p), out)
    return probs


def draw(logits, rng, temperature=1.0, top_k=None, top_p=None):
    """One token id per row of logits (B, V), by inverse-CDF draws from `distribution`."""
    probs = distribution(logits, temperature, top_k, top_p)
    return np.array([draw_row(row, u) for row, u in zip(probs, rng.random(len(probs)))])


def _draw_block(step, one_hot, embedding, input_weight, weight_ih, weight_hh, bias_ih, bias_hh, output_weight,
                output_bias, states, cache, feed, banned, eos, bos, stop_at_end, uniforms, temperature, top_k,
                top_p, out):
    """Run a model over the ids `feed`, then draw one token for each of the uniforms (n,) in
    [0, 1) into out (n,). A drawn token is the next input, and after </s> (eos) the model reads
    </s> and then <s> (bos), as in training, where units come back to back. Returns the number of
    tokens drawn: n, or with stop_at_end fewer, the first eos the last of them. The state of
    the last token drawn is not computed: the next call's feed starts with that token.

    step: the cell's step_packed, with weight_hh its packed weights, or its step_forward
    (seqkit.cells.registry). Layer 0 reads embedding rows, or with one_hot a column of
    input_weight (its weight_ih); layer k > 0 has weight_ih[k - 1]; weight_hh, bias_ih and
    bias_hh are stacked over the L layers. states (L, S, 2, 1, H): each layer's state in
    [:, :, 0], carried from call to call (the step writes [:, :, 1], copied back); cache (1, C)
    is the step's. banned ids are never drawn."""
    L, GH = bias_ih.shape[0], bias_ih.shape[1]
    dtype = output_weight.dtype
    xproj = np.empty((1, GH), dtype)
    logits, probs = np.empty((1, output_weight.shape[0]), dtype), np.empty(output_weight.shape[0])
    pending = np.empty(max(feed.size, 2), np.int64)  # the inputs to read before the next draw
    pending[:feed.size] = feed
    waiting, drawn = feed.size, 0
    while True:
        for i in range(waiting):
            token = pending[i]
            for k in range(L):
                if k > 0:
                    np.dot(states[k - 1, 0, 0], weight_ih[k - 1].T, xproj)
                elif one_hot:
                    xproj[0] = input_weight[:, token]
                else:
                    np.dot(embedding[token], input_weight.T, xproj[0])
                xproj += bias_ih[k]
                step(xproj, states[k], 0, weight_hh[k], bias_hh[k], cache)
                states[k, :, 0] = states[k, :, 1]
        if drawn == uniforms.size:
            return drawn
        np.dot(states[L - 1, 0, 0], output_weight.T, logits)
        row = logits[0]
        row += output_bias
        for token in banned:
            row[token] = -np.inf
        distribution_row(row, temperature, top_k, top_p, probs)
        token = draw_row(probs, uniforms[drawn])
        out[drawn] = token
        drawn += 1
        if token == eos and stop_at_end or drawn == uniforms.size:
            return drawn
        pending[0], waiting = token, 1
        if token == eos:
            pending[1], waiting = bos, 2


@functools.cache
def compiled_drawer(dtype):
    """_draw_block compiled for models of `dtype`, whatever their cell: the step arrives as a
    function pointer of the signature every cell's step_forward has."""
    F = numba.from_dtype(np.dtype(dtype))
    a1, a2, a3, a4, a5 = (types.Array(F, n, "C") for n in range(1, 6))
    i1, f1 = types.Array(types.int64, 1, "C"), types.Array(types.float64, 1, "C")
    step = types.FunctionType(types.none(a2, a4, types.int64, a2, a1, a2))
    return typed_kernel(types.int64(step, types.boolean, a2, a2, a3, a3, a2, a2, a2, a1, a5, a2, i1, i1, types.int64,
                                     types.int64, types.boolean, f1, types.float64, types.int64, types.float64,
                                     i1))(_draw_block)


class Sampler:
    """The compiled loop bound to a model and the options of a draw: the parameters stacked
    once, the state (the model's start state, or zeros) carried from one `run` to the next."""

    def __init__(self, model, banned, temperature=1.0, top_k=None, top_p=None, eos=EOS_ID, bos=BOS_ID):
        check_sampling_options(temperature, top_k, top_p)
        p, layers, dtype = model.parameters, [layer.params for layer in model.layers], model.dtype
        first, H = model.layers[0], model.layers[0].hidden_size
        kernels = first.kernels
        # The step on weights packed once here where the cell has one, else its plain step.
        step, pack = (kernels.step_packed, kernels.pack) if kernels.step_packed else (kernels.step_forward, None)
        recurrent = np.stack([pack(params["weight_hh"]) if pack else params["weight_hh"] for params in layers])
        stacked = [recurrent] + [np.stack([params[name] for params in layers]) for name in ("bias_ih", "bias_hh")]
        later_weight_ih = (np.stack([params["weight_ih"] for params in layers[1:]]) if len(layers) > 1
                           else np.empty((0, first.gates * H, H), dtype))
        embedding = np.zeros((1, 1), dtype) if model.one_hot else p["embedding.weight"]
        self.draw_block = compiled_drawer(dtype)
        self.weights = (step, model.one_hot, embedding, layers[0]["weight_ih"],
                        later_weight_ih, *stacked, model.output_weight, p["output.bias"])
        self.states = np.zeros((len(layers), first.state_size, 2, 1, H), dtype)
        for k, start in enumerate(model.start_state or ()):  # where units start (seqkit.nn.model)
            self.states[k, :, 0, 0] = start
        self.cache = np.empty((1, first.cell.cache_size * H), dtype)
        self.ends = (np.asarray(banned, np.int64), int(eos), int(bos))
        self.options = (float(temperature), kept(top_k, model.vocab_size), 1.0 if top_p is None else float(top_p))

    def run(self, feed, uniforms, stop_at_end=False):
        """The ids (n,) drawn with the uniforms (n,) after reading the ids `feed` (see
        _draw_block): n of them, or with stop_at_end up to the first </s>, which ends them."""
        out = np.empty(len(uniforms), np.int64)
        n = self.draw_block(*self.weights, self.states, self.cache, np.ascontiguousarray(feed, np.int64),
                            *self.ends, bool(stop_at_end), np.ascontiguousarray(uniforms, np.float64),
                            *self.options, out)
        return out[:n]


def draw_ids(sampler, feed, length, rng, stop_at_end=False, block=BLOCK):
    """The ids of one sample, an array per block of at most `block` tokens: `sampler` reads the
    ids `feed` (<s> and the prime), then draws `length` tokens, each block with rng.random(n).
    With stop_at_end the sample ends before its first </s>. The arrays joined are the same
    for any block size."""
    eos, bos = sampler.ends[1:]
    if length == 0:
        return
    while len(feed) > block:  # a long prime, read a block at a time
        sampler.run(feed[:block], ())
        feed = feed[block:]
    left = length
    while left:
        n = min(block, left)
        ids = sampler.run(feed, rng.random(n), stop_at_end)
        left -= n
        if stop_at_end and ids[-1] == eos:
            yield ids[:-1]
            return
        yield ids
        feed = [eos, bos] if ids[-1] == eos else ids[-1:]


def new_seed():
    """A random seed for a caller that gave none, small enough to read and type again."""
    return secrets.randbelow(2 ** 32)


def stream(model, vocab, length, rng, temperature=1.0, top_k=None, top_p=None, prime="", allow_unk=False,
           stop_at_end=False, block=BLOCK):
    """One sample as text, a piece at a time: the prime as the model reads it (<unk> for what its
    vocabulary lacks), then the text of each block of drawn tokens as it is drawn. `length`
    tokens are drawn (see the module docstring); the options are checked before this returns."""
    check_sampling_options(temperature, top_k, top_p)
    check_count("length", length, 0)
    check_count("block", block)
    prime_ids = vocab.encode(prime, frame=False) if prime else np.zeros(0, np.int64)
    banned = [BOS_ID] + ([] if allow_unk else [UNK_ID])
    sampler = Sampler(model, banned, temperature, top_k, top_p)
    feed = np.concatenate([[BOS_ID], prime_ids]).astype(np.int64)
    return _texts(Decoder(vocab), prime_ids, draw_ids(sampler, feed, length, rng, stop_at_end, block))


def _texts(decoder, prime_ids, blocks):
    yield decoder.decode(prime_ids, final=False)
    for ids in blocks:
        yield decoder.decode(np.insert(ids, np.flatnonzero(ids == EOS_ID) + 1, BOS_ID), final=False)  # </s> read with <s>
    yield decoder.decode([])


def generate(model, vocab, length, rng, temperature=1.0, top_k=None, top_p=None, prime="",
             count=1, allow_unk=False, stop_at_end=False):
    """`count` samples of `length` drawn tokens (see stream), one after another from rng, each as
    one text that begins with the prime. A sample that stop_at_end ends early leaves the rest of
    its block's uniforms unused (seqkit.lm gives each sample a generator of its own instead)."""
    check_count("count", count)
    return ["".join(stream(model, vocab, length, rng, temperature, top_k, top_p, prime, allow_unk, stop_at_end))
            for _ in range(count)]


def generate_ids(model, feed, banned, eos, uniforms, temperature=1.0, top_k=None, top_p=None):
    """The ids drawn after running `model` over the ids `feed`, one list per column of uniforms
    (length, count), each ending before its first `eos`; ids in `banned` are never drawn."""
    drawn = []
    for column in np.asarray(uniforms, np.float64).T:
        ids = Sampler(model, banned, temperature, top_k, top_p, eos).run(feed, column, stop_at_end=True)
        drawn.append(ids[:len(ids) - (len(ids) > 0 and ids[-1] == eos)].tolist())
    return drawn
