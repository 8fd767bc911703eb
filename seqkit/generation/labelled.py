"""Drawing text that carries a label: a labelled run (TextOptions.label_from) began every unit it
trained on with <s> and the unit's label token, so a sample conditioned on a label feeds <s>,
the label and the prime, draws the unit, and after each </s> it draws feeds </s>, <s> and the
label again, so that every unit of the sample carries it. The label tokens are never drawn.

The same drawing as seqkit.generation.sampler.stream (its compiled Sampler, a block of tokens at
a time, the state carried), one unit at a time: `length` tokens counting each </s>, or with
stop_at_end the first unit only."""
import numpy as np

from seqkit._checks import check_count
from seqkit.generation.sampler import BLOCK, Sampler, draw_ids
from seqkit.text.decoding import Decoder
from seqkit.text.options import BOS_ID, EOS_ID


def labelled(model, vocab, length, rng, options, prime="", block=BLOCK):
    """One sample as text, a piece at a time, each of its units begun with options.label (see
    the module docstring), drawn with the controls of `options` (a SamplingOptions); the options
    are checked before this returns. A stop string ends the whole sample."""
    check_count("length", length, 0)
    controls = options.resolve(vocab)
    label_id = vocab.labels[options.label]
    prime_ids = vocab.encode(prime, frame=False) if prime else np.zeros(0, np.int64)
    sampler = Sampler(model, controls.banned, options.temperature, options.top_k, options.top_p, controls=controls)
    sampler.remember(prime_ids)
    # Each unit the prime begins (after each of its <s>) carries the label, as in training.
    labelled_prime = np.insert(prime_ids, np.flatnonzero(prime_ids == BOS_ID) + 1, label_id)
    feed = np.concatenate([[BOS_ID, label_id], labelled_prime]).astype(np.int64)
    return _units(sampler, Decoder(vocab), feed, prime_ids, label_id, length, rng, options, block)


def _units(sampler, decoder, feed, prime_ids, label_id, length, rng, options, block):
    yield decoder.decode(prime_ids, final=False)
    left = length
    while left:
        drawn = 0
        for ids in draw_ids(sampler, feed, left, rng, True, block, options.strip_stop):
            drawn += len(ids)  # a </s> here ends a stop string: read as the sampler's stream reads it, with <s>
            yield decoder.decode(np.insert(ids, np.flatnonzero(ids == EOS_ID) + 1, BOS_ID), final=False)
        left -= drawn
        if not left or sampler.stopped is not None:  # the length ran out inside the unit, or a stop string
            break
        left -= 1  # the </s> that ended the unit, drawn
        if options.stop_at_end:
            break
        yield decoder.decode([EOS_ID, BOS_ID, label_id], final=False)
        feed = np.array([EOS_ID, BOS_ID, label_id], np.int64)
    yield decoder.decode([])
    return int(sampler.fill[1])  # the tokens drawn, as sampler._texts counts them
