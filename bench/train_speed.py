"""Training throughput, seqkit against PyTorch on the same model and machine, in one run.

    python -m venv /tmp/bench && . /tmp/bench/bin/activate
    pip install torch==2.13.0 . && python bench/train_speed.py --quick

A training step is what `seqkit train` does per chunk: embedding -> L recurrent layers ->
linear -> softmax cross-entropy -> backward -> clip to global norm 5 -> Adam, float32,
sequence length 100, vocabulary 65, embedding size = hidden size, hidden state carried.
The two frameworks alternate (A B A B ...) after a warm-up, so drifts in machine speed hit
both alike; the table gives medians. Numba's compile time is excluded from throughput and
reported apart. GFLOP/s counts the matrix products (forward, and twice that for backward),
and is set against this machine's float32 GEMM peak measured at the start of the same run.
Thread counts are fixed for BLAS, Numba and PyTorch before anything is imported.
"""
import argparse
import itertools
import os
import time

ARGS = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ARGS.add_argument("--quick", action="store_true", help="a few representative configs (under 2 minutes)")
ARGS.add_argument("--threads", type=int, default=2, help="threads for BLAS, Numba and PyTorch")
ARGS.add_argument("--rounds", type=int, default=5, help="alternating timing rounds per config")
ARGS.add_argument("--seconds", type=float, default=1.0, help="minimum seconds per timing")
OPTIONS = ARGS.parse_args()
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = str(OPTIONS.threads)

import numpy as np  # noqa: E402  (after the thread settings)
import torch  # noqa: E402

import seqkit  # noqa: E402
from seqkit.optim import clip_global_norm, make_optimizer  # noqa: E402

torch.set_num_threads(OPTIONS.threads)
V, T = 65, 100
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
FULL = list(itertools.product(["rnn", "lstm", "gru"], [1, 2], [128, 256, 512], [1, 32, 64]))
QUICK = [("lstm", 2, 128, 64), ("lstm", 2, 512, 32), ("gru", 2, 512, 1), ("rnn", 1, 128, 64)]


def gemm_peak_gflops(n=2048):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    np.dot(a, a)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        np.dot(a, a)
        times.append(time.perf_counter() - start)
    return 2 * n ** 3 / min(times) / 1e9


def flops_per_token(cell, layers, hidden):
    forward = sum(2 * GATES[cell] * hidden * (hidden + hidden) for _ in range(layers)) + 2 * V * hidden
    return 3 * forward


class SeqkitStep:
    def __init__(self, cell, layers, hidden, batch):
        self.model = seqkit.Model(V, hidden, layers, cell, embed_size=hidden, seed=0)
        self.optimizer = make_optimizer("adam", self.model.parameters, 2e-3)
        rng = np.random.default_rng(0)
        self.tokens = rng.integers(0, V, (T + 1, batch))
        self.state = None
        self.workspace = seqkit.Workspace()  # as seqkit train does

    def __call__(self):
        loss, self.state, cache = self.model.forward(self.tokens[:-1], self.tokens[1:], self.state,
                                                     workspace=self.workspace)
        grads, _ = self.model.backward(cache)
        clip_global_norm(grads, 5.0)
        self.optimizer.step(grads)


class TorchStep:
    def __init__(self, cell, layers, hidden, batch):
        torch.manual_seed(0)
        rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        self.embedding = torch.nn.Embedding(V, hidden)
        self.rnn = rnn(hidden, hidden, layers)
        self.output = torch.nn.Linear(hidden, V)
        self.parameters = [*self.embedding.parameters(), *self.rnn.parameters(), *self.output.parameters()]
        self.optimizer = torch.optim.Adam(self.parameters, lr=2e-3)
        self.tokens = torch.randint(0, V, (T + 1, batch), generator=torch.Generator().manual_seed(0))
        self.state = None

    def __call__(self):
        if self.state is not None:
            self.state = tuple(s.detach() for s in self.state) if isinstance(self.state, tuple) \
                else self.state.detach()
        y, self.state = self.rnn(self.embedding(self.tokens[:-1]), self.state)
        loss = torch.nn.functional.cross_entropy(self.output(y).reshape(-1, V), self.tokens[1:].reshape(-1))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, 5.0)
        self.optimizer.step()


def tokens_per_second(step, batch):
    """Steps run for at least OPTIONS.seconds; returns tokens per second."""
    count, start = 0, time.perf_counter()
    while True:
        step()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= OPTIONS.seconds:
            return count * T * batch / elapsed


def main():
    configs = QUICK if OPTIONS.quick else FULL
    peak = gemm_peak_gflops()
    print(f"seqkit {seqkit.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
          f"threads {OPTIONS.threads}; float32 GEMM peak {peak:.0f} GFLOP/s")
    start = time.perf_counter()
    SeqkitStep("lstm", 1, 8, 2)()
    for cell in ("rnn", "gru"):
        SeqkitStep(cell, 1, 8, 2)()
    print(f"Numba compile or cache load: {time.perf_counter() - start:.1f} s\n")
    print(f"{'config':24s} {'seqkit tok/s':>13s} {'torch tok/s':>12s} {'ratio':>6s} "
          f"{'seqkit GF/s':>11s} {'% peak':>6s} {'torch GF/s':>10s}")
    for cell, layers, hidden, batch in configs:
        steps = {"seqkit": SeqkitStep(cell, layers, hidden, batch), "torch": TorchStep(cell, layers, hidden, batch)}
        for step in steps.values():
            step()
            step()
        rates = {name: [] for name in steps}
        for _ in range(OPTIONS.rounds):
            for name, step in steps.items():
                rates[name].append(tokens_per_second(step, batch))
        ours, theirs = (float(np.median(rates[n])) for n in ("seqkit", "torch"))
        flops = flops_per_token(cell, layers, hidden)
        print(f"{cell} {layers}x{hidden} batch {batch:<3d}{'':8s} {ours:13,.0f} {theirs:12,.0f} "
              f"{ours / theirs:6.2f} {ours * flops / 1e9:11.1f} {100 * ours * flops / 1e9 / peak:5.0f}% "
              f"{theirs * flops / 1e9:10.1f}", flush=True)


if __name__ == "__main__":
    main()
