"""The sampling controls (seqkit.generation.controls), inside the compiled sampler: stop strings
against the same seed's sample cut where the string first comes (across blocks of any size, a
string split between two blocks included), bans, CTRL's repetition penalty and no-repeat
n-grams against stepping the model from Python (sampler_reference.py), and the values without
meaning refused with an OptionError naming the field."""
import numpy as np
import pytest
from sampler_reference import reference_controlled
from shared import shakespeare

from seqkit import LanguageModel, Model, OptionError, TextOptions, TrainConfig
from seqkit.generation.controls import SamplingOptions, tokens_of
from seqkit.generation.sampler import Sampler, draw_ids, stream
from seqkit.text.options import BOS_ID, EOS_ID, UNK_ID
from seqkit.text.vocab import build_vocab


def language_model(options=TextOptions(), dtype=np.float32, eos_bias=1.0, seed=0):
    """An untrained model on a vocabulary of the shared text (</s> likely enough to come up)."""
    vocab = build_vocab(shakespeare(), options)
    model = Model(len(vocab), 16, num_layers=2, cell="lstm", embed_size=8, seed=seed, dtype=dtype)
    model.parameters["output.bias"][EOS_ID] = eos_bias
    return LanguageModel(model, vocab, TrainConfig(text=options), "nowhere.npz")


def drawn_ids(lm, length, seed, block, **options):
    """The ids one sample draws (no prime), through draw_ids with blocks of `block`."""
    controls = SamplingOptions(**options).resolve(lm.vocab)
    sampler = Sampler(lm.model, controls.banned, controls=controls)
    strip = options.get("strip_stop", False)
    return np.concatenate([np.zeros(0, np.int64)] + list(
        draw_ids(sampler, np.array([BOS_ID]), length, np.random.default_rng(seed), False, block, strip)))


# --- stop strings -------------------------------------------------------------------------------------
@pytest.mark.parametrize("block", [1, 2, 3, 7, 1024])
def test_a_stop_string_ends_the_sample_where_it_is_first_drawn_whatever_the_blocks(block):
    """The same seed draws the same tokens up to the stop: the stopped sample is the free one cut
    just after the string's first occurrence (or just before it, stripped). Blocks of 2 and 3
    split a 3-character stop string between two blocks."""
    lm = language_model(eos_bias=-30.0)
    free = lm.sample(length=3000, seed=5, temperature=1.5)[0]
    stop = next(free[p:p + 3] for p in range(1000, 2900) if free.find(free[p:p + 3]) == p)
    cut = free.index(stop) + len(stop)
    kept = "".join(stream(lm.model, lm.vocab, 3000, np.random.default_rng(5), 1.5, stop=stop, block=block))
    stripped = "".join(stream(lm.model, lm.vocab, 3000, np.random.default_rng(5), 1.5, stop=stop, strip_stop=True,
                              block=block))
    assert kept == free[:cut] and stripped == free[:cut - len(stop)]


def test_a_stop_string_split_across_two_drawn_blocks_is_found():
    """Block by block: find a 4-token stop string that the blocks of 5 cut in two, and check the
    sample ends there (kept) and that stripping it removes the part of it already in the earlier
    block too."""
    lm = language_model(eos_bias=-30.0)
    free = drawn_ids(lm, 400, seed=2, block=5)
    text = lm.vocab.decode(free)
    for start in range(7, 300):
        if start % 5 in (2, 3) and (start + 4) % 5 != 0:  # the string begins in one block, ends in the next
            stop = text[start:start + 4]
            if "\n" not in stop and text.find(stop) == start:
                break
    ids = drawn_ids(lm, 400, seed=2, block=5, stop=stop)
    assert ids.tolist() == free[:start + 4].tolist()
    assert drawn_ids(lm, 400, seed=2, block=5, stop=stop, strip_stop=True).tolist() == free[:start].tolist()


def test_the_first_of_several_stop_strings_ends_it_and_each_of_count_samples_stops():
    lm = language_model(eos_bias=-30.0)
    samples = lm.sample(length=2000, seed=3, count=3)
    stopped = lm.sample(length=2000, seed=3, count=3, stop=["th", "ou"])
    for free, cut in zip(samples, stopped):
        first = min(i + 2 for i in (free.find("th"), free.find("ou")) if i >= 0)
        assert cut == free[:first]


def test_a_stop_string_with_a_line_end_and_one_at_word_level():
    """Where the unit is the line, "\\n" is the </s> that ends one; at word level a stop string is
    its words drawn in a row."""
    lm = language_model(eos_bias=2.0)
    free = lm.sample(length=400, seed=4)[0]
    assert "\n" in free[1:300]
    assert lm.sample(length=400, seed=4, stop="\n")[0] == free[:free.index("\n") + 1]
    words = language_model(TextOptions(level="word"), eos_bias=-30.0)
    ids = drawn_ids(words, 300, seed=1, block=4)
    pair = [words.vocab.tokens[i] for i in ids[40:42]]
    first = next(i for i in range(len(ids) - 1) if [words.vocab.tokens[t] for t in ids[i:i + 2]] == pair)
    assert drawn_ids(words, 300, seed=1, block=4, stop=" ".join(pair)).tolist() == ids[:first + 2].tolist()


def test_a_stop_string_is_found_in_what_is_drawn_not_in_the_prime():
    lm = language_model(eos_bias=-30.0)
    free = lm.sample(length=300, seed=6, prime="the")[0]
    stop_later = free.find("the", 3)
    expected = free if stop_later < 0 else free[:stop_later + 3]
    assert lm.sample(length=300, seed=6, prime="the", stop="the")[0] == expected


# --- bans, the repetition penalty, n-grams not repeated -------------------------------------------------
@pytest.mark.parametrize("options", [
    dict(ban=["e", " "]),
    dict(repetition_penalty=1.8, repetition_window=10),
    dict(repetition_penalty=0.5),
    dict(no_repeat_ngram=3),
    dict(no_repeat_ngram=1, ban=["e"]),
    dict(ban="t", repetition_penalty=1.3, repetition_window=5, no_repeat_ngram=4),
])
def test_the_compiled_controls_draw_what_stepping_the_model_draws(options):
    """float64, so that Python's arithmetic is the kernel's to the bit."""
    lm = language_model(dtype=np.float64)
    prime = lm.vocab.encode("First", frame=False)
    controls = SamplingOptions(**options).resolve(lm.vocab)
    uniforms = np.random.default_rng(8).random(150)
    feed = np.concatenate([[BOS_ID], prime])
    # In two blocks, as draw_ids runs them: the history carries from one to the next.
    sampler = Sampler(lm.model, controls.banned, controls=controls)
    sampler.remember(prime)
    first = sampler.run(feed, uniforms[:70])
    second = sampler.run(first[-1:] if first[-1] != EOS_ID else [EOS_ID, BOS_ID], uniforms[70:])
    drawn = np.concatenate([first, second])
    expected = reference_controlled(lm.model, prime, uniforms, controls.banned, penalty=controls.penalty,
                                    window=controls.window or 64, ngram=controls.ngram)
    assert drawn.tolist() == expected
    banned_letters = [lm.vocab.index[t] for t in np.atleast_1d(options.get("ban", []))]
    assert not set(drawn.tolist()) & set(banned_letters)


def test_no_n_gram_repeats_at_word_level():
    lm = language_model(TextOptions(level="word"), eos_bias=-30.0)
    plain = drawn_ids(lm, 600, seed=2, block=64)
    grams = [tuple(plain[i:i + 2]) for i in range(len(plain) - 1)]
    assert len(set(grams)) < len(grams)  # an untrained model does repeat itself
    ids = drawn_ids(lm, 600, seed=2, block=64, no_repeat_ngram=2).tolist()
    grams = [tuple(ids[i:i + 2]) for i in range(len(ids) - 1)]
    assert len(set(grams)) == len(grams)


def test_a_banned_word_is_never_drawn_and_the_penalty_lowers_repeats():
    lm = language_model(TextOptions(level="word"), eos_bias=-30.0)
    common = [w for w in ("the", ",", ".") if w in lm.vocab.index]
    text = "".join(lm.stream(length=3000, seed=1, ban=common))
    assert not set(lm.vocab.encode(text, frame=False).tolist()) & {lm.vocab.index[w] for w in common}
    lm.model.parameters["output.weight"] *= 20  # logits far from 0, which CTRL's penalty scales
    free = drawn_ids(lm, 2000, seed=3, block=256)
    kept = drawn_ids(lm, 2000, seed=3, block=256, repetition_penalty=3.0, repetition_window=20)

    def repeats(ids):
        return sum(ids[i] in ids[max(0, i - 20):i] for i in range(len(ids)))
    assert repeats(kept.tolist()) < repeats(free.tolist()) / 2


def test_controls_are_reproducible_by_seed():
    lm = language_model()
    options = dict(stop=["ou"], ban=["z"], repetition_penalty=1.4, no_repeat_ngram=5)
    assert lm.sample(length=500, seed=9, count=2, **options) == lm.sample(length=500, seed=9, count=2, **options)


# --- what a string means, and what is refused -----------------------------------------------------------
def test_strings_read_as_the_runs_tokens():
    chars, words = language_model(), language_model(TextOptions(level="word"))
    assert tokens_of(chars.vocab, "a\nb") == [chars.vocab.index["a"], EOS_ID, chars.vocab.index["b"]]
    assert tokens_of(words.vocab, "the people\n") == [words.vocab.index["the"], words.vocab.index["people"], EOS_ID]
    assert tokens_of(chars.vocab, "\u20ac") is None
    resolved = SamplingOptions(ban=["</s>", "\n", "e"]).resolve(chars.vocab)
    assert resolved.banned.tolist() == sorted({UNK_ID, BOS_ID, EOS_ID, chars.vocab.index["e"]})


@pytest.mark.parametrize("options, field, message", [
    (dict(stop=[""]), "stop", "stop must be a non-empty string, got ''"),
    (dict(ban=""), "ban", "ban must be a non-empty string, got ''"),
    (dict(repetition_penalty=0.0), "repetition_penalty", "repetition_penalty must be positive and finite, got 0.0"),
    (dict(repetition_penalty=-1.2), "repetition_penalty", "repetition_penalty must be positive and finite, got -1.2"),
    (dict(repetition_penalty=float("nan")), "repetition_penalty", "repetition_penalty must be positive and finite, got nan"),
    (dict(repetition_penalty=float("inf")), "repetition_penalty", "repetition_penalty must be positive and finite, got inf"),
    (dict(repetition_window=0), "repetition_window", "repetition_window must be a positive integer, got 0"),
    (dict(no_repeat_ngram=0), "no_repeat_ngram", "no_repeat_ngram must be a positive integer, got 0"),
    (dict(beam=0), "beam", "beam must be a positive integer, got 0"),
    (dict(best_of=-1), "best_of", "best_of must be a positive integer, got -1"),
    (dict(beam=2, best_of=2), "best_of", "beam and best_of both choose among continuations: use one"),
    (dict(beam=2, temperature=0.8), "temperature", "beam search ranks continuations by the model's own probabilities, "
                                                   "so temperature does not apply to beam: drop it"),
    (dict(beam=2, top_k=5), "top_k", "so top_k does not apply to beam: drop it"),
])
def test_options_without_meaning_are_refused_naming_the_field(options, field, message):
    with pytest.raises(OptionError) as caught:
        SamplingOptions(**options)
    assert caught.value.field == field and message in str(caught.value)


@pytest.mark.parametrize("count, options, message", [
    (3, dict(beam=2), "count=3 is more than the 2 continuations beam=2 gives: lower count or raise beam"),
    (5, dict(best_of=4), "count=5 is more than the 4 continuations best_of=4 gives: lower count or raise best_of"),
])
def test_more_samples_than_beam_or_best_of_give_are_refused(count, options, message):
    lm = language_model()
    with pytest.raises(OptionError, match=message) as caught:
        lm.sample(length=5, count=count, **options)
    assert caught.value.field == "count"


def test_strings_the_vocabulary_cannot_read_are_refused_naming_them():
    chars, words = language_model(), language_model(TextOptions(level="word"))
    cases = [
        (chars, dict(ban="ab"), "ban", "ban 'ab' is not one token of the vocabulary (it reads as 2 tokens): ban one "
                                       "character at a time"),
        (words, dict(ban="the people"), "ban", "ban 'the people' is not one token of the vocabulary (it reads as 2 "
                                               "tokens): ban one word at a time"),
        (words, dict(ban="zyzzyva"), "ban", "ban 'zyzzyva' is not one token of the vocabulary (it reads as a token "
                                            "the vocabulary lacks)"),
        (chars, dict(stop="\u20ac"), "stop", "stop '\u20ac' holds a token the vocabulary lacks, so it is never drawn"),
        (words, dict(stop="  "), "stop", "stop '  ' holds no token: give text the model can write"),
        (chars, dict(ban=[t for t in chars.vocab.tokens if t != "<s>"]), "ban",
         f"ban leaves no token to draw: the vocabulary has {len(chars.vocab)}, every one banned"),
        (chars, dict(beam=len(chars.vocab) + 1), "beam",
         f"beam={len(chars.vocab) + 1} is wider than the vocabulary, {len(chars.vocab)} tokens: lower it"),
    ]
    for lm, options, field, message in cases:
        with pytest.raises(OptionError) as caught:
            lm.sample(length=5, **options)
        assert caught.value.field == field and message in str(caught.value), str(caught.value)
