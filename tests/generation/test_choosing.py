"""Beam search and best-of (seqkit.generation.beam, seqkit.generation.choosing): beam search against
a brute-force search over every continuation of a tiny model, where its width covers them all,
and against a plain beam search written in Python (Model.step per beam) where it does not; the
same result every run; best-of keeping the lowest-loss of the samples its seeds draw alone, its
loss the one `score` gives the same text."""
import itertools

import numpy as np
import pytest
from shared import shakespeare

from seqkit import LanguageModel, Model, TextOptions, TrainConfig, Vocab
from seqkit import errors as seqkit_errors
from seqkit import load as seqkit_load
from seqkit.generation.controls import SamplingOptions
from seqkit.text.options import BOS_ID, EOS_ID, SPECIALS, UNK_ID
from seqkit.text.vocab import build_vocab


def tiny(letters="ab", seed=4):
    """A float64 char-level model over the specials and `letters`, with weights large enough
    that its continuations differ clearly in probability."""
    vocab = Vocab(list(SPECIALS) + list(letters), TextOptions())
    model = Model(len(vocab), 8, num_layers=2, cell="lstm", embed_size=4, seed=seed, dtype=np.float64)
    model.parameters["output.weight"] *= 6
    return LanguageModel(model, vocab, TrainConfig(), "nowhere.npz")


def log_softmax(row):
    top = row.max()
    return row - (top + np.log(np.exp(row - top).sum()))


def sequence_logprob(lm, ids, banned):
    """The total log-probability of drawing ids after <s>, with the `banned` ids taken out."""
    logits, state = lm.model.step(np.array([BOS_ID]), None)
    total = 0.0
    for token in ids:
        row = np.array(logits[0], np.float64)
        row[banned] = -np.inf
        total += log_softmax(row)[token]
        for then in [token, BOS_ID] if token == EOS_ID else [token]:
            logits, state = lm.model.step(np.array([then]), state)
    return total


def test_beam_search_finds_what_a_brute_force_search_finds():
    """2 tokens to draw (a, b: </s> banned), 3 of them: 8 continuations, and a beam of 4 keeps
    every one of them until the last step, so its 4 are the 4 most likely of all."""
    lm = tiny()
    banned = [UNK_ID, BOS_ID, EOS_ID]
    everything = [(sequence_logprob(lm, ids, banned), ids) for ids in itertools.product([3, 4], repeat=3)]
    best = sorted(everything, key=lambda pair: -pair[0])[:4]
    chosen = lm.choices(length=3, beam=4, count=4, ban="</s>")
    assert [c.text for c in chosen] == [lm.vocab.decode(ids) for _, ids in best]
    assert [c.logprob for c in chosen] == pytest.approx([total for total, _ in best], abs=1e-12)
    assert len({total for total, _ in everything}) == 8  # no ties to settle


def test_beam_search_ranks_continuations_of_any_length_by_log_probability_per_token():
    """With stop_at_end, a continuation ends at its first </s>: of a and </s> (b banned), the
    continuations of up to 4 tokens are </s>, a</s>, aa</s>, aaa</s> and aaaa; the beam of 5
    ranks them as a brute force does, by total log-probability over their number of tokens."""
    lm = tiny()
    banned = [UNK_ID, BOS_ID, lm.vocab.index["b"]]
    a = lm.vocab.index["a"]
    every = [[a] * n + [EOS_ID] for n in range(4)] + [[a] * 4]
    ranked = sorted(every, key=lambda ids: -sequence_logprob(lm, ids, banned) / len(ids))
    chosen = lm.choices(length=4, beam=5, count=5, ban="b", stop_at_end=True)
    assert [c.text for c in chosen] == ["a" * ids.count(a) for ids in ranked]
    assert [c.tokens for c in chosen] == [len(ids) for ids in ranked]
    means = [c.logprob / c.tokens for c in chosen]
    assert means == sorted(means, reverse=True)


def reference_beam(lm, K, length, banned, stop_at_end=False, stops=()):
    """A beam search written plainly, Model.step for each beam: the 2K best candidates by total
    log-probability (ties: the lower beam, then the lower token); those that end (the length,
    </s> with stop_at_end, a stop string) kept if they rank among the first K; the best K by
    mean log-probability per token; after </s> a beam reads </s> and <s>."""
    logits, state = lm.model.step(np.array([BOS_ID]), None)
    beams, finished = [(state, logits, [], 0.0)], []
    for t in range(length):
        candidates = []
        for j, (_, logits, _drawn, total) in enumerate(beams):
            row = np.array(logits[0], np.float64)
            row[banned] = -np.inf
            logp = log_softmax(row)
            candidates += [(total + logp[v], j, v) for v in range(len(row)) if row[v] > -np.inf]
        candidates = sorted(candidates, key=lambda c: (-c[0], c[1], c[2]))[:2 * K]
        going = []
        for rank, (total, j, v) in enumerate(candidates):
            if len(going) == K:
                break
            drawn = beams[j][2] + [v]
            ends = t == length - 1 or stop_at_end and v == EOS_ID or any(drawn[-len(s):] == s for s in stops)
            if ends:
                if rank < K:
                    finished.append((total / (t + 1), drawn))
                continue
            logits, state = beams[j][1], beams[j][0]
            for then in [v, BOS_ID] if v == EOS_ID else [v]:
                logits, state = lm.model.step(np.array([then]), state)
            going.append((state, logits, drawn, total))
        if not going:
            break
        beams = going
    return [drawn for _, drawn in sorted(finished, key=lambda f: -f[0])[:K]]


@pytest.mark.parametrize("K, length, options", [
    (3, 12, {}),
    (4, 15, dict(stop_at_end=True)),
    (2, 20, dict(stop=["ab"])),
    (5, 10, dict(ban="c")),
])
def test_beam_search_equals_a_plain_beam_search(K, length, options):
    lm = tiny("abc", seed=1)
    lm.model.parameters["output.bias"][EOS_ID] += 2.0  # </s> in play, read with <s> after it
    resolved = SamplingOptions(beam=K, **options).resolve(lm.vocab)
    stops = [[lm.vocab.index[ch] for ch in s] for s in options.get("stop", [])]
    expected = reference_beam(lm, K, length, resolved.banned, options.get("stop_at_end", False), stops)
    chosen = lm.choices(length=length, beam=K, count=K, **options)
    assert [c.tokens for c in chosen] == [len(ids) for ids in expected]
    for c, ids in zip(chosen, expected):
        shown = ids[:-1] if options.get("stop_at_end") and ids[-1] == EOS_ID else ids
        assert c.text == lm.vocab.decode(np.insert(shown, [i + 1 for i, v in enumerate(shown) if v == EOS_ID], BOS_ID))


def test_beam_search_is_the_same_every_time_and_needs_no_seed():
    lm = tiny("abcde", seed=2)
    first = lm.sample(length=30, beam=4, count=2, seed=1, no_repeat_ngram=3, repetition_penalty=1.5)
    assert first == lm.sample(length=30, beam=4, count=2, seed=99, no_repeat_ngram=3, repetition_penalty=1.5)
    assert "".join(lm.stream(length=30, beam=4, no_repeat_ngram=3, repetition_penalty=1.5)) == first[0]
    assert lm.sample(length=0, beam=2, prime="ab") == ["ab"]


def test_best_of_keeps_the_samples_of_lowest_loss_each_drawn_by_its_seed():
    vocab = build_vocab(shakespeare(), TextOptions())
    model = Model(len(vocab), 16, num_layers=2, cell="gru", embed_size=8, seed=0)
    model.parameters["output.bias"][EOS_ID] = 2.0
    lm = LanguageModel(model, vocab, TrainConfig(), "nowhere.npz")
    options = dict(length=200, stop_at_end=True, temperature=1.2)
    alone = [lm.sample(seed=10 + j, **options)[0] for j in range(6)]
    chosen = lm.choices(best_of=6, count=3, seed=10, **options)
    assert [c.text for c in chosen] == [alone[c.seed - 10] for c in chosen]
    # The loss is the model's own over the tokens drawn: the text's, then the </s> that ended it.
    for c in chosen:
        scored = lm.score([c.text])[0]
        assert c.tokens == scored["tokens"] and c.loss == pytest.approx(scored["loss"], rel=1e-5)
    every = sorted(lm.score(alone), key=lambda s: s["loss"])
    assert [c.text for c in chosen] == [s["text"] for s in every[:3]]
    assert lm.sample(best_of=6, seed=10, **options) == [chosen[0].text]


def test_generate_to_file_writes_the_chosen_ones(tmp_path):
    lm = tiny("abcde", seed=2)
    lm.generate_to_file(tmp_path / "beams.txt", count=2, length=12, beam=3)
    assert (tmp_path / "beams.txt").read_text() == "\n\n".join(lm.sample(length=12, beam=3, count=2))
    lm.generate_to_file(tmp_path / "best.txt", count=2, length=12, best_of=3, seed=4, stop="ab")
    assert (tmp_path / "best.txt").read_text() == "\n\n".join(lm.sample(length=12, best_of=3, count=2, seed=4,
                                                                         stop="ab"))
    with pytest.raises(seqkit_errors.OptionError, match="count=4 is more than"):
        lm.generate_to_file(tmp_path / "none.txt", count=4, length=12, beam=3)
    assert not (tmp_path / "none.txt").exists()


def test_a_beam_search_that_finds_fewer_continuations_than_the_count_says_so(char_run):
    with pytest.raises(seqkit_errors.OptionError, match="count=2 is more than the 1 continuations the search found"):
        seqkit_load(char_run).sample(length=0, beam=3, count=2)


def drained(pieces):
    """(the text, the generator's value) of a stream."""
    texts = []
    while True:
        try:
            texts.append(next(pieces))
        except StopIteration as stop:
            return "".join(texts), stop.value


@pytest.mark.parametrize("options", [dict(), dict(stop_at_end=True), dict(stop=["e"], strip_stop=True)])
def test_a_stream_ends_with_the_tokens_it_drew_as_best_of_counts_them(options):
    """lm.stream's generator returns the tokens drawn (seqkit serve says them): the ones a
    candidate of best_of with the same seed counts, the </s> or stop that ended it included."""
    vocab = build_vocab(shakespeare(), TextOptions())
    model = Model(len(vocab), 16, num_layers=1, cell="lstm", embed_size=8, seed=0)
    model.parameters["output.bias"][EOS_ID] = 2.0
    lm = LanguageModel(model, vocab, TrainConfig(), "nowhere.npz")
    for seed in range(3):
        text, tokens = drained(lm.stream(length=120, seed=seed, temperature=1.2, **options))
        candidate = lm.choices(length=120, best_of=1, seed=seed, temperature=1.2, **options)[0]
        assert (text, tokens) == (candidate.text, candidate.tokens)
        if not options:
            assert tokens == 120
