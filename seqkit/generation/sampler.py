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

The controls of seqkit.generation.controls run inside the same compiled loop, on each row of
logits before the draw: the bans, the repetition penalty, the n-grams not to repeat; after the
draw, the stop strings are matched against the sample's history (seqkit.generation.rows), which
is carried from block to block like the state, so that a stop string drawn across two blocks
ends the sample all the same.
"""
import functools
import secrets

import numba
import numpy as np
from numba import types

from seqkit._checks import check_count
from seqkit._jit import typed_kernel
from seqkit.generation.controls import SamplingOptions, bans_only
from seqkit.generation.rows import (
    ban_repeats,
    distribution_row,
    draw_row,
    log_normalizer,
    penalize,
    remember,
    stop_matched,
)
from seqkit.text.decoding import Decoder
from seqkit.text.options import BOS_ID, EOS_ID

BLOCK = 1024  # tokens drawn per compiled call: the memory of a sample, and how often its text is written


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
                top_p, past, fill, stops, starts, skip_eos, penalty, window, ngram, want_loss, result, loss, out):
    """Run a model over the ids `feed`, then draw one token for each of the uniforms (n,) in
    [0, 1) into out (n,). A drawn token is the next input, and after </s> (eos) the model reads
    </s> and then <s> (bos), as in training, where units come back to back. Returns the number of
    tokens drawn: n, or fewer when a stop string was drawn (result[0] = its index, result[1] =
    the tokens its match spans; result[0] stays -1 otherwise) or, with stop_at_end, the first
    eos, the last of them. The state of the last token drawn is not computed: the next call's
    feed starts with that token.

    step: the cell's step_packed, with weight_hh its packed weights, or its step_forward
    (seqkit.cells.registry). Layer 0 reads embedding rows, or with one_hot a column of
    input_weight (its weight_ih); layer k > 0 has weight_ih[k - 1]; weight_hh, bias_ih and
    bias_hh are stacked over the L layers. states (L, S, 2, 1, H): each layer's state in
    [:, :, 0], carried from call to call (the step writes [:, :, 1], copied back); cache (1, C)
    is the step's. banned ids are never drawn. The history past and fill (seqkit.generation.rows)
    are carried from call to call too: each drawn token is remembered there, where the penalty
    (penalty 1 or window 0: off), the n-grams not to repeat (ngram 0: off) and the stop strings
    (stops[starts[s]:starts[s + 1]]) look. With want_loss, loss[0] gains the model's own
    log-probability of each token drawn (its logits before any control, temperature 1)."""
    L, GH = bias_ih.shape[0], bias_ih.shape[1]
    dtype, V = output_weight.dtype, output_weight.shape[0]
    xproj = np.empty((1, GH), dtype)
    logits, probs = np.empty((1, V), dtype), np.empty(V)
    seen = np.zeros(V, np.bool_)
    saved_ids, saved_values = np.empty(V, np.int64), np.empty(V, dtype)
    pending = np.empty(max(feed.size, 2), np.int64)  # the inputs to read before the next draw
    pending[:feed.size] = feed
    waiting, drawn = feed.size, 0
    result[0] = -1
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
        normalizer = log_normalizer(row) if want_loss else 0.0
        for token in banned:
            row[token] = -np.inf
        if window:
            penalize(row, past, fill, window, penalty, seen)
        if ngram:
            ban_repeats(row, past, fill, ngram, saved_ids, saved_values)
        distribution_row(row, temperature, top_k, top_p, probs)
        token = draw_row(probs, uniforms[drawn])
        if want_loss:
            np.dot(states[L - 1, 0, 0], output_weight[token], logits[0, :1])
            loss[0] += np.float64(logits[0, 0] + output_bias[token]) - normalizer
        out[drawn] = token
        drawn += 1
        remember(past, fill, token, True)
        if stops.size and stop_matched(past, fill, stops, starts, skip_eos, eos, result):
            return drawn  # before stop_at_end's test: a stop string may end with </s> ("\n")
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
    i, f, b = types.int64, types.float64, types.boolean
    return typed_kernel(i(step, b, a2, a2, a3, a3, a2, a2, a2, a1, a5, a2, i1, i1, i, i, b, f1, f, i, f,
                          i1, i1, i1, i1, b, f, i, i, b, i1, f1, i1))(_draw_block)


class Sampler:
    """The compiled loop bound to a model and the options of a draw: the parameters stacked
    once, the state (the model's start state, or zeros) and the history (seqkit.generation.rows)
    carried from one `run` to the next. controls: a seqkit.generation.controls.Controls, whose
    bans replace `banned`; want_loss: sum the model's log-probability of each token drawn into
    `logprob`."""

    def __init__(self, model, banned, temperature=1.0, top_k=None, top_p=None, eos=EOS_ID, bos=BOS_ID,
                 controls=None, want_loss=False):
        SamplingOptions(temperature, top_k, top_p)  # refuses what has no meaning
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
        self.controls = controls = bans_only(banned) if controls is None else controls
        self.ends = (controls.banned, int(eos), int(bos))
        self.options = (float(temperature), kept(top_k, model.vocab_size), 1.0 if top_p is None else float(top_p))
        self.past = np.zeros(controls.ring, np.int64)
        self.fill, self.result, self.logprob = np.zeros(2, np.int64), np.full(2, -1, np.int64), np.zeros(1)
        self.want_loss = bool(want_loss)

    def remember(self, ids):
        """Put the prime's ids (<s> left out) in the history, as the penalty and the n-grams
        look back on them; a stop string is matched within the tokens drawn only."""
        ids = np.asarray(ids, np.int64)
        ids = ids[ids != self.ends[2]]
        self._room(len(ids))
        P, n = self.past.size, int(self.fill[0])
        if P:
            kept_ids = ids[-P:]
            self.past[(n + len(ids) - len(kept_ids) + np.arange(len(kept_ids))) % P] = kept_ids
        self.fill[0] += len(ids)

    def _room(self, more):
        """With no_repeat_ngram the history holds the whole sample: room for `more` tokens."""
        if self.controls.ngram and self.past.size < self.fill[0] + more:
            grown = np.zeros(max(2 * self.past.size, int(self.fill[0]) + more, 64), np.int64)
            grown[:self.past.size] = self.past
            self.past = grown

    @property
    def stopped(self):
        """(index of the stop string that ended the sample, tokens its match spans), or None."""
        return None if self.result[0] < 0 else (int(self.result[0]), int(self.result[1]))

    def run(self, feed, uniforms, stop_at_end=False):
        """The ids (n,) drawn with the uniforms (n,) after reading the ids `feed` (see
        _draw_block): n of them, or fewer up to a stop string or, with stop_at_end, the first
        </s>, which ends them."""
        out = np.empty(len(uniforms), np.int64)
        self._room(len(uniforms))
        c = self.controls
        n = self.draw_block(*self.weights, self.states, self.cache, np.ascontiguousarray(feed, np.int64),
                            *self.ends, bool(stop_at_end), np.ascontiguousarray(uniforms, np.float64),
                            *self.options, self.past, self.fill, c.stops, c.starts, c.skip_eos, c.penalty, c.window,
                            c.ngram, self.want_loss, self.result, self.logprob, out)
        return out[:n]


def draw_ids(sampler, feed, length, rng, stop_at_end=False, block=BLOCK, strip_stop=False):
    """The ids of one sample, an array per block of at most `block` tokens: `sampler` reads the
    ids `feed` (<s> and the prime), then draws `length` tokens, each block with rng.random(n).
    With stop_at_end the sample ends before its first </s>; a stop string ends it after the
    string, or with strip_stop before it (the tokens that could begin one are held back until
    the next block says whether they do). The arrays joined are the same for any block size."""
    eos, bos = sampler.ends[1:]
    if length == 0:
        return
    while len(feed) > block:  # a long prime, read a block at a time
        sampler.run(feed[:block], ())
        feed = feed[block:]
    held = np.zeros(0, np.int64)  # with strip_stop: drawn tokens that may begin a stop string
    left = length
    while left:
        n = min(block, left)
        ids = sampler.run(feed, rng.random(n), stop_at_end)
        left -= n
        feed = [eos, bos] if len(ids) and ids[-1] == eos else ids[-1:]
        if strip_stop:
            ids = np.concatenate([held, ids])
        if sampler.stopped is not None:
            yield ids[:len(ids) - sampler.stopped[1]] if strip_stop else ids
            return
        if stop_at_end and len(ids) and ids[-1] == eos:
            yield ids[:-1]
            return
        if strip_stop and left:
            cut = max(0, len(ids) - _may_begin_stop(ids, sampler.controls))
            ids, held = ids[:cut], ids[cut:]
        yield ids


def _may_begin_stop(ids, controls):
    """How many of the last ids could be the start of a stop string: the longest's length less
    one, in tokens that read as text (a skipped </s> does not count)."""
    need, count = controls.longest - 1, 0
    for token in ids[::-1].tolist():
        if need <= 0:
            break
        count += 1
        if not (controls.skip_eos and token == EOS_ID):
            need -= 1
    return count


def new_seed():
    """A random seed for a caller that gave none, small enough to read and type again."""
    return secrets.randbelow(2 ** 32)


def stream(model, vocab, length, rng, temperature=1.0, top_k=None, top_p=None, prime="", allow_unk=False,
           stop_at_end=False, block=BLOCK, **controls):
    """One sample as text, a piece at a time: the prime as the model reads it (<unk> for what its
    vocabulary lacks), then the text of each block of drawn tokens as it is drawn. `length`
    tokens are drawn (see the module docstring); `controls` are the other fields of
    SamplingOptions (stop, ban, ...); the options are checked before this returns."""
    options = SamplingOptions(temperature, top_k, top_p, stop_at_end, allow_unk, **controls)
    return stream_options(model, vocab, length, rng, options, prime, block)


def stream_options(model, vocab, length, rng, options, prime="", block=BLOCK):
    """stream, with the options as one SamplingOptions (but beam and best_of: seqkit.generation.choosing)."""
    check_count("length", length, 0)
    check_count("block", block)
    controls = options.resolve(vocab)
    prime_ids = vocab.encode(prime, frame=False) if prime else np.zeros(0, np.int64)
    sampler = Sampler(model, controls.banned, options.temperature, options.top_k, options.top_p, controls=controls)
    sampler.remember(prime_ids)
    feed = np.concatenate([[BOS_ID], prime_ids]).astype(np.int64)
    blocks = draw_ids(sampler, feed, length, rng, options.stop_at_end, block, options.strip_stop)
    return _texts(Decoder(vocab), prime_ids, blocks, sampler)


def _texts(decoder, prime_ids, blocks, sampler):
    """The pieces of text; the generator's value (StopIteration.value) is the number of tokens
    drawn, the one that ended the sample included, as best-of counts them."""
    yield decoder.decode(prime_ids, final=False)
    for ids in blocks:
        yield decoder.decode(np.insert(ids, np.flatnonzero(ids == EOS_ID) + 1, BOS_ID), final=False)  # </s> read with <s>
    yield decoder.decode([])
    return int(sampler.fill[1])


def generate(model, vocab, length, rng, temperature=1.0, top_k=None, top_p=None, prime="",
             count=1, allow_unk=False, stop_at_end=False, **controls):
    """`count` samples of `length` drawn tokens (see stream), one after another from rng, each as
    one text that begins with the prime. A sample that stop_at_end ends early leaves the rest of
    its block's uniforms unused (seqkit.lm gives each sample a generator of its own instead)."""
    check_count("count", count)
    return ["".join(stream(model, vocab, length, rng, temperature, top_k, top_p, prime, allow_unk, stop_at_end,
                           **controls)) for _ in range(count)]


def generate_ids(model, feed, banned, eos, uniforms, temperature=1.0, top_k=None, top_p=None):
    """The ids drawn after running `model` over the ids `feed`, one list per column of uniforms
    (length, count), each ending before its first `eos`; ids in `banned` are never drawn."""
    drawn = []
    for column in np.asarray(uniforms, np.float64).T:
        ids = Sampler(model, banned, temperature, top_k, top_p, eos).run(feed, column, stop_at_end=True)
        drawn.append(ids[:len(ids) - (len(ids) > 0 and ids[-1] == eos)].tolist())
    return drawn
