"""Drawing text that carries a label: a labelled run (TextOptions.label_from) began every unit it
trained on with <s> and the unit's label token, so a sample conditioned on a label feeds <s>,
the label and the prime, draws the unit, and after each </s> it draws feeds </s>, <s> and the
label again, so that every unit of the sample carries it. The label tokens are never drawn.

The same drawing as seqkit.generation.sampler.stream (its compiled Sampler, a block of tokens at
a time, the state carried), one unit at a time: `length` tokens counting each </s>, or with
stop_at_end the first unit only."""
import numpy as np

from seqkit._checks import check_count
from seqkit.errors import OptionError, option
from seqkit.generation.sampler import BLOCK, Sampler, check_sampling_options, draw_ids
from seqkit.text.decoding import Decoder
from seqkit.text.options import BOS_ID, EOS_ID, UNK_ID


def check_label(vocab, label):
    """The id of `label` in vocab, or an OptionError listing the labels there are."""
    if label in vocab.labels:
        return vocab.labels[label]
    if not vocab.labels:
        raise OptionError(f"{option('label')} {label!r}: this model was trained without labels (train with "
                          f"{option('label_from')} to condition on them)", field="label", value=label)
    raise OptionError(f"unknown {option('label')} {label!r}: the model's labels are {', '.join(sorted(vocab.labels))}",
                      field="label", value=label)


def labelled(model, vocab, label, length, rng, temperature=1.0, top_k=None, top_p=None, prime="", allow_unk=False,
             stop_at_end=False, block=BLOCK):
    """One sample as text, a piece at a time, each of its units begun with `label` (see the
    module docstring); the options are checked before this returns."""
    label_id = check_label(vocab, label)
    check_sampling_options(temperature, top_k, top_p)
    check_count("length", length, 0)
    prime_ids = vocab.encode(prime, frame=False) if prime else np.zeros(0, np.int64)
    banned = [BOS_ID, *vocab.labels.values()] + ([] if allow_unk else [UNK_ID])
    sampler = Sampler(model, banned, temperature, top_k, top_p)
    feed = np.concatenate([[BOS_ID, label_id], prime_ids]).astype(np.int64)
    return _units(sampler, Decoder(vocab), feed, prime_ids, label_id, length, rng, stop_at_end, block)


def _units(sampler, decoder, feed, prime_ids, label_id, length, rng, stop_at_end, block):
    yield decoder.decode(prime_ids, final=False)
    left = length
    while left:
        drawn = 0
        for ids in draw_ids(sampler, feed, left, rng, stop_at_end=True, block=block):
            drawn += len(ids)
            yield decoder.decode(ids, final=False)
        left -= drawn
        if not left:  # the length ran out inside the unit
            break
        left -= 1  # the </s> that ended the unit, drawn
        if stop_at_end:
            break
        yield decoder.decode([EOS_ID, BOS_ID, label_id], final=False)
        feed = np.array([EOS_ID, BOS_ID, label_id], np.int64)
    yield decoder.decode([])
