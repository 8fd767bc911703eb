"""Sampling throughput, seqkit against PyTorch: characters per second drawing 2000 characters
one at a time, batch 1, from an untrained char-level LSTM (vocabulary 65, embedding = hidden).

    python bench/sample_speed.py          # in an environment with torch==2.13.0 and seqkit

PyTorch steps nn.LSTM one token at a time in a Python loop, as its users do; seqkit runs its
own sampler (seqkit.generation.sampler.generate). Both draw from softmax(logits / 0.8). Runs alternate,
and the table gives medians.
"""
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from seqkit import Model, TextOptions, Vocab  # noqa: E402
from seqkit.generation.sampler import generate  # noqa: E402
from seqkit.text.options import SPECIALS  # noqa: E402

LENGTH, ROUNDS = 2000, 5
VOCAB = Vocab(list(SPECIALS) + [chr(c) for c in range(33, 33 + 62)], TextOptions())


def seqkit_rate(model):
    start = time.perf_counter()
    (text,) = generate(model, VOCAB, LENGTH, np.random.default_rng(0), temperature=0.8)
    assert len(text) > 0.9 * LENGTH  # LENGTH tokens drawn, the few </s> among them not printed
    return LENGTH / (time.perf_counter() - start)


def torch_rate(embedding, lstm, output):
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    with torch.no_grad():
        token, state = torch.tensor([[1]]), None
        for _ in range(LENGTH):
            y, state = lstm(embedding(token), state)
            probs = torch.softmax(output(y[0]) / 0.8, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)
    return LENGTH / (time.perf_counter() - start)


def main():
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}; {LENGTH} characters, batch 1, temperature 0.8")
    print(f"{'model':10s} {'seqkit chars/s':>15s} {'torch chars/s':>14s} {'ratio':>6s}")
    V = len(VOCAB)
    for layers, hidden in ((2, 128), (2, 512)):
        model = Model(V, hidden, layers, "lstm", embed_size=hidden, seed=0)
        model.parameters["output.bias"][VOCAB.id_of("</s>")] = -1e4  # never end early: 2000 draws each
        modules = (torch.nn.Embedding(V, hidden), torch.nn.LSTM(hidden, hidden, layers), torch.nn.Linear(hidden, V))
        seqkit_rate(model)
        torch_rate(*modules)
        ours, theirs = [], []
        for _ in range(ROUNDS):
            ours.append(seqkit_rate(model))
            theirs.append(torch_rate(*modules))
        a, b = float(np.median(ours)), float(np.median(theirs))
        print(f"{layers}x{hidden:<8d} {a:15,.0f} {b:14,.0f} {a / b:6.2f}", flush=True)


if __name__ == "__main__":
    main()
