"""Sampling throughput: characters per second drawing 2000 characters one at a time, batch 1, from
an untrained char-level LSTM (vocabulary 65, embedding = hidden).

    python bench/sample_speed.py             # seqkit against PyTorch (needs torch==2.13.0)
    python bench/sample_speed.py --plain     # seqkit alone, no control: runs on any seqkit, to compare versions
    python bench/sample_speed.py --controls  # seqkit's sampling controls, beam search, best-of, score against eval
    python bench/sample_speed.py --scoring   # score against eval alone

PyTorch steps nn.LSTM one token at a time in a Python loop, as its users do; seqkit runs its
own sampler (seqkit.generation.sampler.generate). Both draw from softmax(logits / 0.8). Runs
alternate, and the tables give medians.

--controls times each row against the sample with no control in the same round (ratio: the
row's time over that sample's): stop strings that never match (so every draw is checked, the
whole length drawn) and bans, the repetition penalty, no-repeat n-grams, a beam of 4 and best of
4 over the same length; then scoring, tokens per second of LanguageModel.score over the lines
of 100,000 characters of tiny-shakespeare against LanguageModel.evaluate over the same text
(what `seqkit score` and `seqkit eval` call).
"""
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import seqkit  # noqa: E402, F401, I001  before NumPy loads OpenBLAS, so that it reads seqkit._cores's settings

import numpy as np  # noqa: E402

from seqkit import LanguageModel, Model, TextOptions, TrainConfig, Vocab  # noqa: E402
from seqkit.generation.sampler import generate  # noqa: E402
from seqkit.text.options import SPECIALS  # noqa: E402

LENGTH, ROUNDS = 2000, 5
VOCAB = Vocab(list(SPECIALS) + [chr(c) for c in range(33, 33 + 62)], TextOptions())
SIZES = ((2, 128), (2, 512))
CONTROLS = [  # (row, options): stop strings of characters in VOCAB, never drawn in a row here
    ("--stop (2 strings)", dict(stop=["!!!!", "#$%&"])),
    ("--ban (3 tokens)", dict(ban=["A", "B", "C"])),
    ("--stop and --ban", dict(stop=["!!!!", "#$%&"], ban=["A", "B", "C"])),
    ("--repetition-penalty 1.2", dict(repetition_penalty=1.2)),
    ("--no-repeat-ngram 3", dict(no_repeat_ngram=3)),
]


def model_of(layers, hidden, vocab=VOCAB):
    model = Model(len(vocab), hidden, layers, "lstm", embed_size=hidden, seed=0)
    model.parameters["output.bias"][vocab.id_of("</s>")] = -1e4  # never end early: every draw made
    return model


def seqkit_rate(model, **controls):
    start = time.perf_counter()
    (text,) = generate(model, VOCAB, LENGTH, np.random.default_rng(0), temperature=0.8, **controls)
    assert len(text) > 0.9 * LENGTH  # LENGTH tokens drawn, the few </s> among them not printed
    return LENGTH / (time.perf_counter() - start)


def torch_rate(embedding, lstm, output):
    import torch
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    with torch.no_grad():
        token, state = torch.tensor([[1]]), None
        for _ in range(LENGTH):
            y, state = lstm(embedding(token), state)
            probs = torch.softmax(output(y[0]) / 0.8, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)
    return LENGTH / (time.perf_counter() - start)


def against_torch():
    import torch
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}; {LENGTH} characters, batch 1, temperature 0.8")
    print(f"{'model':10s} {'seqkit chars/s':>15s} {'torch chars/s':>14s} {'ratio':>6s}")
    V = len(VOCAB)
    for layers, hidden in SIZES:
        model = model_of(layers, hidden)
        modules = (torch.nn.Embedding(V, hidden), torch.nn.LSTM(hidden, hidden, layers), torch.nn.Linear(hidden, V))
        seqkit_rate(model)
        torch_rate(*modules)
        ours, theirs = [], []
        for _ in range(ROUNDS):
            ours.append(seqkit_rate(model))
            theirs.append(torch_rate(*modules))
        a, b = float(np.median(ours)), float(np.median(theirs))
        print(f"{layers}x{hidden:<8d} {a:15,.0f} {b:14,.0f} {a / b:6.2f}", flush=True)


def plain():
    print(f"seqkit alone, no control; {LENGTH} characters, batch 1, temperature 0.8, medians of {ROUNDS}")
    for layers, hidden in SIZES:
        model = model_of(layers, hidden)
        seqkit_rate(model)
        rate = float(np.median([seqkit_rate(model) for _ in range(ROUNDS)]))
        print(f"{layers}x{hidden:<8d} {rate:12,.0f} chars/s", flush=True)


def seconds(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def controls():
    lm_config = TrainConfig()
    print(f"seqkit's controls; {LENGTH} characters, batch 1, temperature 0.8 (beam: 1), medians of {ROUNDS} rounds, "
          f"each row against the plain sample of its round")
    print(f"{'model':8s} {'row':28s} {'chars/s':>10s} {'time ratio':>10s}")
    for layers, hidden in SIZES:
        model = model_of(layers, hidden)
        lm = LanguageModel(model, VOCAB, lm_config, "bench.npz")
        rows = [(name, lambda o=options: seqkit_rate(model, **o) and None) for name, options in CONTROLS]
        rows += [("--beam 4", lambda: lm.choices(length=LENGTH, beam=4)),
                 ("--best-of 4", lambda: lm.choices(length=LENGTH, best_of=4, seed=0, temperature=0.8))]
        for _, run in rows:  # compiled and warm
            run()
        plain_times, times = [], {name: [] for name, _ in rows}
        for _ in range(ROUNDS):
            plain_times.append(seconds(lambda: seqkit_rate(model)))
            for name, run in rows:
                times[name].append(seconds(run) / plain_times[-1])
        base = float(np.median(plain_times))
        print(f"{layers}x{hidden:<6d} {'no control':28s} {LENGTH / base:10,.0f} {1.0:10.2f}")
        for name, ratios in times.items():
            ratio = float(np.median(ratios))
            print(f"{layers}x{hidden:<6d} {name:28s} {LENGTH / (base * ratio):10,.0f} {ratio:10.2f}", flush=True)
    scoring()


def scoring():
    from seqkit.corpora import path
    from seqkit.text.vocab import build_vocab
    text = path().read_text()[:100_000]
    vocab = build_vocab(path().read_text(), TextOptions())
    lines = [line for line in text.split("\n") if line]
    print(f"\nscoring {len(text):,} characters ({len(lines):,} lines), vocabulary {len(vocab)}, medians of {ROUNDS}")
    print(f"{'model':8s} {'score tok/s':>12s} {'eval tok/s':>11s} {'ratio':>6s}")
    for layers, hidden in SIZES:
        lm = LanguageModel(Model(len(vocab), hidden, layers, "lstm", embed_size=hidden, seed=0), vocab, TrainConfig(),
                           "bench.npz")
        scored = sum(r["tokens"] for r in lm.score(lines))
        evaluated = lm.evaluate(text)["tokens"]
        ours, theirs = [], []
        for _ in range(ROUNDS):
            ours.append(scored / seconds(lambda: lm.score(lines)))
            theirs.append(evaluated / seconds(lambda: lm.evaluate(text)))
        a, b = float(np.median(ours)), float(np.median(theirs))
        print(f"{layers}x{hidden:<6d} {a:12,.0f} {b:11,.0f} {a / b:6.2f}", flush=True)


if __name__ == "__main__":
    chosen = sys.argv[1] if len(sys.argv) > 1 else ""
    {"--plain": plain, "--controls": controls, "--scoring": scoring}.get(chosen, against_torch)()
