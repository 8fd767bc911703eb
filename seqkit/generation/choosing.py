"""Samples chosen among several continuations rather than drawn once: the best of N samples
(best_of), and beam search's K most likely continuations (seqkit.generation.beam). Each comes as
a Choice: its text and how it was chosen.

Best-of draws candidate j with the seed seed + j, exactly as a sample of that seed is drawn alone
(so `seqkit sample --seed S+j` without --best-of draws it again), and keeps the `count` of lowest
loss: the model's own mean negative log-probability of the tokens drawn (natural log, at
temperature 1, before any control), which `seqkit score` measures of a text too. Ties keep the
lower seed first. Beam search is deterministic: the seed plays no part.
"""
from typing import NamedTuple

import numpy as np

from seqkit.generation.beam import search
from seqkit.generation.sampler import BLOCK, Sampler, draw_ids
from seqkit.text.options import BOS_ID, EOS_ID


class Choice(NamedTuple):
    """One continuation chosen: text (the prime first), seed (best-of's candidate, or a plain
    sample's; None for a beam), tokens drawn (None for a plain sample), loss (the model's own,
    nats per token drawn; None with no token, or for a plain sample), logprob (beam search: the
    total log-probability it ranked by; None otherwise)."""
    text: str
    seed: int | None
    tokens: int | None
    loss: float | None
    logprob: float | None = None


def choose(model, vocab, length, options, prime, seed, count):
    """`count` Choices, best first, by options.beam or options.best_of (a SamplingOptions whose
    check_count(count) holds)."""
    controls = options.resolve(vocab)
    prime_ids = vocab.encode(prime, frame=False) if prime else np.zeros(0, np.int64)
    if options.beam is not None:
        return _beam(model, vocab, length, options, controls, prime_ids, count)
    candidates = [_candidate(model, vocab, length, options, controls, prime_ids, seed + j)
                  for j in range(options.best_of)]
    return sorted(candidates, key=lambda c: np.inf if c.loss is None else c.loss)[:count]


def _sampler(model, options, controls, prime_ids, want_loss=False):
    sampler = Sampler(model, controls.banned, options.temperature, options.top_k, options.top_p, controls=controls,
                      want_loss=want_loss)
    sampler.remember(prime_ids)
    return sampler


def _text(vocab, prime_ids, ids):
    read = np.insert(ids, np.flatnonzero(ids == EOS_ID) + 1, BOS_ID)  # </s> read with <s>, as the sampler's text
    return vocab.decode(np.concatenate([prime_ids, read]).astype(np.int64))


def _candidate(model, vocab, length, options, controls, prime_ids, seed):
    sampler = _sampler(model, options, controls, prime_ids, want_loss=True)
    feed = np.concatenate([[BOS_ID], prime_ids]).astype(np.int64)
    blocks = list(draw_ids(sampler, feed, length, np.random.default_rng(seed), options.stop_at_end, BLOCK,
                           options.strip_stop))
    ids = np.concatenate(blocks) if blocks else np.zeros(0, np.int64)
    drawn = int(sampler.fill[1])  # every token drawn, the one that ended the sample included
    loss = -float(sampler.logprob[0]) / drawn if drawn else None
    return Choice(_text(vocab, prime_ids, ids), seed, drawn, loss)


def _beam(model, vocab, length, options, controls, prime_ids, count):
    sampler = _sampler(model, options, controls, prime_ids)
    feed = np.concatenate([[BOS_ID], prime_ids]).astype(np.int64)
    for start in range(0, len(feed), BLOCK):  # read <s> and the prime, drawing nothing
        sampler.run(feed[start:start + BLOCK], ())
    chosen = []
    for ids, _, total, own, which in search(sampler, options.beam, length, options.stop_at_end)[:count]:
        drawn = len(ids)
        shown = ids
        if which is not None and options.strip_stop:
            shown = ids[:len(ids) - which[1]]
        elif options.stop_at_end and drawn and ids[-1] == EOS_ID:
            shown = ids[:-1]
        chosen.append(Choice(_text(vocab, prime_ids, shown), None, drawn, -own / drawn if drawn else None,
                             total if drawn else None))
    return chosen

