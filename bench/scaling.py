"""Data-parallel scaling on one machine: seqkit's training step in one process with 1 and with 2
BLAS threads, against two processes (`mpiexec -n 2`, seqkit.training.group) with one thread each, at
the same global batch; with the bytes the processes sum per step and the share of a step spent
in that Allreduce.

    pip install ".[mpi]" threadpoolctl
    python bench/scaling.py              # the matrix's LSTM rows at batch 32 and 64, about 10 minutes
    python bench/scaling.py --quick      # 2x256 and 2x512 at batch 32 and 64, about 3 minutes

Each figure is a fresh job; the three setups take turns, medians of --rounds. A step is the
Trainer's own (seqkit.training.trainer.Trainer._train_step: embedding, layers, softmax cross-entropy,
backward, the Allreduce, clipping to norm 5, Adam), vocabulary 65, embedding = hidden, T 100.

Then a model on paper for many machines, each a machine like this one (one process with 2
threads) keeping its batch, the global batch growing with them: a step takes the measured
compute plus a ring Allreduce of the summed bytes, 2 (N - 1) / N x bytes / bandwidth, plus
2 (N - 1) x LATENCY; the efficiency is compute / (compute + Allreduce).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import cpu_model

ROWS = [(layers, hidden, batch) for layers in (1, 2) for hidden in (128, 256, 512) for batch in (32, 64)]
QUICK = [(2, 256, 32), (2, 256, 64), (2, 512, 32), (2, 512, 64)]
SETUPS = {"1 process, 1 thread": (1, 1), "1 process, 2 threads": (1, 2), "2 processes, 1 thread each": (2, 1)}
SEQ_LEN = 100
MACHINES, GBITS, LATENCY = (8, 64), (10, 100), 50e-6  # per ring step: a TCP round on Ethernet


def ring_allreduce_s(nbytes, machines, gbits):
    return 2 * (machines - 1) / machines * nbytes / (gbits * 1e9 / 8) + 2 * (machines - 1) * LATENCY


class TimedGroup:
    """A seqkit.training.group group whose sum() calls are timed."""

    def __init__(self, group):
        self.group, self.rank, self.size = group, group.rank, group.size
        self.seconds, self.calls, self.bytes = 0.0, 0, 0

    def __getattr__(self, name):
        return getattr(self.group, name)

    def sum(self, array):
        start = time.perf_counter()
        self.group.sum(array)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        self.bytes = array.nbytes


def worker(cell, layers, hidden, batch, seconds):
    """Time the Trainer's step; rank 0 prints tokens/s and the Allreduce's share as JSON."""
    import numpy as np

    from seqkit import TrainConfig
    from seqkit.runs.directory import shipped_corpus
    from seqkit.text.corpus import read_text
    from seqkit.text.vocab import build_vocab
    from seqkit.training.group import current_group
    from seqkit.training.trainer import Trainer

    group = TimedGroup(current_group())
    config = TrainConfig(cell=cell, layers=layers, hidden=hidden, embed=hidden, batch_size=batch,
                         seq_len=SEQ_LEN, dropout=0.0, seed=0)
    text = read_text(shipped_corpus())
    vocab = build_vocab(text, config.text)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, run_dir, vocab, vocab.encode(text), group)
        start = time.perf_counter()
        for _ in range(3):
            trainer._train_step()
        steps = np.array([max(3.0, seconds / ((time.perf_counter() - start) / 3))])
        group.broadcast(steps)  # every process runs rank 0's count
        group.seconds, group.calls = 0.0, 0
        group.sum(np.zeros(1))  # start together
        start = time.perf_counter()
        for _ in range(int(steps[0])):
            trainer._train_step()
        elapsed = time.perf_counter() - start
    if group.rank == 0:
        per_step = elapsed / int(steps[0])
        print(json.dumps({"tokens_per_s": batch * SEQ_LEN / per_step, "step_ms": 1e3 * per_step,
                          "allreduce_bytes": group.bytes if group.size > 1 else 0,
                          "allreduce_share": group.seconds / max(group.calls, 1) / per_step if group.size > 1 else 0,
                          "blas": blas()}), flush=True)


def blas():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl to see)"
    return ", ".join(sorted({f"{i['internal_api']} {i.get('architecture') or ''} {i['num_threads']} threads"
                             for i in threadpool_info()}))


def measure(row, setup, seconds, mpiexec):
    processes, threads = SETUPS[setup]
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)  # OpenBLAS's own choice of kernels, as bench/train_speed.py
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[variable] = str(threads)
    command = [sys.executable, __file__, "--worker", "lstm", *map(str, row), str(seconds)]
    if processes > 1:
        command = [mpiexec, "-n", str(processes)] + command
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="four rows")
    parser.add_argument("--rounds", type=int, default=3, help="turns of the three setups per row")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per figure")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        cell, *numbers, seconds = options.worker
        return worker(cell, *map(int, numbers), float(seconds))
    mpiexec = shutil.which("mpiexec", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if mpiexec is None:
        sys.exit('needs mpiexec: pip install ".[mpi]"')
    print(f"{cpu_model()}; {os.cpu_count()} CPUs; LSTM, vocabulary 65, embedding = hidden, T {SEQ_LEN}; "
          f"medians of {options.rounds}")
    names = list(SETUPS)
    print(f"{'LSTM':<22}" + "".join(f"{name:>28}" for name in names) + f"{'2 proc / 1x1':>14}{'2 proc / 1x2':>14}"
          f"{'summed MiB':>12}{'allreduce':>11}")
    on_paper = []
    for row in QUICK if options.quick else ROWS:
        figures = {name: [] for name in names}
        for _ in range(options.rounds):
            for name in names:
                figures[name].append(measure(row, name, options.seconds, mpiexec))
                time.sleep(0.5)
        speed = {name: statistics.median(f["tokens_per_s"] for f in figures[name]) for name in names}
        parallel = figures[names[2]]
        share = statistics.median(f["allreduce_share"] for f in parallel)
        layers, hidden, batch = row
        print(f"{f'{layers}x{hidden} batch {batch}':<22}" + "".join(f"{speed[name]:>22,.0f} tok/s" for name in names)
              + f"{speed[names[2]] / speed[names[0]]:>14.2f}{speed[names[2]] / speed[names[1]]:>14.2f}"
              + f"{parallel[0]['allreduce_bytes'] / 2**20:>12.2f}{share:>10.1%}", flush=True)
        on_paper.append((row, batch * SEQ_LEN / speed[names[1]], parallel[0]["allreduce_bytes"]))
    print("BLAS:", figures[names[0]][0]["blas"], "/", figures[names[2]][0]["blas"])
    print(f"\nOn paper: N machines like this one, each at the row's batch; efficiency (latency "
          f"{LATENCY * 1e6:.0f} us per ring step)")
    print(f"{'LSTM':<22}{'compute ms':>11}" + "".join(f"{f'{n} x {g} Gbit/s':>17}" for n in MACHINES for g in GBITS))
    for (layers, hidden, batch), compute, nbytes in on_paper:
        print(f"{f'{layers}x{hidden} batch {batch}':<22}{compute * 1e3:>11.1f}" + "".join(
            f"{compute / (compute + ring_allreduce_s(nbytes, n, g)):>17.1%}" for n in MACHINES for g in GBITS))


if __name__ == "__main__":
    main()
